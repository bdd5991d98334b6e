// `sft plan` and `--batch-size auto` as a user runs them (the built CLI, the demo model on CPU):
// the plan's parts add up, its micro-batch x accumulation is the rows per step asked for, and
// train / eval print the plan before the work and run with it (run.json records the choice).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sft } from '../helpers/cli.js';

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'nq-plan-cli-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const DEMO = ['--model', 'demo', '--data', 'demo', '--template', 'demo', '--chat', '--label-map', 'positive=positive,negative=negative', '--max-seq-len', '96', '--device', 'cpu'];

describe('sft plan', () => {
  it('--json: each estimate is the sum of its parts and the plan keeps the rows per step', async () => {
    const r = await sft(['plan', '--model', 'demo', '--device', 'cpu', '--max-seq-len', '512', '--batch-size', '24', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan).toMatchObject({ family: 'qwen3', device: 'cpu', dtype: 'float32', quantized: false, seqLen: 512 });
    const t = plan.train;
    expect(t.microBatch * t.gradAccum).toBe(24);
    for (const e of [t.estimate, t.other]) expect(e.totalBytes).toBe(e.weightBytes + e.loraBytes + e.activationBytes + e.workspaceBytes + e.lossBytes);
    expect(t.other.activationBytes).toBeGreaterThan(t.estimate.activationBytes); // checkpointing on by default
    expect(t.estimate.totalBytes).toBeLessThanOrEqual(plan.budget.usableBytes);
    const e = plan.eval.estimate;
    expect(e.totalBytes).toBe(e.weightBytes + e.loraBytes + e.kvCacheBytes + e.workspaceBytes + e.logitsBytes);
    expect(plan.eval.batch).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('text: names every part, the margin and the free memory', async () => {
    const r = await sft(['plan', '--model', 'demo', '--device', 'cpu', '--max-seq-len', '256', '--no-gradient-checkpointing']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/memory plan \(cpu\): .* GiB free \(system memory.*\), .* GiB margin, .* GiB usable/);
    expect(r.stdout).toMatch(/micro-batch \d+ x grad-accum \d+ = 16 rows per step/);
    expect(r.stdout).toMatch(/checkpointing off: weights .* LoRA \+ gradients \+ AdamW .* activations .* workspace .* loss chunks/);
    expect(r.stdout).toMatch(/generation plan \(cpu\): batch \d+, .*KV cache/);
  }, 60_000);

  it('refuses a bad option naming the flag', async () => {
    const r = await sft(['plan', '--model', 'demo', '--max-seq-len', '3']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--max-seq-len/);
  }, 60_000);
});

describe('--batch-size auto', () => {
  it('train prints the plan before the first step and records the accumulation; eval plans its generation batch', async () => {
    const out = join(work, 'run');
    const t = await sft(['train', ...DEMO, '--limit', '32', '--epochs', '1', '--batch-size', 'auto', '--out', out]);
    expect(t.code, t.stderr).toBe(0);
    const planAt = t.stderr.indexOf('memory plan (cpu)');
    expect(planAt).toBeGreaterThanOrEqual(0);
    expect(planAt).toBeLessThan(t.stderr.indexOf('step 1/'));
    const record = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8'));
    expect(record.config.autoBatch).toBe(true);
    expect(record.config.microBatch * record.config.gradAccum).toBe(16);
    const e = await sft(['eval', ...DEMO, '--limit', '8', '--adapter', out, '--batch-size', 'auto', '--out', join(work, 'eval')]);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stderr).toMatch(/generation plan \(cpu\): batch 8,/); // all 8 rows fit in one batch
    expect(JSON.parse(readFileSync(join(work, 'eval', 'eval.json'), 'utf8')).settings.batchSize).toBe(8);
  }, 120_000);
});
