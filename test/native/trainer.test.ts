// The TS training driver over the native step (CPU, fp32): resume continues exactly (same loss
// trajectory as an uninterrupted run), accumulation normalizes per token, adapters round trip
// through the PEFT format, and a tiny model learns a synthetic task.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, type Model } from '../../src/api/model.js';
import { collate, countTargets, promptResponseExample, type Batch } from '../../src/data/collate.js';
import { packBatch } from '../../src/data/pack.js';
import { createTrainer, type TrainerOptions } from '../../src/train/trainer.js';
import { MODEL_FIXTURES } from '../helpers/fixtures.js';
import { lcg } from '../helpers/random.js';

const base = join(MODEL_FIXTURES, 'llama');
let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'nq-trainer-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

// Deterministic toy data: prompt [10 + a, 10 + b, 3] -> response [100 + f(a, b), 2].
function example(a: number, b: number) {
  return promptResponseExample([10 + a, 10 + b, 3], [((a + b) % 16) + 100, 2]);
}
function batches(count: number, size: number, seed: number): Batch[] {
  const rand = lcg(seed);
  return Array.from({ length: count }, () =>
    collate(Array.from({ length: size }, () => example(Math.floor(rand() * 16), Math.floor(rand() * 16))), 0),
  );
}

const trainerOptions: TrainerOptions = { lr: 1e-2, warmupSteps: 2, totalSteps: 6, maxGradNorm: 1.0, gradientCheckpointing: false };

async function freshModel(dropout = 0): Promise<Model> {
  const model = await loadModel(base, { device: 'cpu' });
  await model.addLora({ r: 4, alpha: 8, seed: 7, targets: ['q_proj', 'v_proj'], dropout });
  return model;
}

