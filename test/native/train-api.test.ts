// train() through the public API: progress events, an AbortSignal that stops the run with a
// checkpoint, and resume: true that continues it to exactly the uninterrupted run's losses and
// adapter (optimizer, schedule, dropout RNG and data position restored together).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProgressEvent } from '../../src/api/progress.js';
import { train, type TrainResult } from '../../src/api/train.js';
import { adapterTensors, demoTask } from '../helpers/demo-run.js';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'nq-train-api-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const options = (out: string) => ({
  ...demoTask,
  limit: 96,
  batchSize: 16,
  epochs: 2,
  lr: 1e-3,
  warmupSteps: 2,
  loraDropout: 0.1,
  gradientCheckpointing: false,
  device: 'cpu' as const,
  out,
});
const losses = (out: string) =>
  readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { step: number; loss: number }));

describe('train() API', () => {
  let full: TrainResult;
  const events: ProgressEvent[] = [];

  it('runs 2 epochs of 6 steps with progress events for each step', async () => {
    full = await train(options(join(work, 'full')), { onProgress: (e) => events.push(e) });
    expect(full.steps).toBe(12);
    const steps = events.filter((e) => e.phase === 'train');
    expect(steps.map((e) => (e.phase === 'train' ? `${e.epoch}:${e.step}/${e.totalSteps}` : ''))).toEqual(
      Array.from({ length: 12 }, (_, i) => `${Math.floor(i / 6)}:${i + 1}/12`),
    );
    expect(events.some((e) => e.phase === 'data' && e.message.includes('96 training rows'))).toBe(true);
    expect(events.at(-1)).toMatchObject({ phase: 'save' });
  }, 60_000);

  it('an aborted run saves a checkpoint; resume: true finishes with the uninterrupted losses and adapter', async () => {
    const out = join(work, 'resumed');
    const controller = new AbortController();
    await expect(
      train(options(out), {
        signal: controller.signal,
        onProgress: (e) => {
          if (e.phase === 'train' && e.step === 4) controller.abort();
        },
      }),
    ).rejects.toMatchObject({ code: 'ABORTED', message: expect.stringContaining('checkpoint saved to') });
    expect(existsSync(join(out, 'checkpoints', 'step-4', 'trainer_state.json'))).toBe(true);
    expect(existsSync(join(out, 'adapter_config.json'))).toBe(false); // the final adapter is not written for a stopped run

    const resumed = await train({ ...options(out), resume: true });
    expect(resumed.steps).toBe(12);
    const a = losses(join(work, 'full'));
    const b = losses(out);
    expect(b.map((l) => l.step)).toEqual(a.map((l) => l.step));
    b.forEach((l, i) => expect(l.loss).toBe(a[i]?.loss));
    expect(adapterTensors(out)).toEqual(adapterTensors(join(work, 'full')));
  }, 60_000);

  it('resume with nothing to resume from says so', async () => {
    await expect(train({ ...options(join(work, 'empty')), resume: true })).rejects.toMatchObject({
      code: 'FILE_NOT_FOUND',
      message: expect.stringContaining('no checkpoint in'),
    });
  });
});
