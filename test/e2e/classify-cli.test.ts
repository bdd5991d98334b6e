// Sequence-classification mode from the command line, as a user runs it (issue 15): sft train
// --task classify with a stratified k-fold, then sft eval --task classify --compare on the fold
// the run held out (taken from the run's run.json), on the bundled demo model and data.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadLabelledData, DEMO_DATA_DIR } from '../../src/api/dataset.js';
import { sft } from '../helpers/cli.js';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'nq-classify-cli-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const data = join(DEMO_DATA_DIR, 'train.csv');
const labelMap = 'positive=positive,negative=negative';
const TASK = ['--model', 'demo', '--data', data, '--template', 'demo', '--chat', '--label-map', labelMap, '--max-seq-len', '128', '--limit', '400'];
const jsonLines = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('sft train --task classify, then sft eval --task classify', () => {
  it('trains a SEQ_CLS adapter on 4 of 5 folds; eval scores the held-out fold, base (random head) and adapter', async () => {
    const out = join(work, 'run');
    const train = await sft([
      'train', ...TASK, '--task', 'classify', '--folds', '5', '--fold', '1', '--batch-size', '16', '--epochs', '1',
      '--lr', '1e-3', '--warmup-steps', '2', '--no-gradient-checkpointing', '--out', out,
    ]);
    expect(train.code, train.stderr).toBe(0);
    expect(train.stdout).toMatch(/trained 20 steps/); // 400 rows, 80 held out, 320 / 16
    expect(train.stdout).toContain('--task classify --compare');
    expect(train.stderr).toMatch(/classification over 2 labels/);
    const adapterConfig = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(adapterConfig.task_type).toBe('SEQ_CLS');
    expect(adapterConfig.modules_to_save).toEqual(['score']);
    const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { config: Record<string, unknown>; data: { train: number; val: number } };
    expect(run.config).toMatchObject({ task: 'classify', folds: 5, fold: 1 });
    expect(run.data).toMatchObject({ train: 320, val: 80 });

    // No --folds here: the run's folds, fold, seed and limit are taken from its run.json.
    const evalOut = join(work, 'eval');
    const res = await sft(['eval', ...TASK.filter((a, i) => a !== '--limit' && TASK[i - 1] !== '--limit'), '--task', 'classify', '--adapter', out, '--compare', '--json', '--out', evalOut]);
    expect(res.code, res.stderr).toBe(0);
    const r = JSON.parse(res.stdout) as Record<string, number>;
    expect(r.n).toBe(80);
    expect(r.acc).toBeGreaterThan(r.acc_bf_train + 0.15);
    expect(r.log_loss).toBeLessThan(r.log_loss_bf_train);
    expect(r.resp_acc).toBe(1);

    // The rows scored are exactly the fold train held out (same options, loaded here).
    const split = await loadLabelledData({ data, textColumn: 'review', labelColumn: 'sentiment', labelMap, valSplit: 0, testSplit: 0, limit: 400, seed: 3407, folds: 5, fold: 1 }, 'eval');
    const predictions = jsonLines(join(evalOut, 'predictions.jsonl'));
    const adapter = predictions.filter((p) => p.which === 'adapter');
    expect(adapter.map((p) => p.row).sort()).toEqual(split.val.map((e) => e.row).sort());

    // The printed figures are the predictions' figures: accuracy, log loss (natural log, mean) from the probabilities.
    for (const which of ['adapter', 'base'] as const) {
      const rows = predictions.filter((p) => p.which === which) as { label: string; correct: boolean; probabilities: Record<string, number> }[];
      const acc = rows.filter((p) => p.correct).length / rows.length;
      const logLoss = rows.reduce((s, p) => s - Math.log(p.probabilities[p.label] as number), 0) / rows.length;
      for (const p of rows) expect(Object.values(p.probabilities).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      expect(acc).toBeCloseTo(which === 'adapter' ? r.acc : r.acc_bf_train, 12);
      expect(logLoss).toBeCloseTo(which === 'adapter' ? r.log_loss : r.log_loss_bf_train, 10);
    }
    const md = readFileSync(join(evalOut, 'eval.md'), 'utf8');
    expect(md).toMatch(/\| model \| acc \| log\\?_loss \| macro\\?_f1 \|/);
    expect(md).toContain('untrained');
    const report = JSON.parse(readFileSync(join(evalOut, 'eval.json'), 'utf8')) as { task: string; settings: Record<string, unknown> };
    expect(report.task).toBe('classify');
    expect(report.settings).toMatchObject({ split: 'val', folds: 5, fold: 1, limit: 400, seed: 3407, numLabels: 2 });
  }, 120_000);

  it('--batch-size auto sizes the scoring batch (a forward pass, no new tokens): reported and used', async () => {
    const evalOut = join(work, 'eval-auto');
    const res = await sft(['eval', ...TASK.slice(0, -2), '--limit', '24', '--device', 'cpu', '--task', 'classify', '--batch-size', 'auto', '--out', evalOut]);
    expect(res.code, res.stderr).toBe(0);
    // All 24 rows fit one batch (the default batch, 16, would take two).
    expect(res.stderr).toMatch(/plan \(cpu\): batch 24,/);
    const report = JSON.parse(readFileSync(join(evalOut, 'eval.json'), 'utf8')) as { settings: Record<string, unknown> };
    expect(report.settings.batchSize).toBe(24);
    expect(res.stderr.match(/^eval base .*$/gm)).toEqual([expect.stringMatching(/ 24\/24$/)]);
  }, 60_000);

  it('refuses a --num-labels that differs from the adapter head, and a classifier scored as generation', async () => {
    const res = await sft(['eval', ...TASK, '--task', 'classify', '--adapter', join(work, 'run'), '--num-labels', '3']);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/--num-labels 3 but the adapter .* holds a 2-class head/);
    const generate = await sft(['eval', ...TASK, '--adapter', join(work, 'run')]);
    expect(generate.code).not.toBe(0);
    expect(generate.stderr).toMatch(/SEQ_CLS, a 2-class score head\): score it with --task classify/);
  }, 60_000);
});