describe('trainer', () => {
  const data = batches(6, 4, 1);

  it.each([0, 0.2])('resume continues exactly (dropout %s): losses after save/resume equal an uninterrupted run', async (dropout) => {
    const whole: number[] = [];
    {
      await using model = await freshModel(dropout);
      const trainer = createTrainer(model, trainerOptions);
      for (const b of data) whole.push((await trainer.step([b])).loss);
    }
    const resumed: number[] = [];
    const ckpt = join(work, `ckpt-${dropout}`);
    {
      await using model = await freshModel(dropout);
      const trainer = createTrainer(model, trainerOptions);
      for (const b of data.slice(0, 3)) resumed.push((await trainer.step([b])).loss);
      await trainer.save(ckpt);
    }
    {
      await using model = await loadModel(base, { device: 'cpu' });
      await model.loadAdapter(ckpt);
      const trainer = createTrainer(model, trainerOptions);
      await trainer.resume(ckpt);
      expect(trainer.stepCount).toBe(3);
      for (const b of data.slice(3)) resumed.push((await trainer.step([b])).loss);
    }
    expect(resumed).toEqual(whole);
  });

  it('resume refuses different trainer options, naming them', async () => {
    await using model = await loadModel(base, { device: 'cpu' });
    await model.loadAdapter(join(work, 'ckpt-0'));
    const trainer = createTrainer(model, { ...trainerOptions, lr: 5e-3 });
    await expect(trainer.resume(join(work, 'ckpt-0'))).rejects.toMatchObject({ message: expect.stringContaining('lr') });
  });

  it('accumulating two micro-batches equals one batch holding both (per-token normalization)', async () => {
    const [a, b] = batches(2, 3, 5) as [Batch, Batch];
    const joined: Batch = collate(
      [...a.ids.keys(), ...b.ids.keys()].map((_, i) => {
        const src = i < a.ids.length ? a : b;
        const row = i < a.ids.length ? i : i - a.ids.length;
        const len = src.attentionMask[row]!.reduce((n, m) => n + m, 0);
        return { ids: src.ids[row]!.slice(0, len), labels: src.labels[row]!.slice(0, len) };
      }),
      0,
    );
    await using m1 = await freshModel();
    await using m2 = await freshModel();
    const s1 = await createTrainer(m1, trainerOptions).step([a, b]);
    const s2 = await createTrainer(m2, trainerOptions).step([joined]);
    expect(s1.tokens).toBe(s2.tokens);
    expect(s1.loss).toBeCloseTo(s2.loss, 6);
    expect(s1.gradNorm).toBeCloseTo(s2.gradNorm, 5);
  });

  it('a padded Batch and its packBatch() form give the same step; StepLog counts the padded batch\'s targets and non-padding tokens', async () => {
    const batch = collate([example(1, 2), promptResponseExample([10, 3], [105, 2]), promptResponseExample([10, 11, 12, 13, 3], [101, 2])], 0);
    await using m1 = await freshModel();
    await using m2 = await freshModel();
    const padded = await createTrainer(m1, trainerOptions).step([batch]);
    const packed = await createTrainer(m2, trainerOptions).step([packBatch(batch)]);
    expect(padded.tokens).toBe(countTargets(batch));
    expect(padded.inputTokens).toBe(batch.attentionMask.flat().reduce((a, b) => a + b, 0));
    expect(padded.inputTokens).toBeLessThan(batch.ids.flat().length); // the batch holds padding
    expect({ ...packed, seconds: 0, tokensPerSecond: 0, inputTokensPerSecond: 0 }).toEqual({ ...padded, seconds: 0, tokensPerSecond: 0, inputTokensPerSecond: 0 });
  });

  it('refuses a model without an adapter and a step without targets', async () => {
    await using model = await loadModel(base, { device: 'cpu' });
    expect(() => createTrainer(model, trainerOptions)).toThrow(/addLora/);
    await model.addLora({ r: 2 });
    const trainer = createTrainer(model, trainerOptions);
    const empty = collate([{ ids: [1, 2, 3], labels: [-100, -100, -100] }], 0);
    await expect(trainer.step([empty])).rejects.toMatchObject({ message: expect.stringContaining('no target tokens') });
  });

  it('a tiny model learns a synthetic task: loss falls, held-out accuracy far above chance', async () => {
    // A random-init fixture model (qwen3) with adapters on every linear. (The demo model's
    // answer position proved immovable by LoRA on this toy task, in transformers + peft too:
    // both plateau at the same loss, so the toy task uses the fixture.)
    await using model = await loadModel(join(MODEL_FIXTURES, 'qwen3'), { device: 'cpu' });
    await model.addLora({ r: 8, alpha: 16, seed: 3, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] });
    const steps = 200;
    const trainer = createTrainer(model, { lr: 3e-2, warmupSteps: 10, totalSteps: steps, gradientCheckpointing: false, weightDecay: 0 });
    // The task: answer 100 + a, whatever the distractor b. A quarter of the (a, b) pairs is
    // held out; every token is seen in training, the held-out combinations are not.
    const rand = lcg(11);
    const pick = (heldOut: boolean) => {
      for (;;) {
        const a = Math.floor(rand() * 16);
        const b = Math.floor(rand() * 16);
        if (((a * 16 + b) % 4 === 0) === heldOut) return promptResponseExample([10 + a, 10 + b, 3], [100 + a, 2]);
      }
    };
    const losses: number[] = [];
    for (let s = 0; s < steps; s++) {
      losses.push((await trainer.step([collate(Array.from({ length: 16 }, () => pick(false)), 0)])).loss);
    }
    const early = losses.slice(0, 10).reduce((x, y) => x + y) / 10;
    const late = losses.slice(-10).reduce((x, y) => x + y) / 10;
    expect(late).toBeLessThan(early / 3);
    let correct = 0;
    const n = 64;
    for (let i = 0; i < n; i++) {
      const ex = pick(true);
      const [out] = await model.generate([ex.ids.slice(0, 3)], { maxNewTokens: 1, eosTokenIds: [] });
      if (out![0] === ex.ids[3]) correct++;
    }
    console.log(`synthetic task: loss ${early.toFixed(3)} -> ${late.toFixed(3)}, held-out accuracy ${correct}/${n} (chance 1/16)`);
    // Held-out combinations measure generalization, which on this toy task depends on the path
    // training takes: with gradients that agree to fp32 rounding (finite differences, peft's
    // fixtures), the LoRA init seeds 3 / 4 / 5 reach 22 / 37 / 50 of 64 after 200 steps. Four
    // times chance (16 / 64) is what every one of them clears.
    expect(correct / n).toBeGreaterThan(0.25);
  });
});
