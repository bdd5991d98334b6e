// runTraining: epochs x accumulated steps with a JSONL log and checkpoints; a run stopped at a
// checkpoint and resumed logs exactly the losses of the uninterrupted run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../src/api/model.js';
import { collate, promptResponseExample, type Batch } from '../../src/data/collate.js';
import { runTraining } from '../../src/train/loop.js';
import { createTrainer, type TrainerOptions } from '../../src/train/trainer.js';
import { MODEL_FIXTURES } from '../helpers/fixtures.js';
import { lcg } from '../helpers/random.js';

const base = join(MODEL_FIXTURES, 'qwen3');
let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'nq-loop-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const microBatches: Batch[] = (() => {
  const rand = lcg(3);
  return Array.from({ length: 8 }, () =>
    collate(Array.from({ length: 3 }, () => promptResponseExample([10 + Math.floor(rand() * 16), 3], [100 + Math.floor(rand() * 16), 2])), 0),
  );
})();
/** A seeded shuffle per epoch: data order depends only on the epoch. */
function epochBatches(epoch: number): Batch[] {
  const rand = lcg(100 + epoch);
  const order = microBatches.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return order.map((i) => microBatches[i] as Batch);
}
const options: TrainerOptions = { lr: 1e-2, warmupSteps: 2, totalSteps: 8, gradientCheckpointing: false };
const losses = (file: string): number[] =>
  readFileSync(file, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { loss: number }).loss);

describe('runTraining', () => {
  it('logs every step, checkpoints at epoch ends, and resumes exactly', async () => {
    const fullLog = join(work, 'full', 'log.jsonl');
    {
      await using model = await loadModel(base, { device: 'cpu' });
      await model.addLora({ r: 4, seed: 1 });
      const lines: string[] = [];
      const progress = { write: (s: string) => lines.push(s), isTTY: false } as unknown as NodeJS.WritableStream;
      const r = await runTraining(createTrainer(model, options), {
        epochBatches, epochs: 2, accumulation: 2, logFile: fullLog, checkpointDir: join(work, 'full'), progress,
      });
      expect(lines).toHaveLength(8);
      expect(lines[7]).toMatch(/^\[#{24}\] step 8\/8 loss \d+\.\d{4} lr /);
      expect(r.steps).toBe(8);
      expect(r.checkpoints.map((c) => c.split('/').pop())).toEqual(['step-4', 'step-8']);
    }
    const full = losses(fullLog);
    expect(full).toHaveLength(8);
    const log = join(work, 'resumed', 'log.jsonl');
    {
      await using model = await loadModel(base, { device: 'cpu' });
      await model.addLora({ r: 4, seed: 1 });
      await runTraining(createTrainer(model, options), {
        epochBatches, epochs: 2, accumulation: 2, maxSteps: 3, logFile: log, checkpointDir: join(work, 'resumed'), checkpointEvery: 3,
      });
    }
    expect(existsSync(join(work, 'resumed', 'step-3', 'adapter_model.safetensors'))).toBe(true);
    {
      await using model = await loadModel(base, { device: 'cpu' });
      await model.loadAdapter(join(work, 'resumed', 'step-3'));
      const trainer = createTrainer(model, options);
      await trainer.resume(join(work, 'resumed', 'step-3'));
      await runTraining(trainer, { epochBatches, epochs: 2, accumulation: 2, logFile: log });
    }
    expect(losses(log)).toEqual(full);
  });

  it('stops on abort with ABORTED', async () => {
    await using model = await loadModel(base, { device: 'cpu' });
    await model.addLora({ r: 2 });
    const controller = new AbortController();
    const run = runTraining(createTrainer(model, options), {
      epochBatches, epochs: 2, onLog: (l) => { if (l.step === 2) controller.abort(); }, signal: controller.signal,
    });
    await expect(run).rejects.toMatchObject({ code: 'ABORTED', message: expect.stringContaining('step 2') });
  });
});
