// The exporter's layout against files written the way llama.cpp's convert_hf_to_gguf.py writes
// them, independently of our code (test/fixtures/gguf/tiny/*.gguf, scripts/reference/
// gguf_tiny_models.py: gguf-py's tensor name map, llama.cpp's Q/K permute, Gemma's +1 norms,
// llama.cpp's metadata keys and rope_freqs): each tiny file is imported (float32) and exported
// again in f16. The export has the original's tensor names and shapes, bit-identical F16
// matrices (Q/K rows permuted back exactly as llama.cpp permutes them), its F32 vectors within
// one float32 rounding of the +1 / -1, and the original's architecture metadata values.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exportGguf } from '../../src/api/export-gguf.js';
import { planConversion, writeConfigs, writeWeights } from '../../src/gguf/convert.js';
import { dequantize } from '../../src/gguf/dequant.js';
import { ggmlTypeName } from '../../src/gguf/ggml-types.js';
import { readGguf, readTensorBytes, tensorElements, type GgufFile } from '../../src/gguf/reader.js';
import { BYTE_TO_CHAR } from '../../src/gguf/tokenizer-byte-level.js';

const TINY = join(import.meta.dirname, '..', 'fixtures', 'gguf', 'tiny');
const cases = readdirSync(TINY).filter((f) => f.endsWith('.gguf')).map((f) => f.replace(/\.gguf$/, ''));
const work = mkdtempSync(join(tmpdir(), 'nq-gguf-layout-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A byte-level tokenizer with one token per vocabulary row (the tiny files carry none). */
function writeTokenizer(dir: string, rows: number): void {
  const vocab = Object.fromEntries(BYTE_TO_CHAR.slice(0, rows).map((c, i) => [c, i]));
  const tokenizer = { version: '1.0', model: { type: 'BPE', vocab, merges: [] }, pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true }, decoder: { type: 'ByteLevel' }, added_tokens: [] };
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
}

async function values(file: GgufFile, name: string): Promise<Float32Array> {
  const t = file.tensors.find((x) => x.name === name)!;
  return dequantize(t.type, await readTensorBytes(file, t), tensorElements(t), name);
}

describe.each(cases)('%s: import then export', (name) => {
  it("gives back llama.cpp's names, shapes, F16 bytes, norms and architecture metadata", async () => {
    const original = await readGguf(join(TINY, `${name}.gguf`));
    const dir = join(work, name);
    const plan = await planConversion(original, 'float32');
    await writeWeights(plan, dir);
    await writeConfigs(plan, dir);
    writeTokenizer(dir, plan.config.vocab_size as number);
    const out = join(work, `${name}.gguf`);
    await exportGguf(dir, out, { quant: 'f16' });
    const exported = await readGguf(out);

    const table = (f: GgufFile) => f.tensors.map((t) => `${t.name} ${t.shape.join('x')} ${ggmlTypeName(t.type)}`).sort();
    expect(table(exported)).toEqual(table(original));
    for (const t of original.tensors) {
      if (ggmlTypeName(t.type) === 'F16') {
        const mine = exported.tensors.find((x) => x.name === t.name)!;
        expect(Buffer.compare(await readTensorBytes(exported, mine), await readTensorBytes(original, t)), t.name).toBe(0);
      } else {
        const a = await values(original, t.name);
        const b = await values(exported, t.name);
        const diff = a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!) / Math.max(1, Math.abs(v))), 0);
        expect(diff, t.name).toBeLessThanOrEqual(2 ** -22);
      }
    }
    const arch = original.metadata['general.architecture'] as string;
    for (const [key, value] of Object.entries(original.metadata)) {
      if (!key.startsWith(`${arch}.`)) continue;
      expect(exported.metadata[key], key).toEqual(value);
    }
  });
});
