// train() with task 'classify' on the bundled demo model and reviews: the prompts (no answer)
// and one class index per row reach the classification step (R-Drop and SupCon on); the loss
// falls; the run writes a peft SEQ_CLS adapter (head included, the first layer frozen) that loads
// back on a 2-label model; a head smaller than the label map is refused by name.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { train } from '../../src/api/train.js';
import { loadModel } from '../../src/engine/model.js';
import { resolveModel } from '../../src/hub/resolve.js';
import { adapterTensors, demoTask } from '../helpers/demo-run.js';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'nq-classify-train-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const options = (out: string) => ({
  ...demoTask,
  chat: false,
  task: 'classify' as const,
  freezeLayers: 1,
  limit: 64,
  batchSize: 8,
  epochs: 3,
  lr: 5e-3,
  warmupSteps: 0,
  loraR: 8,
  loraDropout: 0.1,
  rdropAlpha: 0.5,
  supconWeight: 0.1,
  device: 'cpu' as const,
  out,
});

describe("train() with task 'classify'", () => {
  it('trains the head and the adapters of the unfrozen layers and saves a peft SEQ_CLS adapter', async () => {
    const out = join(work, 'run');
    const result = await train(options(out));
    expect(result.steps).toBe(24);
    const config = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ task_type: 'SEQ_CLS', modules_to_save: ['score'] });
    expect((config.layers_to_transform as number[])[0]).toBe(1);
    const log = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { loss: number });
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(log.slice(-8).map((l) => l.loss))).toBeLessThan(mean(log.slice(0, 8).map((l) => l.loss)));

    // The trained classifier: loads from the run folder (base + SEQ_CLS adapter) with 2 labels.
    const { dir } = await resolveModel('demo');
    await using model = await loadModel(dir, { device: 'cpu', task: 'classify', numLabels: 2 });
    const info = await model.loadAdapter(out);
    expect(info.modules.every((m) => !m.includes('layers.0.'))).toBe(true);
    const logits = await model.classifyLogits([[5, 6, 7], [8, 9, 0]], { attentionMask: [[1, 1, 1], [1, 1, 0]] });
    expect(logits.shape).toEqual([2, 2]);
    expect(Array.from(logits.data).every(Number.isFinite)).toBe(true);
  });

  it('2 data-parallel ranks give bit for bit the adapter and head of 1 process accumulating the same micro-batches', async () => {
    const dp = { limit: 32, epochs: 1, loraDropout: 0, rdropAlpha: 0, gradientCheckpointing: false };
    await train({ ...options(join(work, 'dual')), ...dp, worldSize: 2 });
    await train({ ...options(join(work, 'accumulated')), ...dp, gradAccum: 2 });
    const tensors = (out: string) => adapterTensors(out);
    const dual = tensors(join(work, 'dual'));
    expect(dual.map(([name]) => name)).toContain('base_model.model.score.weight');
    expect(dual).toEqual(tensors(join(work, 'accumulated')));
  }, 120_000);

  it('refuses a head smaller than the label map, naming both', async () => {
    await expect(train({ ...options(join(work, 'small')), numLabels: 1 })).rejects.toMatchObject({ message: expect.stringContaining("smaller than the label map's 2 classes") });
  });
});
