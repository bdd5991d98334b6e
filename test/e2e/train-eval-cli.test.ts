// `sft demo`, `sft train` and `sft eval` run as a user would: the built CLI as a child process,
// on the bundled data and model and on a fixture checkpoint with a real (tiny) tokenizer.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sft } from '../helpers/cli.js';
import { MODEL_FIXTURES } from '../helpers/fixtures.js';

let work: string;
let fixtureModel: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'nq-cli-'));
  // A fixture checkpoint (random Qwen3, vocab 320) + a real 320-token ChatML tokenizer = a model folder.
  fixtureModel = join(work, 'tiny-qwen3');
  mkdirSync(fixtureModel);
  const src = join(MODEL_FIXTURES, 'qwen3');
  const tok = join(import.meta.dirname, '..', 'fixtures', 'tokenizers', 'tiny-chatml');
  for (const [from, name] of [
    [src, 'config.json'], [src, 'generation_config.json'], [src, 'model.safetensors'],
    [tok, 'tokenizer.json'], [tok, 'tokenizer_config.json'],
  ] as const) {
    copyFileSync(join(from, name), join(fixtureModel, name));
  }
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const DEMO_TASK = ['--template', 'demo', '--chat', '--label-map', 'positive=positive,negative=negative'];
const jsonLines = (file: string) => readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('sft demo', () => {
  it('--json: acc rises well above the before-training acc; the run folder holds everything', async () => {
    const out = join(work, 'demo');
    const res = await sft(['demo', '--json', '--out', out]);
    expect(res.code, res.stderr).toBe(0);
    const r = JSON.parse(res.stdout) as Record<string, number>;
    for (const k of ['acc', 'resp_acc', 'acc_bf_train', 'resp_acc_bf_train']) expect(r[k]).toBeTypeOf('number');
    expect(r.acc_bf_train).toBeLessThan(0.8); // the base model guesses on held-out words
    expect(r.acc).toBeGreaterThan((r.acc_bf_train as number) + 0.15);
    expect(r.resp_acc).toBeGreaterThan(0.95);
    for (const f of ['run.json', 'log.jsonl', 'adapter_config.json', 'adapter_model.safetensors', 'eval.json', 'eval.md', 'predictions.jsonl']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    // The printed numbers are the predictions' numbers.
    const adapter = jsonLines(join(out, 'predictions.jsonl')).filter((p) => p.which === 'adapter');
    expect(adapter.filter((p) => p.correct).length / adapter.length).toBeCloseTo(r.acc as number, 10);
  }, 180_000);
});

describe('sft train + sft eval on a fixture checkpoint', () => {
  it('trains with a validation split, saves run.json / log / adapter, then --compare scores base and adapter', async () => {
    const out = join(work, 'run-fixture');
    const train = await sft([
      'train', '--model', fixtureModel, '--data', 'demo', ...DEMO_TASK, '--max-seq-len', '64', '--limit', '64', '--val-split', '16',
      '--batch-size', '8', '--grad-accum', '2', '--max-steps', '4', '--lr', '1e-3', '--warmup-steps', '1', '--lora-r', '4', '--out', out,
    ]);
    expect(train.code, train.stderr).toBe(0);
    expect(train.stdout).toMatch(/trained 4 steps in [\d.]+ s/);
    expect(train.stdout).toMatch(/validation: acc [\d.]+, resp_acc [\d.]+ \(n 16\)/);
    expect(train.stderr).toMatch(/48 training rows .*val 16.*texts cut to fit max-seq-len 64/);
    const run = JSON.parse(readFileSync(join(out, 'run.json'), 'utf8')) as { config: Record<string, unknown>; data: Record<string, number>; result: Record<string, unknown> };
    expect(run.config).toMatchObject({ loraR: 4, loraAlpha: 32, lr: 1e-3, batchSize: 8, gradAccum: 2, microBatch: 4, maxSteps: 4, weightDecay: 0.01, seed: 3407, schedule: 'linear' });
    expect(run.data).toMatchObject({ train: 48, val: 16, test: 0, skipped_rows: 0 });
    expect(run.result.steps).toBe(4);
    expect(jsonLines(join(out, 'log.jsonl')).map((l) => l.step)).toEqual([1, 2, 3, 4]);
    expect(JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'))).toMatchObject({ r: 4, lora_alpha: 32, peft_type: 'LORA' });

    const evalOut = join(work, 'eval-fixture');
    const ev = await sft([
      'eval', '--model', fixtureModel, '--adapter', out, '--compare', '--data', 'demo', ...DEMO_TASK, '--max-seq-len', '64', '--limit', '30',
      '--batch-size', '7', '--quant', 'nf4', '--out', evalOut, '--json',
    ]);
    expect(ev.code, ev.stderr).toBe(0);
    const r = JSON.parse(ev.stdout) as { n: number; acc: number; resp_acc: number; skipped_rows: number; acc_bf_train: number; base: { n: number }; adapter: { n: number } };
    expect(r).toMatchObject({ n: 30, skipped_rows: 0 });
    expect(r.base.n).toBe(30);
    const preds = jsonLines(join(evalOut, 'predictions.jsonl'));
    expect(preds).toHaveLength(60);
    const score = (which: string) => {
      const p = preds.filter((x) => x.which === which);
      return { acc: p.filter((x) => x.correct).length / p.length, resp: p.filter((x) => x.prediction !== null).length / p.length };
    };
    expect(r.acc).toBeCloseTo(score('adapter').acc, 10);
    expect(r.resp_acc).toBeCloseTo(score('adapter').resp, 10);
    expect(r.acc_bf_train).toBeCloseTo(score('base').acc, 10);
  }, 120_000);

  it('refuses to overwrite a finished run without --resume', async () => {
    const out = join(work, 'run-fixture');
    const res = await sft(['train', '--model', fixtureModel, '--data', 'demo', ...DEMO_TASK, '--max-seq-len', '64', '--out', out]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('already holds a run (run.json); pass --resume');
  });
});

describe('sft eval on messy data', () => {
  it('reads BOM + CRLF + quoted newlines + <br />, and reports bad rows with their numbers', async () => {
    const file = join(work, 'messy.csv');
    const rows = [
      'id,review,sentiment',
      '1,"The acting was wonderful.<br /><br />I loved every minute of it.",positive',
      '2,"A dull, boring mess.\r\nI almost fell asleep.",negative',
      '3,,positive',
      '4,The plot kept me hooked.,',
      '5,It was fine.,neutral',
      '6,"It is an awful, tedious film.",negative',
    ];
    writeFileSync(file, `\uFEFF${rows.join('\r\n')}\r\n`);
    const res = await sft(['eval', '--model', 'demo', '--data', file, ...DEMO_TASK, '--json']);
    expect(res.code, res.stderr).toBe(0);
    const r = JSON.parse(res.stdout) as { n: number; skipped_rows: number; acc: number; resp_acc: number };
    expect(r).toMatchObject({ n: 3, skipped_rows: 3 });
    expect(r.resp_acc).toBe(1);
    expect(r.acc).toBe(1); // known sentiment words: the demo model gets these right before any training

    const human = await sft(['eval', '--model', 'demo', '--data', file, ...DEMO_TASK]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/acc/);
    expect(human.stdout).toMatch(/resp_acc/);
    expect(human.stdout).toMatch(/messy\.csv:3.*empty text/);
    expect(human.stdout).toMatch(/messy\.csv:4.*missing label/);
    expect(human.stdout).toMatch(/messy\.csv:5.*neutral/);
  }, 60_000);
});

describe('option errors name the option and what it accepts', () => {
  const base = ['train', '--model', 'demo', '--data', 'demo', '--out', '/tmp/never-written'];
  it.each([
    [['--lr', 'abc'], /--lr: expected a number in \(0, 1\] but received "abc"/],
    [['--schedule', 'sometimes'], /--schedule.*linear.*cosine/],
    [['--lora-targets', 'q_proj,wq'], /--lora-targets.*q_proj/],
    [['--batch-size', '16', '--grad-accum', '3'], /--grad-accum: batch size must be a multiple of it/],
    [['--label-map', 'positive'], /--label-map/],
    [['--device', 'tpu'], /--device.*"cpu"\|"cuda"/],
  ])('sft train %j', async (extra, message) => {
    const res = await sft([...base, ...extra]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(message);
    expect(existsSync('/tmp/never-written')).toBe(false);
  });

  it('a missing data file is named', async () => {
    const res = await sft(['eval', '--model', 'demo', '--data', join(work, 'nope.csv')]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('nope.csv');
  });
});
