// Sampling (native/core/sampling.h) against transformers' warpers, and the decode loop that
// uses it: test/fixtures/sampling/warpers.json holds softmax(TopP(TopK(Temperature(logits))))
// from scripts/reference/make_sampling_fixtures.py; the draw is checked to follow the warped
// distribution; on a tiny llama, a seed gives the same text batched or not, greedy is
// untouched, and generateStream yields what generate returns and stops when left.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, nativeHandle, type Model } from '../../src/api/model.js';
import { native, type StTensorData } from '../../src/native.js';
import { MODEL_FIXTURES } from '../helpers/fixtures.js';

interface WarperCase {
  temperature: number;
  topK: number;
  topP: number;
  probs: number[][];
  /** Rows where top-p cuts through equal logits: which of them stay is the reference's sort order. */
  tiesAtCutoff: number[];
}
const fixture = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'sampling', 'warpers.json'), 'utf8')) as {
  logits: number[][];
  cases: WarperCase[];
};

function f32Tensor(rows: number[][]): StTensorData {
  const flat = Float32Array.from(rows.flat());
  return { dtype: 'F32', shape: [rows.length, (rows[0] as number[]).length], data: new Uint8Array(flat.buffer) } as StTensorData;
}
function f32Rows(t: StTensorData): number[][] {
  const data = new Float32Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength));
  const [rows, cols] = t.shape as [number, number];
  return Array.from({ length: rows }, (_, r) => Array.from(data.subarray(r * cols, (r + 1) * cols)));
}
function softmax(row: number[]): number[] {
  const max = Math.max(...row);
  const e = row.map((x) => (x === -Infinity ? 0 : Math.exp(x - max)));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}
function draw(warped: StTensorData, u: number[]): number[] {
  const t = native().sampling.draw(warped, { dtype: 'F32', shape: [u.length], data: new Uint8Array(Float32Array.from(u).buffer) } as StTensorData);
  return Array.from(new BigInt64Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength)), Number);
}

describe('warpers equal transformers (temperature -> top-k -> top-p)', () => {
  it.each(fixture.cases.map((c) => [`T=${c.temperature} k=${c.topK} p=${c.topP}`, c] as const))('%s', (_, c) => {
    const warped = f32Rows(native().sampling.warp(f32Tensor(fixture.logits), { temperature: c.temperature, topK: c.topK, topP: c.topP }));
    warped.forEach((row, r) => {
      let ours = softmax(row);
      let ref = c.probs[r] as number[];
      if (c.tiesAtCutoff.includes(r)) {
        // As multisets: the same number of the tied tokens kept, with the same probabilities.
        ours = [...ours].sort((a, b) => a - b);
        ref = [...ref].sort((a, b) => a - b);
      }
      ours.forEach((p, i) => {
        // The same tokens filtered, and the kept probabilities equal.
        expect(p === 0, `row ${r} token ${i}`).toBe((ref[i] as number) === 0);
        expect(Math.abs(p - (ref[i] as number))).toBeLessThan(1e-6);
      });
    });
  });

  it('refuses a temperature of 0 and a top-p outside (0, 1]', () => {
    const logits = f32Tensor([[0, 1, 2]]);
    expect(() => native().sampling.warp(logits, { temperature: 0, topK: 0, topP: 1 })).toThrow(/temperature/);
    expect(() => native().sampling.warp(logits, { temperature: 1, topK: 0, topP: 1.5 })).toThrow(/topP/);
  });
});

describe('draw follows the warped distribution', () => {
  it('uniforms on a fine grid pick each token in proportion to its probability, never a filtered one', () => {
    const c = fixture.cases.find((x) => x.topK === 20 && x.topP === 0.8) as WarperCase;
    const row = fixture.logits[1] as number[];
    const warped = native().sampling.warp(f32Tensor([row]), { temperature: c.temperature, topK: c.topK, topP: c.topP });
    const probs = c.probs[1] as number[];
    const N = 20000;
    const counts = new Array<number>(row.length).fill(0);
    const batch = 1000;
    for (let start = 0; start < N; start += batch) {
      const us = Array.from({ length: batch }, (_, i) => (start + i + 0.5) / N);
      const rows = Array.from({ length: batch }, () => f32Rows(warped)[0] as number[]);
      for (const token of draw(f32Tensor(rows), us)) counts[token] = (counts[token] as number) + 1;
    }
    counts.forEach((n, i) => {
      if ((probs[i] as number) === 0) expect(n, `filtered token ${i}`).toBe(0);
      // A grid of N uniforms lands within one cell (+ float32 rounding of u) of each token's mass.
      expect(Math.abs(n / N - (probs[i] as number))).toBeLessThanOrEqual(2 / N + 1e-6);
    });
  });
});

