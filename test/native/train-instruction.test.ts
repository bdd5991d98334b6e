// train() on instruction data (issue 16): the first step's loss is the cross-entropy of the base
// model (LoRA B starts at zero) over exactly the tokens the builder marked: every assistant turn
// and its end-of-turn token, computed here from model.logits() on the same ids. And run.json
// records the rows the readers skipped, with their reasons.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTrainData } from '../../src/api/train-data.js';
import { train } from '../../src/api/train.js';
import { IGNORE_INDEX } from '../../src/data/collate.js';
import { loadModel } from '../../src/engine/model.js';
import { DEMO_MODEL_DIR } from '../../src/hub/resolve.js';

const DATA = join(import.meta.dirname, '..', 'fixtures', 'data', 'instruct');
const work = mkdtempSync(join(tmpdir(), 'nq-train-instruction-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Mean next-token cross-entropy over the labelled positions of each example, from the model's logits (log-sum-exp in float64). */
async function maskedCrossEntropy(examples: { ids: number[]; labels: number[] }[]): Promise<{ mean: number; targets: number }> {
  const model = await loadModel(DEMO_MODEL_DIR, { device: 'cpu', dtype: 'float32' });
  try {
    let sum = 0;
    let targets = 0;
    for (const { ids, labels } of examples) {
      const { shape, data } = await model.logits([ids]);
      const vocab = shape[2] as number;
      for (let t = 1; t < ids.length; t++) {
        if (labels[t] === IGNORE_INDEX) continue;
        const row = data.subarray((t - 1) * vocab, t * vocab);
        let max = -Infinity;
        for (const v of row) max = Math.max(max, v);
        let z = 0;
        for (const v of row) z += Math.exp(v - max);
        sum += max + Math.log(z) - (row[labels[t] as number] as number);
        targets++;
      }
    }
    return { mean: sum / targets, targets };
  } finally {
    await model.dispose();
  }
}

describe('train() on ShareGPT rows with --chat', () => {
  it("the first step's loss is the base model's cross-entropy over the assistant turns only", async () => {
    const options = { model: 'demo', data: join(DATA, 'sharegpt.json'), chat: true, maxSeqLen: 256, seed: 5 };
    const { examples } = await loadTrainData(DEMO_MODEL_DIR, { ...options, textColumn: 'review', labelColumn: 'sentiment', labelMap: 'positive=1,negative=0', template: 'imdb', valSplit: 0, testSplit: 0 });
    expect(examples).toHaveLength(2);
    const reference = await maskedCrossEntropy(examples);
    expect(reference.targets).toBe(examples.reduce((n, e) => n + e.labels.filter((l, t) => t > 0 && l !== IGNORE_INDEX).length, 0));

    // The same ids with every token trained give a clearly different loss, so the comparison below can tell them apart.
    const everyToken = await maskedCrossEntropy(examples.map((e) => ({ ids: e.ids, labels: e.ids })));
    expect(Math.abs(everyToken.mean - reference.mean)).toBeGreaterThan(0.05);

    const out = join(work, 'sharegpt');
    const r = await train({ ...options, out, batchSize: 2, maxSteps: 1, lr: 1e-3, warmupSteps: 0, gradientCheckpointing: false, device: 'cpu' });
    expect(r.steps).toBe(1);
    expect(r.finalLoss).toBeCloseTo(reference.mean, 4);

    const record = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { data: { train: number; skipped: { row: number; reason: string }[] } };
    expect(record.data.train).toBe(2);
    expect(record.data.skipped.map((s) => s.row)).toEqual([3, 4, 5]);
    expect(record.data.skipped[1]?.reason).toContain('"function_call"');
  });
});
