// mergeAdapterCheckpoint (sft merge's API): the merged folder's logits equal adapter-on-base
// (float32 on CPU; bfloat16 within its rounding), 4-bit bases are dequantized, the dtype is the
// one asked for, and a merged weight that overflows the output dtype names the adapter tensors.
import { copyFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mergeAdapterCheckpoint } from '../../src/api/merge.js';
import { loadModel } from '../../src/api/model.js';
import { native } from '../../src/native.js';
import { BNB_FIXTURES, MODEL_FIXTURES, maxAbsDiff, readReference } from '../helpers/fixtures.js';

const ADAPTER = join(import.meta.dirname, '..', 'fixtures', 'lora', 'llama', 'adapter_trained');
const TOKENIZER = join(import.meta.dirname, '..', 'fixtures', 'tokenizers', 'tiny-chatml');
const sequences = readReference('llama').sequences;
let work: string;
let base: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'nq-merge-ckpt-'));
  // The tiny model with a tokenizer beside it, as a real checkpoint has.
  base = join(work, 'base');
  cpSync(join(MODEL_FIXTURES, 'llama'), base, { recursive: true });
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(TOKENIZER, f), join(base, f));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function adapterOnBase(dir: string) {
  const model = await loadModel(dir, { device: 'cpu' });
  await model.loadAdapter(ADAPTER);
  return model;
}

describe('mergeAdapterCheckpoint', () => {
  it('float32: logits and greedy tokens of adapter-on-base; tokenizer and generation files carried', async () => {
    const out = join(work, 'f32');
    const result = await mergeAdapterCheckpoint(base, ADAPTER, out, { dtype: 'float32', device: 'cpu' });
    expect(result.merged).toBeGreaterThan(0);
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'config.json']) expect(existsSync(join(out, f))).toBe(true);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config.dtype ?? config.torch_dtype).toBe('float32');
    // Float literals stay floats (transformers rejects gemma2's final_logit_softcapping written as 8).
    const text = readFileSync(join(out, 'config.json'), 'utf8');
    for (const literal of ['"rms_norm_eps": 1e-05', '"rope_theta": 10000.0', '"factor": 8.0']) expect(text).toContain(literal);
    await using ref = await adapterOnBase(base);
    await using merged = await loadModel(out, { device: 'cpu' });
    for (const seq of sequences) {
      const a = await ref.logits([seq]);
      const b = await merged.logits([seq]);
      const scale = a.data.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      expect(maxAbsDiff(a.data, 0, b.data, 0, a.data.length)).toBeLessThanOrEqual(1e-5 * scale);
      const opts = { maxNewTokens: 8, eosTokenIds: [] };
      expect(await merged.generate([seq], opts)).toEqual(await ref.generate([seq], opts));
    }
  });

  it('default bfloat16, from an NF4 base: every tensor BF16, logits within bf16 rounding', async () => {
    const out = join(work, 'nf4-bf16');
    const result = await mergeAdapterCheckpoint(join(BNB_FIXTURES, 'llama_nf4'), ADAPTER, out, { device: 'cpu' });
    expect(result.dtype).toBe('bfloat16');
    const tensors = native().safetensors.inspect(join(out, 'model.safetensors')).tensors;
    expect(new Set(tensors.map((t) => t.dtype))).toEqual(new Set(['BF16']));
    expect(tensors.some((t) => /absmax|quant_map|quant_state/.test(t.name))).toBe(false);
    await using ref = await adapterOnBase(join(BNB_FIXTURES, 'llama_nf4'));
    await using merged = await loadModel(out, { device: 'cpu' });
    const a = await ref.logits([sequences[0]!]);
    const b = await merged.logits([sequences[0]!]);
    const scale = a.data.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    const diff = maxAbsDiff(a.data, 0, b.data, 0, a.data.length);
    expect(diff).toBeLessThanOrEqual(3e-2 * scale);
    expect(diff).toBeGreaterThan(0); // bf16 rounding happened: the dtype was applied
  });

  it('a delta that overflows float16 is MERGE_NONFINITE naming the adapter tensors; no checkpoint is left', async () => {
    const adapter = join(work, 'huge-adapter');
    cpSync(ADAPTER, adapter, { recursive: true });
    const file = join(adapter, 'adapter_model.safetensors');
    const st = native().safetensors;
    const names = st.inspect(file).tensors.map((t) => t.name);
    const record: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
    const victim = names.find((n) => n.includes('k_proj.lora_B'))!;
    for (const name of names) {
      const t = st.read(file, name);
      const values = new Float32Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength));
      if (name === victim) values.fill(1e20); // finite in float32, B @ A far beyond float16's 65504
      record[name] = { dtype: 'F32', shape: t.shape, data: values };
    }
    expect(st.inspect(file).tensors[0]!.dtype).toBe('F32');
    await st.write(file, record, { format: 'pt' });
    const out = join(work, 'overflow');
    const err = await mergeAdapterCheckpoint(base, adapter, out, { dtype: 'float16', device: 'cpu' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'MERGE_NONFINITE' });
    const message = (err as Error).message;
    expect(message).toContain(victim);
    expect(message).toContain(victim.replace('lora_B', 'lora_A'));
    expect(message).toMatch(/float16 overflows/);
    expect(existsSync(join(out, 'config.json'))).toBe(false);
    expect(existsSync(join(out, 'model.safetensors'))).toBe(false);
    // The same adapter merges in float32.
    await expect(mergeAdapterCheckpoint(base, adapter, join(work, 'overflow-f32'), { dtype: 'float32', device: 'cpu' })).resolves.toMatchObject({ dtype: 'float32' });
  });

  it('refuses --out equal to the model or the adapter, and a folder without an adapter', async () => {
    await expect(mergeAdapterCheckpoint(base, ADAPTER, base)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(mergeAdapterCheckpoint(base, ADAPTER, ADAPTER)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(mergeAdapterCheckpoint(base, base, join(work, 'x'))).rejects.toMatchObject({ code: 'FILE_NOT_FOUND', message: expect.stringContaining('adapter_model.safetensors') });
  });
});
