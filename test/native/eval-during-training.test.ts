// Evaluation during training (--eval-every, --save-best, --early-stopping-patience) on the
// bundled demo model, fp32 CPU: the validation loss equals the engine's own training loss on the
// same rows (native chunked cross-entropy vs. the TS one over inference logits), every N steps
// lands in log.jsonl with acc / resp_acc, the best checkpoint is the one of the best step, early
// stopping ends the run where the patience runs out, and a stopped-and-resumed run evaluates,
// ranks and stops exactly as the uninterrupted one. A score head's validation loss and accuracy
// equal sft eval --task classify's log loss and accuracy (its own path through the logits);
// instruction rows get the loss alone.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, nativeHandle } from '../../src/api/model.js';
import { evaluate } from '../../src/api/evaluate.js';
import { train } from '../../src/api/train.js';
import { collate, promptResponseExample } from '../../src/data/collate.js';
import { countPackedTargets, packBatch } from '../../src/data/pack.js';
import { languageModelLoss } from '../../src/train/eval-during-training.js';
import { readTrainerState } from '../../src/train/trainer.js';
import { MODEL_FIXTURES } from '../helpers/fixtures.js';
import { adapterTensors, demoRunOptions, demoTask } from '../helpers/demo-run.js';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'nq-evaltrain-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface EvalLine { step: number; eval_loss: number; eval_acc?: number; eval_resp_acc?: number; best: { metric: string; value: number; step: number } | null; since_best: number }
const evalLines = (out: string): EvalLine[] =>
  readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as EvalLine & { loss?: number }).filter((l) => 'eval_loss' in l);
const withoutTime = (lines: EvalLine[]) => lines.map(({ eval_seconds: _s, ...rest }: EvalLine & { eval_seconds?: number }) => rest);

describe('validation loss', () => {
  it("equals the engine's training loss on the same rows (no dropout, no update)", async () => {
    const model = await loadModel(join(MODEL_FIXTURES, 'qwen3'), { device: 'cpu' });
    try {
      await model.addLora({ r: 4, alpha: 8, seed: 5 });
      const rows = [promptResponseExample([11, 12, 13, 3], [101, 102, 2]), promptResponseExample([14, 3], [103, 104, 105, 2]), promptResponseExample([15, 16, 3], [106, 2])];
      const ours = await languageModelLoss(model, rows);
      const packed = packBatch(collate(rows, 0));
      const engine = await nativeHandle(model).trainStep(packed, { lossScale: 0, gradientCheckpointing: false });
      await nativeHandle(model).zeroGrad();
      expect(ours.targets).toBe(countPackedTargets(packed));
      expect(ours.loss).toBeCloseTo(engine.lossSum / engine.tokens, 5);
      expect(ours.loss).toBeGreaterThan(1); // random weights: near ln(vocab), not a degenerate 0
    } finally {
      await model.dispose();
    }
  }, 60_000);
});

