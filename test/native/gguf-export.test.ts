// exportGguf round trip on every family the GGUF importer reads (tiny random checkpoints, with
// the tiny ChatML tokenizer beside them; a trained adapter merged where a fixture exists): the
// file read back by our importer (float32) computes the merged model. f16: the same greedy
// tokens and logits within 1e-3 of the logit scale (the weights are bf16 / fp32 values that
// f16 holds, or nearly). Quantized, stated tolerances as max |logit diff| / logit scale:
//   tiny random models (hidden 64, every 4-bit tensor falls back to Q5_0 / Q8_0 as in
//   llama-quantize): q4_k_m 0.5 (random weights amplify the error);
//   the trained demo model (hidden 128): q8_0 0.02 (and the same greedy tokens), q4_0 0.1, q4_k_m 0.05;
//   a random Qwen3 with rows of 256 (real Q4_K / Q6_K, llama-quantize's per-tensor types): q4_k_m 0.25, q4_0 0.3.
// A 4-bit bitsandbytes base is dequantized first. Also: what GGUF cannot express is refused naming the field; a Mistral window is dropped with a note.
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exportGguf } from '../../src/api/export-gguf.js';
import { importGguf } from '../../src/api/import-gguf.js';
import { mergeAdapterCheckpoint } from '../../src/api/merge.js';
import { loadModel } from '../../src/api/model.js';
import { DEMO_MODEL_DIR } from '../../src/hub/resolve.js';
import { ggmlTypeName } from '../../src/gguf/ggml-types.js';
import { readGguf } from '../../src/gguf/reader.js';
import { native } from '../../src/native.js';
import type { ExportQuant } from '../../src/gguf/export/tensor-plan.js';
import { BNB_FIXTURES, MODEL_FIXTURES } from '../helpers/fixtures.js';

const LORA = join(import.meta.dirname, '..', 'fixtures', 'lora');
const TOKENIZER = join(import.meta.dirname, '..', 'fixtures', 'tokenizers', 'tiny-chatml');
const work = mkdtempSync(join(tmpdir(), 'nq-gguf-export-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const IDS = [1, 5, 9, 3, 17, 22, 40, 2, 7, 11, 60, 33];

/** GGUF stores what llama.cpp derives for Gemma: query_pre_attn_scalar = head_dim, Gemma 3's sliding pattern 6. */
function gemmaAsLlamaCpp(c: Record<string, unknown>): void {
  const t = (c.text_config as Record<string, unknown> | undefined) ?? c;
  t.query_pre_attn_scalar = t.head_dim;
  delete t.sliding_window_pattern;
  const n = t.num_hidden_layers as number;
  const gemma2 = c.model_type === 'gemma2';
  if (t.layer_types) t.layer_types = Array.from({ length: n }, (_, i) => ((gemma2 ? i % 2 === 0 : (i + 1) % 6 !== 0) ? 'sliding_attention' : 'full_attention'));
}

/** A copy of a fixture with the tokenizer files; `edit` changes its config.json. */
function checkpoint(name: string, edit?: (c: Record<string, unknown>) => void): string {
  const dir = join(work, `${name}-base`);
  cpSync(join(MODEL_FIXTURES, name), dir, { recursive: true });
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(TOKENIZER, f), join(dir, f));
  if (edit) {
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    edit(config);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  }
  return dir;
}

async function logitsAndTokens(dir: string, ids: number[]): Promise<{ logits: Float32Array; tokens: number[][] }> {
  await using model = await loadModel(dir, { device: 'cpu', dtype: 'float32' });
  return { logits: (await model.logits([ids])).data, tokens: await model.generate([ids], { maxNewTokens: 8, eosTokenIds: [] }) };
}

function relDiff(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(a[i]!));
  }
  return diff / scale;
}

async function roundTrip(dir: string, quant: ExportQuant, adapter: string | undefined, tag: string) {
  const file = join(work, `${tag}-${quant}.gguf`);
  const result = await exportGguf(dir, file, { quant, ...(adapter ? { adapter, device: 'cpu' as const } : {}) });
  const imported = await importGguf(file, join(work, `${tag}-${quant}-imported`), { dtype: 'float32' });
  return { result, ...(await logitsAndTokens(imported.outDir, IDS)) };
}

