// The GGUF writer against our reader (reader.ts, itself checked against gguf-py's files): header,
// typed metadata, tensor table, 32-byte alignment of every tensor; a tensor whose bytes do not
// match its type and shape fails and leaves no file. And the --quant type choice, which mirrors
// llama-quantize's llama_tensor_get_type for Q4_K_M on a 16-layer model (Llama 3.2 1B's depth).
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GgmlType } from '../../src/gguf/dequant.js';
import { writeGgufFile, type GgufMetaValue, type GgufTensorSpec } from '../../src/gguf/export/gguf-writer.js';
import { tensorType } from '../../src/gguf/export/tensor-plan.js';
import { ggmlTypeName } from '../../src/gguf/ggml-types.js';
import { readGguf, readTensorBytes } from '../../src/gguf/reader.js';

const work = mkdtempSync(join(tmpdir(), 'nq-gguf-writer-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('writeGgufFile', () => {
  it('writes what reader.ts reads: values, tensor table, aligned data', async () => {
    const path = join(work, 'small.gguf');
    const metadata: [string, GgufMetaValue][] = [
      ['general.architecture', { type: 'string', value: 'llama' }],
      ['a.u32', { type: 'u32', value: 7 }],
      ['a.f32', { type: 'f32', value: 0.1 }],
      ['a.bool', { type: 'bool', value: false }],
      ['a.list', { type: 'array', itemType: 'string', value: ['x', 'y'] }],
    ];
    const tensors: GgufTensorSpec[] = [
      { name: 'v', shape: [5], type: GgmlType.F32 }, // 20 bytes, then 12 of padding
      { name: 'm', shape: [32, 3], type: GgmlType.Q8_0 },
    ];
    const data = [new Uint8Array(20).fill(1), new Uint8Array(3 * 34).fill(2)];
    const { bytes } = await writeGgufFile(path, metadata, tensors, async (i) => data[i]!);
    const file = await readGguf(path);
    expect(file.version).toBe(3);
    expect(file.size).toBe(bytes);
    expect(file.metadata).toEqual({ 'general.architecture': 'llama', 'a.u32': 7, 'a.f32': Math.fround(0.1), 'a.bool': false, 'a.list': ['x', 'y'] });
    expect(file.tensors.map((t) => [t.name, t.shape, ggmlTypeName(t.type), t.bytes])).toEqual([
      ['v', [5], 'F32', 20],
      ['m', [32, 3], 'Q8_0', 102],
    ]);
    expect(file.tensors[1]!.offset - file.tensors[0]!.offset).toBe(32);
    for (const [i, t] of file.tensors.entries()) expect(new Uint8Array(await readTensorBytes(file, t))).toEqual(data[i]);
  });

  it('refuses bytes that do not fit the type and shape, and rows that are not whole blocks, leaving no file', async () => {
    const path = join(work, 'bad.gguf');
    await expect(writeGgufFile(path, [], [{ name: 'm', shape: [32, 2], type: GgmlType.Q4_0 }], async () => new Uint8Array(10))).rejects.toThrow(/tensor m: encoded 10 bytes, its type and shape need 36/);
    await expect(writeGgufFile(path, [], [{ name: 'k', shape: [100, 2], type: GgmlType.Q4_K }], async () => new Uint8Array(0))).rejects.toThrow(/rows of 100 values are not whole Q4_K blocks of 256/);
    expect(existsSync(path)).toBe(false);
    expect(readdirSync(work).filter((f) => f.startsWith('bad.gguf'))).toEqual([]);
  });
});

describe("tensorType: llama-quantize's choices", () => {
  const name = (t: number) => ggmlTypeName(t);
  it('q4_k_m on 16 layers: attn_v and ffn_down in Q6_K on layers 0, 1, 4, 7, 10, 13, 14, 15; output Q6_K; the rest Q4_K; vectors F32', () => {
    const six = Array.from({ length: 16 }, (_, i) => i).filter((i) => name(tensorType('q4_k_m', `blk.${i}.attn_v.weight`, [512, 2048], 16, true)) === 'Q6_K');
    expect(six).toEqual([0, 1, 4, 7, 10, 13, 14, 15]);
    expect(name(tensorType('q4_k_m', 'blk.4.ffn_down.weight', [2048, 8192], 16, true))).toBe('Q6_K');
    expect(name(tensorType('q4_k_m', 'blk.5.ffn_down.weight', [2048, 8192], 16, true))).toBe('Q4_K');
    expect(name(tensorType('q4_k_m', 'blk.0.attn_q.weight', [2048, 2048], 16, true))).toBe('Q4_K');
    expect(name(tensorType('q4_k_m', 'token_embd.weight', [128256, 2048], 16, true))).toBe('Q6_K'); // tied: it is the output
    expect(name(tensorType('q4_k_m', 'token_embd.weight', [128256, 2048], 16, false))).toBe('Q4_K');
    expect(name(tensorType('q4_k_m', 'blk.0.attn_norm.weight', [2048], 16, true))).toBe('F32');
  });

  it('fallbacks for rows that are not whole blocks: Q4_K -> Q5_0, Q6_K -> Q8_0, else F16', () => {
    expect(name(tensorType('q4_k_m', 'blk.0.attn_q.weight', [64, 64], 2, false))).toBe('Q5_0');
    expect(name(tensorType('q4_k_m', 'output.weight', [320, 64], 2, false))).toBe('Q8_0');
    expect(name(tensorType('q4_0', 'output.weight', [320, 256], 2, false))).toBe('Q6_K');
    expect(name(tensorType('q8_0', 'blk.0.attn_q.weight', [48, 40], 2, false))).toBe('F16');
    expect(name(tensorType('f16', 'blk.0.attn_q.weight', [48, 40], 2, false))).toBe('F16');
  });
});