describe('train() with --eval-every', () => {
  const evalOptions = (out: string) => ({ ...demoRunOptions(out), valSplit: 8, evalEvery: 2, saveBest: true, bestMetric: 'eval_loss' as const, earlyStoppingPatience: 3 });
  let full: Awaited<ReturnType<typeof train>>;
  const fullOut = () => join(work, 'full');

  beforeAll(async () => {
    full = await train(evalOptions(fullOut()));
  }, 120_000);

  it('logs eval_loss, acc and resp_acc every N steps and at the last, and keeps the best checkpoint', () => {
    const lines = evalLines(fullOut());
    expect(lines.map((l) => l.step)).toEqual([2, 4, 6, 8, 10]); // 40 training rows, 8 a step, 2 epochs
    for (const l of lines) {
      expect(l.eval_loss).toBeGreaterThan(0);
      expect(l.eval_acc).toBeGreaterThanOrEqual(0);
      expect(l.eval_resp_acc).toBeGreaterThanOrEqual(l.eval_acc as number);
    }
    const bestLine = lines.reduce((a, b) => (b.eval_loss < a.eval_loss ? b : a));
    expect(full.record.result?.best).toMatchObject({ metric: 'eval_loss', value: bestLine.eval_loss, step: bestLine.step });
    // The best checkpoint is the adapter of that step: equal to the loop's checkpoint where there is one.
    const bestDir = join(fullOut(), 'best');
    expect(full.record.result?.best?.dir).toBe(bestDir);
    if (existsSync(join(fullOut(), 'checkpoints', `step-${bestLine.step}`))) {
      expect(adapterTensors(bestDir)).toEqual(adapterTensors(join(fullOut(), 'checkpoints', `step-${bestLine.step}`)));
    }
    // The validation loss falls as the adapter learns the demo task.
    expect(bestLine.eval_loss).toBeLessThan((lines[0] as EvalLine).eval_loss);
  });

  it('a run stopped after step 5 and resumed evaluates, ranks and ends as the uninterrupted one', async () => {
    const out = join(work, 'stopped');
    const abort = new AbortController();
    await expect(
      train(evalOptions(out), { signal: abort.signal, onProgress: (e) => e.phase === 'train' && e.step === 5 && abort.abort('SIGINT') }),
    ).rejects.toThrow(/step-5/);
    const state = await readTrainerState(join(out, 'checkpoints', 'step-5'));
    expect(state.evaluation).toEqual({ metric: 'eval_loss', best: expect.objectContaining({ step: expect.any(Number) }), sinceBest: evalLines(out).at(-1)?.since_best });
    const resumed = await train({ ...evalOptions(out), resume: true });
    expect(withoutTime(evalLines(out))).toEqual(withoutTime(evalLines(fullOut())));
    expect(resumed.record.result?.best).toEqual(full.record.result?.best && { ...full.record.result.best, dir: join(out, 'best') });
    expect(adapterTensors(join(out, 'best'))).toEqual(adapterTensors(join(fullOut(), 'best')));
  }, 120_000);

  it('a run killed after its last checkpoint resumes to the final loss of its last step, not of the evaluation line after it', async () => {
    const out = join(work, 'unfinished');
    cpSync(fullOut(), out, { recursive: true });
    const record = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    delete record.finished;
    delete record.result;
    writeFileSync(join(out, 'run.json'), JSON.stringify(record));
    const resumed = await train({ ...evalOptions(out), resume: true });
    expect(resumed.finalLoss).toBe(full.finalLoss);
    expect(resumed.finalLoss).not.toBeNull();
  }, 60_000);

  it('early stopping ends the run at the evaluation where the patience runs out', async () => {
    // lr 1e-9: the adapter barely moves, so acc stays where it is and never improves after the first evaluation.
    const out = join(work, 'early');
    const r = await train({ ...evalOptions(out), lr: 1e-9, bestMetric: 'acc', earlyStoppingPatience: 2, evalEvery: 1 });
    const lines = evalLines(out);
    expect(lines.map((l) => l.since_best)).toEqual([0, 1, 2]);
    expect(r.steps).toBe(3);
    expect(r.record.result?.stoppedEarly).toEqual({ step: 3, patience: 2 });
    expect(existsSync(join(out, 'checkpoints', 'step-3'))).toBe(true);
  }, 120_000);

  it('refuses --eval-every without validation rows and a best metric the task does not compute', async () => {
    await expect(train({ ...demoRunOptions(join(work, 'noval')), evalEvery: 2 })).rejects.toThrow(/--eval-every 2 needs validation rows, but --val-split 0/);
    await expect(train({ ...demoRunOptions(join(work, 'nobest')), saveBest: true })).rejects.toThrow(/eval-every/i);
    // Ranks other than 0 would wait in the next gradient all-reduce while rank 0 evaluates (or stops early).
    await expect(train({ ...demoRunOptions(join(work, 'ranks')), valSplit: 8, evalEvery: 2, worldSize: 2 })).rejects.toThrow(/evaluation during training runs in one process/);
  }, 60_000);
});

describe('other tasks', () => {
  it("a score head: eval_loss and acc at the last step equal sft eval --task classify's log loss and accuracy on the same val rows", async () => {
    const out = join(work, 'classify');
    // One CSV for both (data 'demo' is the train file for train() and the test file for evaluate()).
    const data = { data: join(import.meta.dirname, '..', '..', 'assets', 'demo', 'data', 'train.csv'), textColumn: 'review', labelColumn: 'sentiment', labelMap: demoTask.labelMap };
    const o = { ...demoTask, ...data, chat: false, limit: 40, valSplit: 8, device: 'cpu' as const };
    await train({ ...o, task: 'classify', batchSize: 8, epochs: 1, lr: 5e-3, warmupSteps: 0, loraR: 8, gradientCheckpointing: false, out, evalEvery: 2, saveBest: true, bestMetric: 'acc' });
    const lines = evalLines(out);
    expect(lines.map((l) => l.step)).toEqual([2, 4]);
    expect(lines.every((l) => l.eval_resp_acc === undefined)).toBe(true);
    const last = lines.at(-1) as EvalLine;
    const scored = await evaluate({ ...o, task: 'classify', adapter: out, split: 'val' });
    const adapter = (scored.report as unknown as { adapter: { acc: number; log_loss: number; n: number } }).adapter;
    expect(adapter.n).toBe(8);
    expect(last.eval_acc).toBeCloseTo(adapter.acc, 10);
    expect(last.eval_loss).toBeCloseTo(adapter.log_loss, 4);
  }, 120_000);

  it('instruction rows: eval_loss alone, and --best-metric acc is refused before the model loads', async () => {
    const data = join(import.meta.dirname, '..', 'fixtures', 'data', 'instruct', 'sharegpt.json');
    const base = { model: 'demo', data, chat: true, maxSeqLen: 256, seed: 5, valSplit: 0.25, batchSize: 2, epochs: 1, device: 'cpu' as const, gradientCheckpointing: false };
    const out = join(work, 'instruct');
    const r = await train({ ...base, out, evalEvery: 1 });
    const lines = evalLines(out);
    expect(lines.length).toBe(r.steps);
    expect(lines.every((l) => l.eval_loss > 0 && l.eval_acc === undefined && l.eval_resp_acc === undefined)).toBe(true);
    await expect(train({ ...base, out: join(work, 'instruct-acc'), evalEvery: 1, bestMetric: 'acc' })).rejects.toThrow(/--best-metric acc needs label rows/);
  }, 120_000);
});
