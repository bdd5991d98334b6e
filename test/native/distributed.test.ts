// Data-parallel training on CPU (TCPStore backend, 2 processes): after K = 4 steps the adapter
// is bit-identical to one process accumulating the same micro-batches, and within float
// tolerance of one process taking the combined batch at once; only rank 0 writes the run
// folder; a failing rank stops the run with its rank and message. The worker processes run the compiled
// dist/train/rank-worker.js, so `npm run build:ts` must have run (as for test/e2e).
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { train, trainWithWorkers, type TrainResult } from '../../src/api/train.js';
import { native } from '../../src/native.js';
import { demoTask } from '../helpers/demo-run.js';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'nq-dist-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

// 4 steps of 16 rows. Dropout 0: with dropout the ranks draw their own masks, so 1 process and
// 2 processes would differ by design. lr 1e-3 and no warmup so the adapter moves far from its
// init (B = 0) and a wrong gradient shows.
const options = (out: string) => ({
  ...demoTask,
  limit: 64,
  batchSize: 16,
  epochs: 1,
  lr: 1e-3,
  warmupSteps: 0,
  loraDropout: 0,
  gradientCheckpointing: false,
  device: 'cpu' as const,
  out,
});

const adapter = (out: string): Map<string, Float32Array> => {
  const file = join(out, 'adapter_model.safetensors');
  const out_ = new Map<string, Float32Array>();
  for (const t of native().safetensors.inspect(file).tensors) {
    const d = native().safetensors.read(file, t.name).data;
    out_.set(t.name, new Float32Array(d.buffer, d.byteOffset, d.byteLength / 4));
  }
  return out_;
};
/** Largest |a - b| over the two runs' adapters (same tensor names required). */
const maxDiff = (outA: string, outB: string): number => {
  const a = adapter(outA);
  const b = adapter(outB);
  expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
  let diff = 0;
  for (const [name, x] of a) {
    const y = b.get(name) as Float32Array;
    for (let i = 0; i < x.length; i++) diff = Math.max(diff, Math.abs((x[i] as number) - (y[i] as number)));
  }
  return diff;
};
const logLines = (out: string) =>
  readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss: number; gradNorm: number; tokens: number; seconds: number });

describe('data-parallel train() (2 ranks, CPU)', () => {
  let single: TrainResult;
  let dual: TrainResult;

  it('2 ranks give bit for bit the adapter of 1 process accumulating the same micro-batches', async () => {
    dual = await train({ ...options(join(work, 'dual')), worldSize: 2 });
    const accumulated = await train({ ...options(join(work, 'accumulated')), gradAccum: 2 });
    expect(dual.steps).toBe(4);
    expect(accumulated.steps).toBe(4);
    // The sum over ranks adds the two micro-batch gradients in the order accumulation does.
    expect(maxDiff(join(work, 'dual'), join(work, 'accumulated'))).toBe(0);
    const numbers = (out: string) => logLines(out).map(({ step, loss, gradNorm, tokens }) => ({ step, loss, gradNorm, tokens }));
    expect(numbers(join(work, 'dual'))).toEqual(numbers(join(work, 'accumulated')));
  }, 90_000);

  it('2 ranks x 2 micro-batches match 1 process x 4 within float tolerance', async () => {
    await train({ ...options(join(work, 'dual-acc')), gradAccum: 2, worldSize: 2 });
    await train({ ...options(join(work, 'acc4')), gradAccum: 4 });
    // (g0 + g2) + (g1 + g3) against ((g0 + g1) + g2) + g3: the same terms in another order.
    expect(maxDiff(join(work, 'dual-acc'), join(work, 'acc4'))).toBeLessThan(1e-5);
  }, 90_000);

  it('and match 1 process with the combined batch in one micro-batch within float tolerance', async () => {
    single = await train(options(join(work, 'single')));
    const moved = Math.max(...[...adapter(join(work, 'single'))].filter(([n]) => n.includes('lora_B')).flatMap(([, x]) => [...x].map(Math.abs)));
    expect(moved).toBeGreaterThan(1e-3); // B started at zero: the steps did change it
    // One 16-row micro-batch pads and sums differently from two 8-row ones; AdamW's
    // g / sqrt(v) turns that rounding into ~1e-6 on weights of ~1e-2 after 4 steps.
    expect(maxDiff(join(work, 'single'), join(work, 'dual'))).toBeLessThan(1e-5);
    const l1 = logLines(join(work, 'single'));
    const l2 = logLines(join(work, 'dual'));
    expect(l2.map((l) => l.step)).toEqual([1, 2, 3, 4]);
    l2.forEach((l, i) => {
      expect(l.tokens).toBe(l1[i]?.tokens);
      expect(l.loss).toBeCloseTo(l1[i]?.loss as number, 5);
      expect(l.gradNorm).toBeCloseTo(l1[i]?.gradNorm as number, 4);
    });
    expect(single.steps).toBe(4);
  }, 90_000);

  it('only rank 0 writes the run folder, and run.json records the world size', () => {
    const out = join(work, 'dual');
    expect(readdirSync(join(out, 'checkpoints'))).toEqual(['step-4']);
    const record = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { config: { worldSize: number; microBatch: number } };
    expect(record.config.worldSize).toBe(2);
    expect(record.config.microBatch).toBe(8);
    expect(dual.record.result?.steps).toBe(4);
  });

  it('a batch that does not split over the ranks is refused before any process starts', async () => {
    await expect(train({ ...options(join(work, 'odd')), batchSize: 6, gradAccum: 2, worldSize: 2 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('world-size'),
    });
    expect(existsSync(join(work, 'odd'))).toBe(false);
  });

  it('a rank that fails stops the run with its rank and message', async () => {
    const failingWorker = () => join(import.meta.dirname, '..', 'helpers', 'failing-rank-worker.mjs');
    await expect(trainWithWorkers({ ...options(join(work, 'failing')), worldSize: 2 }, failingWorker)).rejects.toMatchObject({
      message: expect.stringMatching(/^rank 1 of 2 failed: injected failure at step 2/),
    });
    expect(existsSync(join(work, 'failing', 'adapter_model.safetensors'))).toBe(false);
  }, 60_000);
});
