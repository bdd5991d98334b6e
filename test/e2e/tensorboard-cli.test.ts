// `sft train --report-to tensorboard`: the event files in RUN_DIR/tensorboard, read back by
// tensorboard's Python reader (scripts/reference/read_tensorboard.py), hold log.jsonl's numbers
// (as float32) at their steps and run.json's validation metrics.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sft } from '../helpers/cli.js';
import { NEED, skipWithout } from '../helpers/skip.js';

const READER = join(import.meta.dirname, '..', '..', 'scripts', 'reference', 'read_tensorboard.py');
const hasTensorboard = spawnSync('python3', ['-c', 'import tensorboard'], { encoding: 'utf8' }).status === 0;
const work = mkdtempSync(join(tmpdir(), 'nq-tb-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(skipWithout(hasTensorboard, "sft train --report-to tensorboard read back by tensorboard's reader", NEED.pythonReference))('sft train --report-to tensorboard', () => {
  it('writes loss, lr, grad norm, tokens/s per logged step and the validation metrics (at the end, or every --eval-every steps)', async () => {
    const out = join(work, 'run');
    const r = await sft([
      'train', '--model', 'demo', '--data', 'demo', '--template', 'demo', '--chat', '--label-map', 'positive=positive,negative=negative',
      '--limit', '48', '--val-split', '16', '--batch-size', '8', '--max-steps', '4', '--lr', '3e-3', '--warmup-steps', '2', '--lora-r', '4',
      '--report-to', 'tensorboard', '--out', out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const read = JSON.parse(execFileSync('python3', [READER, join(out, 'tensorboard')], { encoding: 'utf8' })) as {
      files: string[];
      file_versions: string[];
      scalars: Record<string, [number, number][]>;
    };
    expect(read.files).toHaveLength(1);
    expect(read.file_versions).toEqual(['brain.Event:2']);
    const log = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    expect(log.map((l) => l.step)).toEqual([1, 2, 3, 4]);
    for (const [tag, field] of [['train/loss', 'loss'], ['train/learning_rate', 'lr'], ['train/grad_norm', 'gradNorm'], ['train/tokens_per_second', 'tokensPerSecond'], ['train/input_tokens_per_second', 'inputTokensPerSecond'], ['train/epoch', 'epoch']] as const) {
      expect(read.scalars[tag], tag).toEqual(log.map((l) => [l.step, Math.fround(l[field] as number)]));
    }
    const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { result: { val: { acc: number; resp_acc: number } } };
    expect(read.scalars['eval/acc']).toEqual([[4, Math.fround(run.result.val.acc)]]);
    expect(read.scalars['eval/resp_acc']).toEqual([[4, Math.fround(run.result.val.resp_acc)]]);

    // With --eval-every: the evaluations of log.jsonl at their steps, each step once.
    const every = join(work, 'every');
    const e = await sft([
      'train', '--model', 'demo', '--data', 'demo', '--template', 'demo', '--chat', '--label-map', 'positive=positive,negative=negative',
      '--limit', '48', '--val-split', '16', '--batch-size', '8', '--max-steps', '4', '--lr', '3e-3', '--warmup-steps', '2', '--lora-r', '4',
      '--eval-every', '2', '--report-to', 'tensorboard', '--out', every,
    ]);
    expect(e.code, e.stderr).toBe(0);
    const evalRead = JSON.parse(execFileSync('python3', [READER, join(every, 'tensorboard')], { encoding: 'utf8' })) as { scalars: Record<string, [number, number][]> };
    const evals = readFileSync(join(every, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>).filter((l) => l.eval_loss !== undefined);
    expect(evals.map((l) => l.step)).toEqual([2, 4]);
    expect(evalRead.scalars['eval/loss']).toEqual(evals.map((l) => [l.step, Math.fround(l.eval_loss as number)]));
    expect(evalRead.scalars['eval/acc']).toEqual(evals.map((l) => [l.step, Math.fround(l.eval_acc as number)]));

    // Without the flag: no event files.
    const plain = join(work, 'plain');
    const p = await sft(['train', '--model', 'demo', '--data', 'demo', '--template', 'demo', '--chat', '--label-map', 'positive=positive,negative=negative', '--limit', '16', '--val-split', '0', '--batch-size', '8', '--max-steps', '1', '--out', plain]);
    expect(p.code, p.stderr).toBe(0);
    expect(existsSync(join(plain, 'tensorboard'))).toBe(false);
    const bad = await sft(['train', '--model', 'demo', '--data', 'demo', '--report-to', 'wandb', '--out', join(work, 'bad')]);
    expect(bad.stderr).toMatch(/--report-to: .*"none"\|"tensorboard"/);
  }, 240_000);
});
