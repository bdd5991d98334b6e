// Files written by the GGUF exporter read back by gguf-py (the `gguf` package's GGUFReader,
// scripts/reference/gguf_export_check.py) and by our reader: the same version, metadata keys,
// value types and values, tensor names, types and shapes, and the same float32 values
// dequantized by gguf-py and by dequant.ts. One synthetic file holds every value type and
// every tensor type the exporter writes (Q4_K and Q6_K included, which the tiny models' rows of
// 64 never reach); two model exports cover the real metadata and tokenizer keys.
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportGguf } from '../../src/api/export-gguf.js';
import { dequantize, GgmlType } from '../../src/gguf/dequant.js';
import { writeGgufFile, type GgufMetaValue, type GgufTensorSpec } from '../../src/gguf/export/gguf-writer.js';
import { quantizeQ4_K, quantizeQ6_K } from '../../src/gguf/export/quantize-k.js';
import { quantizeQ4_0, quantizeQ5_0, quantizeQ8_0 } from '../../src/gguf/export/quantize-legacy.js';
import { encodeValues } from '../../src/gguf/export/tensor-values.js';
import { ggmlTypeName } from '../../src/gguf/ggml-types.js';
import { readGguf, readTensorBytes, tensorElements } from '../../src/gguf/reader.js';
import { DEMO_MODEL_DIR } from '../../src/hub/resolve.js';
import { MODEL_FIXTURES } from '../helpers/fixtures.js';
import { NEED, skipWithout } from '../helpers/skip.js';

const CHECK = join(import.meta.dirname, '..', '..', 'scripts', 'reference', 'gguf_export_check.py');
const python = spawnSync('python3', ['-c', 'import gguf, numpy'], { encoding: 'utf8' });
const ready = !skipWithout(python.status === 0, 'gguf-py reads the exported GGUF files', NEED.pythonReference);
const work = mkdtempSync(join(tmpdir(), 'nq-gguf-readback-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface PyFile {
  version: number;
  metadata: Record<string, { type: string[]; value: unknown }>;
  tensors: { name: string; type: string; shape: number[]; sha256: string }[];
}

const PY_TYPE: Record<GgufMetaValue['type'], string> = { u32: 'UINT32', i32: 'INT32', f32: 'FLOAT32', u64: 'UINT64', bool: 'BOOL', string: 'STRING', array: 'ARRAY' };

function sha(values: Float32Array): string {
  return createHash('sha256').update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength)).digest('hex');
}

/** Our reader's view of a file, in gguf_export_check.py's shape (values dequantized by dequant.ts). */
async function ours(path: string) {
  const file = await readGguf(path);
  const tensors = [];
  for (const t of file.tensors) {
    tensors.push({ name: t.name, type: ggmlTypeName(t.type), shape: t.shape, sha256: sha(dequantize(t.type, await readTensorBytes(file, t), tensorElements(t), t.name)) });
  }
  return { version: file.version, metadata: file.metadata, tensors };
}

function ggufPy(paths: string[]): PyFile[] {
  return JSON.parse(execFileSync('python3', [CHECK, ...paths], { encoding: 'utf8', maxBuffer: 1 << 28 })) as PyFile[];
}

/** Compares a file as gguf-py reads it with our reader; f32 metadata as float32. */
async function expectSameReading(path: string, py: PyFile): Promise<void> {
  const mine = await ours(path);
  expect(py.version).toBe(3);
  expect(mine.version).toBe(3);
  expect(Object.keys(py.metadata).sort()).toEqual(Object.keys(mine.metadata).sort());
  for (const [key, { type, value }] of Object.entries(py.metadata)) {
    const got = mine.metadata[key];
    const f32 = type.includes('FLOAT32');
    const norm = (v: unknown): unknown => (Array.isArray(v) ? v.map(norm) : f32 && typeof v === 'number' ? Math.fround(v) : v);
    expect(norm(got), key).toEqual(norm(value));
  }
  expect(py.tensors).toEqual(mine.tensors);
}