describe('on a tiny llama (cpu)', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(join(MODEL_FIXTURES, 'llama'), { device: 'cpu', dtype: 'float32' });
  });
  afterAll(async () => {
    await model?.dispose();
  });

  describe('sampled generation', () => {
    const prompts = [[1, 5, 9, 13], [1, 7], [1, 22, 4, 4, 30, 8, 3]];
    const sampled = { maxNewTokens: 12, eosTokenIds: [], temperature: 1.5, topP: 0.95, seed: 7 };

    it('the same seed gives the same text batched or one prompt at a time', async () => {
      const batched = await model.generate(prompts, sampled);
      for (const [i, p] of prompts.entries()) expect(await model.generate([p], sampled)).toEqual([batched[i]]);
      expect(await model.generate(prompts, sampled)).toEqual(batched);
    });

    it('another seed gives other tokens; greedy stays argmax', async () => {
      const a = await model.generate(prompts, sampled);
      const b = await model.generate(prompts, { ...sampled, seed: 8 });
      expect(b).not.toEqual(a);
      const greedy = await model.generate(prompts, { maxNewTokens: 12, eosTokenIds: [] });
      expect(await model.generate(prompts, { maxNewTokens: 12, eosTokenIds: [], temperature: 0 })).toEqual(greedy);
      expect(await model.generate(prompts, { maxNewTokens: 12, eosTokenIds: [], temperature: 1, topK: 1, seed: 3 })).toEqual(greedy);
      expect(a).not.toEqual(greedy);
      // Each greedy token is the argmax of the logits of the sequence so far.
      const seq = [...(prompts[0] as number[]), ...(greedy[0] as number[]).slice(0, 3)];
      const logits = await model.logits([seq]);
      const V = model.arch.vocabSize;
      for (let s = 0; s < 3; s++) {
        const at = (prompts[0] as number[]).length - 1 + s;
        const row = Array.from(logits.data.subarray(at * V, (at + 1) * V));
        expect((greedy[0] as number[])[s]).toBe(row.indexOf(Math.max(...row)));
      }
    });

    it('the first sampled token follows softmax(warped logits) over many seeds', async () => {
      const prompt = [1, 5, 9];
      const options = { temperature: 2, topK: 6 };
      const logits = await model.logits([prompt]);
      const V = model.arch.vocabSize;
      const last = Array.from(logits.data.subarray((prompt.length - 1) * V, prompt.length * V));
      const probs = softmax(f32Rows(native().sampling.warp(f32Tensor([last]), { ...options, topP: 1 }))[0] as number[]);
      const N = 600;
      const counts = new Array<number>(V).fill(0);
      for (let seed = 0; seed < N; seed++) {
        const [[token]] = (await model.generate([prompt], { maxNewTokens: 1, eosTokenIds: [], ...options, seed })) as [[number]];
        counts[token] = (counts[token] as number) + 1;
      }
      let chi2 = 0;
      probs.forEach((p, i) => {
        if (p === 0) expect(counts[i], `filtered token ${i}`).toBe(0);
        else chi2 += ((counts[i] as number) - N * p) ** 2 / (N * p);
      });
      // 5 degrees of freedom: P(chi2 > 25) < 2e-4 for a correct sampler.
      expect(chi2).toBeLessThan(25);
    });

    it('refuses top-k / top-p with temperature 0 (greedy)', async () => {
      await expect(model.generate(prompts, { maxNewTokens: 2, temperature: 0, topP: 0.5 })).rejects.toThrow(/temperature 0 is greedy/);
    });
  });

  describe('generateStream', () => {
    const prompt = [1, 5, 9, 13];

    async function collect(stream: AsyncIterable<number>): Promise<number[]> {
      const out: number[] = [];
      for await (const t of stream) out.push(t);
      return out;
    }

    it('yields the tokens generate() returns, greedy and sampled, through the EOS that ends it', async () => {
      for (const options of [{ maxNewTokens: 20, eosTokenIds: [] }, { maxNewTokens: 20, eosTokenIds: [], temperature: 1.2, seed: 11 }]) {
        const [expected] = await model.generate([prompt], options);
        expect(await collect(model.generateStream(prompt, options))).toEqual(expected);
      }
      const [free] = (await model.generate([prompt], { maxNewTokens: 20, eosTokenIds: [] })) as [number[]];
      const eos = free[4] as number; // a token it writes: as an EOS it ends the stream there, included
      const [stopped] = await model.generate([prompt], { maxNewTokens: 20, eosTokenIds: [eos] });
      expect(stopped).toEqual(free.slice(0, free.indexOf(eos) + 1));
      expect(await collect(model.generateStream(prompt, { maxNewTokens: 20, eosTokenIds: [eos] }))).toEqual(stopped);
    });

    it('leaving the loop early stops the engine within a step or two', async () => {
      const got: number[] = [];
      for await (const t of model.generateStream(prompt, { maxNewTokens: 50, eosTokenIds: [] })) {
        got.push(t);
        if (got.length === 3) break;
      }
      expect(got).toEqual((await model.generate([prompt], { maxNewTokens: 3, eosTokenIds: [] }))[0]);
      // The native call itself: a listener returning false ends generation long before maxNewTokens.
      const handle = nativeHandle(model);
      let steps = 0;
      const out = await handle.generate(
        { ids: Int32Array.from(prompt), seqLens: Int32Array.from([prompt.length]) },
        { maxNewTokens: 50, minNewTokens: 0, eosTokenIds: new Int32Array(0), padTokenId: 0 },
        () => ++steps < 3,
      );
      expect(out.ids.length).toBeGreaterThanOrEqual(3);
      expect(out.ids.length).toBeLessThan(10);
    });
  });
});