const FAMILIES: [string, string | undefined, ((c: Record<string, unknown>) => void) | undefined][] = [
  ['llama_tied', undefined, undefined],
  ['mistral_nowindow', 'mistral', undefined],
  ['qwen2', undefined, undefined],
  ['qwen3', 'qwen3', undefined],
  ['gemma', undefined, undefined],
  ['gemma2', undefined, gemmaAsLlamaCpp],
  ['gemma3_text', 'gemma3_text', gemmaAsLlamaCpp],
  ['gemma3', undefined, gemmaAsLlamaCpp],
];
const TINY_TOLERANCE: Partial<Record<ExportQuant, number>> = { q4_k_m: 0.5 };

describe.each(FAMILIES)('%s (adapter: %s) exported to GGUF and imported back', (name, adapterName, edit) => {
  const base = checkpoint(name, edit);
  const adapter = adapterName ? join(LORA, adapterName, 'adapter_trained') : undefined;
  let merged: { logits: Float32Array; tokens: number[][] };

  it('f16: the merged model\'s greedy tokens, logits within 1e-3 of the scale; llama.cpp\'s f16 layout', async () => {
    const mergedDir = adapter ? (await mergeAdapterCheckpoint(base, adapter, join(work, `${name}-merged`), { dtype: 'float32', device: 'cpu' })).outDir : base;
    merged = await logitsAndTokens(mergedDir, IDS);
    const got = await roundTrip(base, 'f16', adapter, name);
    expect(got.tokens).toEqual(merged.tokens);
    expect(relDiff(merged.logits, got.logits)).toBeLessThanOrEqual(1e-3);
    expect(Object.keys(got.result.types).sort()).toEqual(['F16', 'F32']);
  });

  it.each(Object.keys(TINY_TOLERANCE) as ExportQuant[])('%s: logits within the stated tolerance', async (quant) => {
    const got = await roundTrip(base, quant, adapter, name);
    expect(relDiff(merged.logits, got.logits)).toBeLessThanOrEqual(TINY_TOLERANCE[quant]!);
    // hidden 64 is no whole 256-block: llama-quantize's fallbacks (Q4_K -> Q5_0, Q6_K -> Q8_0).
    const want = quant === 'q8_0' ? ['F32', 'Q8_0'] : quant === 'q4_0' ? ['F32', 'Q4_0', 'Q8_0'] : ['F32', 'Q5_0', 'Q8_0'];
    expect(Object.keys(got.result.types).sort()).toEqual(want);
  });
});

describe('the trained demo model', () => {
  const base = join(work, 'demo');
  cpSync(DEMO_MODEL_DIR, base, { recursive: true });
  let ref: { logits: Float32Array; tokens: number[][] };
  it.each([
    ['f16', 1e-3],
    ['q8_0', 0.02],
    ['q4_0', 0.1],
    ['q4_k_m', 0.05],
  ] as const)('%s: logits within %s of the scale (f16, q8_0: the same greedy tokens)', async (quant, tolerance) => {
    ref ??= await logitsAndTokens(base, IDS);
    const got = await roundTrip(base, quant, undefined, 'demo');
    if (quant === 'f16' || quant === 'q8_0') expect(got.tokens).toEqual(ref.tokens);
    expect(relDiff(ref.logits, got.logits)).toBeLessThanOrEqual(tolerance);
  });
});

/** A random Qwen3 checkpoint whose rows are whole 256-value super-blocks, so Q4_K and Q6_K are used. */
async function wideCheckpoint(): Promise<string> {
  const dir = join(work, 'qwen3-wide');
  cpSync(join(MODEL_FIXTURES, 'qwen3'), dir, { recursive: true });
  rmSync(join(dir, 'model.safetensors'));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(TOKENIZER, f), join(dir, f));
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  Object.assign(config, { hidden_size: 256, intermediate_size: 512, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 64, vocab_size: 320, tie_word_embeddings: false, layer_types: Array(4).fill('full_attention') });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  let seed = 12345;
  const normal = (std: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const u = (seed + 1) / (2 ** 31 + 1);
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const v = seed / 2 ** 31;
    return std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  const tensors: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {};
  const add = (name: string, shape: number[], std: number, mean = 0) => {
    tensors[name] = { dtype: 'F32', shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => mean + normal(std)) };
  };
  add('model.embed_tokens.weight', [320, 256], 1);
  add('lm_head.weight', [320, 256], 0.06);
  add('model.norm.weight', [256], 0.1, 1);
  for (let i = 0; i < 4; i++) {
    const p = `model.layers.${i}`;
    add(`${p}.input_layernorm.weight`, [256], 0.1, 1);
    add(`${p}.post_attention_layernorm.weight`, [256], 0.1, 1);
    add(`${p}.self_attn.q_proj.weight`, [256, 256], 0.06);
    add(`${p}.self_attn.k_proj.weight`, [128, 256], 0.06);
    add(`${p}.self_attn.v_proj.weight`, [128, 256], 0.06);
    add(`${p}.self_attn.o_proj.weight`, [256, 256], 0.06);
    add(`${p}.self_attn.q_norm.weight`, [64], 0.1, 1);
    add(`${p}.self_attn.k_norm.weight`, [64], 0.1, 1);
    add(`${p}.mlp.gate_proj.weight`, [512, 256], 0.06);
    add(`${p}.mlp.up_proj.weight`, [512, 256], 0.06);
    add(`${p}.mlp.down_proj.weight`, [256, 512], 0.04);
  }
  await native().safetensors.write(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  return dir;
}

