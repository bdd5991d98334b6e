// The engine against transformers (fixtures from scripts/reference/make_fixtures.py), fp32 on
// CPU: logits per sequence and for a left-padded batch, greedy tokens one prompt at a time and
// batched (with EOS, min_new_tokens), and our batched output equal to our one-at-a-time output.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadModel, type Model } from '../../src/api/model.js';
import { MODEL_FIXTURES, eosList, maxAbsDiff, modelCases, readReference, readReferenceTensor } from '../helpers/fixtures.js';

const cases = modelCases();

describe('model fixtures exist', () => {
  it('covers every family', () => {
    const families = ['llama', 'mistral', 'qwen2', 'qwen3', 'gemma', 'gemma2', 'gemma3_text', 'gemma3', 'phi3'];
    for (const f of families) expect(cases).toContain(f);
  });
});

describe.each(cases)('%s matches transformers (fp32, cpu)', (name) => {
  const ref = readReference(name);
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(join(MODEL_FIXTURES, name), { device: 'cpu', dtype: 'float32' });
  });
  afterAll(async () => {
    await model?.dispose();
  });

  it('logits of each sequence within 1e-4 of the logit scale', async () => {
    const tol = 1e-4 * ref.logits_scale;
    for (const [i, seq] of ref.sequences.entries()) {
      const expected = readReferenceTensor(name, `logits.${i}`);
      const got = await model.logits([seq]);
      expect(got.shape).toEqual([1, seq.length, model.arch.vocabSize]);
      expect(maxAbsDiff(got.data, 0, expected.data, 0, expected.data.length)).toBeLessThanOrEqual(tol);
    }
  });

  it('left-padded batch logits equal transformers\' batch at real tokens', async () => {
    const tol = 1e-4 * ref.logits_scale;
    const { input_ids, attention_mask } = ref.batch;
    const got = await model.logits(input_ids, { attentionMask: attention_mask });
    const expected = readReferenceTensor(name, 'batch_logits');
    expect(got.shape).toEqual(expected.shape);
    const [B, T, V] = got.shape as [number, number, number];
    for (let b = 0; b < B; b++) {
      const start = T - ref.sequences[b]!.length; // left padding: pad rows are not compared
      expect(maxAbsDiff(got.data, (b * T + start) * V, expected.data, (b * T + start) * V, (T - start) * V)).toBeLessThanOrEqual(tol);
    }
  });

  it.skipIf(name === 'phi3')('left-padded batch rows equal each sequence alone (positions from the mask)', async () => {
    // (phi3's longrope picks its factors from the longest sequence in the batch, so there a
    // batch row legitimately differs from the sequence alone, in transformers too.)
    const tol = 1e-4 * ref.logits_scale;
    const got = await model.logits(ref.batch.input_ids, { attentionMask: ref.batch.attention_mask });
    const [B, T, V] = got.shape as [number, number, number];
    for (let b = 0; b < B; b++) {
      const single = readReferenceTensor(name, `logits.${b}`);
      const len = ref.sequences[b]!.length;
      expect(maxAbsDiff(got.data, (b * T + T - len) * V, single.data, 0, len * V)).toBeLessThanOrEqual(tol);
    }
  });

  it('greedy continuation of each prompt equals transformers', async () => {
    for (const g of ref.greedy) {
      const [out] = await model.generate([g.prompt], {
        maxNewTokens: g.max_new_tokens,
        minNewTokens: g.min_new_tokens,
        eosTokenIds: eosList(g.eos_token_id),
      });
      expect(out).toEqual(g.output);
    }
  });

  it('batched greedy (left padding, EOS per sequence, min_new_tokens) equals transformers and one-at-a-time', async () => {
    for (const g of ref.greedy_batch) {
      const opts = { maxNewTokens: g.max_new_tokens, minNewTokens: g.min_new_tokens, eosTokenIds: eosList(g.eos_token_id) };
      const batched = await model.generate(g.prompts, opts);
      expect(batched).toEqual(g.outputs);
      const single = [];
      for (const p of g.prompts) single.push((await model.generate([p], opts))[0]);
      expect(batched).toEqual(single);
    }
  });

  it('an equal-length batch (no padding: the prefill writes the cache in one copy) equals one-at-a-time', async () => {
    for (const g of ref.greedy_batch) {
      const len = Math.min(...g.prompts.map((p: number[]) => p.length));
      const prompts = g.prompts.map((p: number[]) => p.slice(p.length - len));
      const opts = { maxNewTokens: g.max_new_tokens, eosTokenIds: eosList(g.eos_token_id) };
      const batched = await model.generate(prompts, opts);
      const single = [];
      for (const p of prompts) single.push((await model.generate([p], opts))[0]);
      expect(batched).toEqual(single);
      expect(batched.some((out: number[]) => out.length > 0)).toBe(true);
    }
  });
});