describe.skipIf(!ready)('gguf-py reads what the exporter writes', () => {
  let synthetic: string;
  let metadata: [string, GgufMetaValue][];
  beforeAll(async () => {
    synthetic = join(work, 'all-types.gguf');
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 3;
    const x = Float32Array.from({ length: 512 }, random);
    const encoders: [number, (v: Float32Array) => Uint8Array][] = [
      [GgmlType.F32, (v) => encodeValues(v, 'float32')],
      [GgmlType.F16, (v) => encodeValues(v, 'float16')],
      [GgmlType.BF16, (v) => encodeValues(v, 'bfloat16')],
      [GgmlType.Q8_0, quantizeQ8_0],
      [GgmlType.Q4_0, quantizeQ4_0],
      [GgmlType.Q5_0, quantizeQ5_0],
      [GgmlType.Q4_K, quantizeQ4_K],
      [GgmlType.Q6_K, quantizeQ6_K],
    ];
    const specs: GgufTensorSpec[] = encoders.map(([type]) => ({ name: `t.${ggmlTypeName(type)}`, shape: [256, 2], type }));
    specs.push({ name: 'odd.vector', shape: [3], type: GgmlType.F32 }); // 12 bytes: the next tensor is padded to 32
    metadata = [
      ['general.architecture', { type: 'string', value: 'llama' }],
      ['test.u32', { type: 'u32', value: 4294967295 }],
      ['test.i32', { type: 'i32', value: -7 }],
      ['test.f32', { type: 'f32', value: 1e-5 }],
      ['test.u64', { type: 'u64', value: 2 ** 40 }],
      ['test.bool', { type: 'bool', value: true }],
      ['test.text', { type: 'string', value: 'ünïcode ▁ and "quotes"\n' }],
      ['test.strings', { type: 'array', itemType: 'string', value: ['a', '', 'Ġb c', '<0x0A>'] }],
      ['test.ints', { type: 'array', itemType: 'i32', value: [1, -2, 3] }],
      ['test.floats', { type: 'array', itemType: 'f32', value: [0.5, -1e-3, 3e4] }],
    ];
    const data = [...encoders.map(([, enc]) => enc(x.slice())), encodeValues(Float32Array.of(1, 2, 3), 'float32')];
    await writeGgufFile(synthetic, metadata, [...specs.slice(0, 8), specs[8]!], async (i) => data[i]!);
  });

  it('a file with every value type and every tensor type the exporter writes', async () => {
    const [py] = ggufPy([synthetic]);
    for (const [key, v] of metadata) expect(py!.metadata[key]!.type[0], key).toBe(PY_TYPE[v.type]);
    expect(py!.tensors.map((t) => t.type)).toEqual(['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q5_0', 'Q4_K', 'Q6_K', 'F32']);
    await expectSameReading(synthetic, py!);
  });

  it('model exports: the demo model in q4_k_m, a tiny Qwen3 with its adapter merged in f16', async () => {
    const demo = join(work, 'demo');
    cpSync(DEMO_MODEL_DIR, demo, { recursive: true });
    const qwen = join(work, 'qwen3');
    cpSync(join(MODEL_FIXTURES, 'qwen3'), qwen, { recursive: true });
    const tok = join(import.meta.dirname, '..', 'fixtures', 'tokenizers', 'tiny-chatml');
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(tok, f), join(qwen, f));
    const files = [join(work, 'demo-q4_k_m.gguf'), join(work, 'qwen3-f16.gguf')];
    await exportGguf(demo, files[0]!, { quant: 'q4_k_m' });
    await exportGguf(qwen, files[1]!, { quant: 'f16', adapter: join(import.meta.dirname, '..', 'fixtures', 'lora', 'qwen3', 'adapter_trained'), device: 'cpu' });
    const py = ggufPy(files);
    for (const [i, f] of files.entries()) await expectSameReading(f, py[i]!);
    expect(py[0]!.metadata['tokenizer.ggml.model']!.value).toBe('gpt2');
    expect(py[0]!.metadata['tokenizer.chat_template']!.value).toContain('<|im_start|>');
    expect(py[1]!.metadata['general.architecture']!.value).toBe('qwen3');
  });
});