describe('rows of whole 256-value super-blocks (a random Qwen3, hidden 256, 4 layers)', () => {
  it("q4_k_m: llama-quantize's types per tensor (Q6_K: output, attn_v / ffn_down of layers 2 and 3), logits within 0.25 (q4_0: 0.3)", async () => {
    const base = await wideCheckpoint();
    const ref = await logitsAndTokens(base, IDS);
    const got = await roundTrip(base, 'q4_k_m', undefined, 'wide');
    const file = await readGguf(join(work, 'wide-q4_k_m.gguf'));
    const types = Object.fromEntries(file.tensors.map((t) => [t.name, ggmlTypeName(t.type)]));
    for (const [name, type] of Object.entries(types)) {
      const six = name === 'output.weight' || /^blk\.[23]\.(attn_v|ffn_down)\.weight$/.test(name);
      const want = name.endsWith('norm.weight') ? 'F32' : six ? 'Q6_K' : 'Q4_K';
      expect(type, name).toBe(want);
    }
    expect(relDiff(ref.logits, got.logits)).toBeLessThanOrEqual(0.25);
    const q4 = await roundTrip(base, 'q4_0', undefined, 'wide');
    expect(q4.result.types).toEqual({ Q4_0: 29, Q6_K: 1, F32: 17 });
    expect(relDiff(ref.logits, q4.logits)).toBeLessThanOrEqual(0.3);
  });
});

describe('a 4-bit (bitsandbytes fp4) base without an adapter', () => {
  it('is dequantized for the export: f16 gives its greedy tokens, logits within 1e-3', async () => {
    const base = join(work, 'qwen3_fp4');
    cpSync(join(BNB_FIXTURES, 'qwen3_fp4'), base, { recursive: true });
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(TOKENIZER, f), join(base, f));
    const ref = await logitsAndTokens(base, IDS);
    const got = await roundTrip(base, 'f16', undefined, 'qwen3_fp4');
    expect(got.tokens).toEqual(ref.tokens);
    expect(relDiff(ref.logits, got.logits)).toBeLessThanOrEqual(1e-3);
  });
});

describe('what GGUF cannot carry', () => {
  it('a Gemma 2 query_pre_attn_scalar other than head_dim is GGUF_UNSUPPORTED naming the field; no file is written', async () => {
    const file = join(work, 'gemma2-raw.gguf');
    await expect(exportGguf(checkpoint('gemma2'), file)).rejects.toMatchObject({ code: 'GGUF_UNSUPPORTED', message: expect.stringContaining('attnScale') });
    expect(() => readFileSync(file)).toThrow();
  });

  it('llama with mlp_bias (no GGUF key for it in the importer) is refused; phi3 has no GGUF export', async () => {
    await expect(exportGguf(checkpoint('llama'), join(work, 'llama.gguf'))).rejects.toMatchObject({ code: 'GGUF_UNSUPPORTED', message: expect.stringContaining('mlpBias') });
    await expect(exportGguf(checkpoint('phi3'), join(work, 'phi3.gguf'))).rejects.toMatchObject({ code: 'GGUF_UNSUPPORTED', message: expect.stringContaining('phi3') });
  });

  it("a Mistral sliding window is dropped as llama.cpp's converter drops it, with a note", async () => {
    const messages: string[] = [];
    const result = await exportGguf(checkpoint('mistral'), join(work, 'mistral.gguf'), { onProgress: (e) => e.phase === 'model' && messages.push(e.message) });
    expect(result.notes.join(' ')).toMatch(/no sliding window/);
    expect(messages.some((m) => m.includes('no sliding window'))).toBe(true);
  });
});
