// `sft report` after a real run of the demo model (the built CLI: train with --eval-every, then
// eval --compare --out RUN_DIR), read back from headless Chromium's DOM: the sample predictions
// (per class, rows the adapter got right and wrong, its answer next to the base model's, each
// agreeing with predictions.jsonl), the training settings beside the eval settings, the
// eval-during-training curves (one vertex per evaluation in log.jsonl), step axes that end at
// the last step, and a generation task's reference / before / after rows read defensively.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sft } from '../helpers/cli.js';
import { NEED, skipWithout } from '../helpers/skip.js';

const run = promisify(execFile);

function findChromium(): string | undefined {
  const configured = process.env.CHROMIUM_BIN;
  if (configured) return existsSync(configured) ? configured : undefined;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    for (const name of ['chromium', 'chromium-browser']) if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : undefined;
}
const chromium = findChromium();
const noChromium = skipWithout(chromium !== undefined, 'sft report sections in a browser', NEED.chromium);

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'nq-report-sections-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function dumpDom(page: string): Promise<string> {
  const profile = mkdtempSync(join(work, 'profile-'));
  const args = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-extensions', '--disable-background-networking', `--user-data-dir=${profile}`, '--dump-dom', pathToFileURL(page).href];
  return (await run(chromium as string, args, { timeout: 30_000, maxBuffer: 32 * 2 ** 20 })).stdout;
}

function tableRows(dom: string, id: string): string[][] {
  const start = dom.indexOf(`<table id="${id}"`);
  expect(start, `table #${id}`).toBeGreaterThanOrEqual(0);
  const table = dom.slice(start, dom.indexOf('</table>', start));
  const unescape = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
  return [...table.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((m) => [...(m[1] as string).matchAll(/<t[hd][^>]*>([\s\S]*?)<\/t[hd]>/g)].map((c) => unescape(c[1] as string)));
}

function svgOf(dom: string, id: string): string {
  const start = dom.indexOf(`<svg id="${id}"`);
  expect(start, `svg #${id}`).toBeGreaterThanOrEqual(0);
  return dom.slice(start, dom.indexOf('</svg>', start));
}

const DEMO = ['--model', 'demo', '--data', 'demo', '--template', 'demo', '--chat', '--label-map', 'positive=positive,negative=negative', '--max-seq-len', '96', '--device', 'cpu', '--limit', '48', '--val-split', '8', '--seed', '7'];

describe.skipIf(noChromium)('sft report sections after a real run', () => {
  let runDir: string;
  let dom: string;
  let evalLines: { step: number; eval_loss: number }[];
  let predictions: { which: string; file: string; row: number; label: string; output: string; prediction: string | null; correct: boolean }[];

  beforeAll(async () => {
    runDir = join(work, 'run');
    const t = await sft(['train', ...DEMO, '--batch-size', '8', '--epochs', '1', '--lr', '1e-3', '--lora-r', '8', '--eval-every', '2', '--out', runDir]);
    expect(t.code, t.stderr).toBe(0);
    // The progress output carries each evaluation with the best so far.
    expect(t.stderr).toMatch(/eval step 2\/5 eval_loss \d\.\d{4} acc \d\.\d{4} resp_acc \d\.\d{4} in [\d.]+ s \(best eval_loss \d\.\d{4} at step 2\)/);
    const e = await sft(['eval', ...DEMO, '--adapter', runDir, '--compare', '--split', 'all', '--out', runDir]);
    expect(e.code, e.stderr).toBe(0);
    const r = await sft(['report', runDir]);
    expect(r.code, r.stderr).toBe(0);
    dom = await dumpDom(join(runDir, 'report.html'));
    evalLines = readFileSync(join(runDir, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((l) => 'eval_loss' in l);
    predictions = readFileSync(join(runDir, 'predictions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  }, 180_000);

  it('sample predictions: per class, rows the adapter got right and wrong, with the base answer of the same row', () => {
    expect(dom).toContain('<section id="samples">');
    const adapter = predictions.filter((p) => p.which === 'adapter');
    let tables = 0;
    for (const label of ['positive', 'negative']) {
      const rows = adapter.filter((p) => p.label === label);
      if (rows.length === 0) continue;
      tables++;
      const table = tableRows(dom, `samples-${label}`);
      expect(table[0]).toEqual(['outcome', 'row', 'adapter output', 'parsed', 'base output', 'base parsed']);
      const body = table.slice(1);
      const right = rows.filter((p) => p.correct);
      const wrong = rows.filter((p) => !p.correct);
      expect(body.filter((r) => r[0] === 'right')).toHaveLength(Math.min(3, right.length));
      expect(body.filter((r) => r[0] === 'wrong')).toHaveLength(Math.min(3, wrong.length));
      for (const [outcome, where, output, parsed, baseOutput] of body) {
        const p = adapter.find((x) => `${x.file}:${x.row}` === where) as (typeof predictions)[number];
        expect(p, where).toBeDefined();
        expect(output).toBe(p.output);
        expect(parsed).toBe(p.prediction ?? 'invalid');
        expect(outcome === 'right').toBe(p.correct);
        const base = predictions.find((x) => x.which === 'base' && x.file === p.file && x.row === p.row);
        expect(baseOutput).toBe(base?.output);
      }
    }
    expect(tables).toBeGreaterThan(0);
  });

  it('training settings beside the eval settings', () => {
    const rows = new Map(tableRows(dom, 'settings-compare').slice(1).map((r) => [r[0], r.slice(1)]));
    const config = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')).config;
    expect(rows.get('model')).toEqual(['demo', 'demo']);
    expect(rows.get('LoRA r / alpha')?.[0]).toBe(`8 / ${config.loraAlpha}`);
    expect(rows.get('quantization')?.[0]).toMatch(/^none \(16\/32-bit weights, compute float32\)$/);
    expect(rows.get('learning rate')?.[0]).toBe('0.001');
    expect(rows.get('schedule / warmup steps')?.[0]).toBe(`${config.schedule} / ${config.warmupSteps}`);
    expect(rows.get('micro-batch x grad accumulation')?.[0]).toBe(`${config.microBatch} x ${config.gradAccum}`);
    expect(rows.get('epochs / steps')?.[0]).toBe('1 / 5');
    expect(rows.get('seed')).toEqual(['7', '7']);
    expect(rows.get('max sequence length')).toEqual(['96', '96']);
    expect(rows.get('frozen layers (no adapters)')?.[0]).toBe('0');
    expect(rows.get('LoRA targets')?.[0]).toMatch(/q_proj/);
    expect(rows.get('evaluation during training')?.[0]).toBe('every 2 steps, best by eval_loss');
    expect(rows.get('max new tokens')?.[1]).toBe('3');
  });

  it('eval-during-training curves: one vertex per evaluation of log.jsonl', () => {
    expect(evalLines.map((l) => l.step)).toEqual([2, 4, 5]);
    const svg = svgOf(dom, 'chart-eval-loss');
    const points = /<polyline[^>]* points="([^"]*)"/.exec(svg)?.[1]?.trim().split(/\s+/) ?? [];
    expect(points).toHaveLength(evalLines.length);
    expect(svgOf(dom, 'chart-eval-acc')).toContain('<polyline');
    expect(dom).toMatch(/3 evaluations on the validation rows during training \(steps 2, 4, 5\); the best by eval_loss/);
  });

  it('every step axis ends at the last step: its last tick is that step, at the right end of the axis', () => {
    for (const id of ['chart-loss', 'chart-lr', 'chart-grad-norm', 'chart-eval-loss']) {
      const svg = svgOf(dom, id);
      const ticks = [...svg.matchAll(/<text class="tick tick-x" x="([\d.]+)"[^>]*>([^<]*)<\/text>/g)];
      const axisEnd = /<line class="axis axis-x" x1="[\d.]+" y1="[\d.]+" x2="([\d.]+)"/.exec(svg)?.[1];
      const lastTick = ticks.at(-1);
      expect(lastTick?.[2], id).toBe('5');
      expect(lastTick?.[1], id).toBe(axisEnd);
      const points = (/<polyline[^>]* points="([^"]*)"/.exec(svg)?.[1] ?? '').trim().split(/\s+/);
      expect(points.at(-1)?.split(',')[0], id).toBe(axisEnd);
    }
  });

  it("a generation task's rows: the reference next to the output before and after; unreadable lines counted, not fatal", async () => {
    const dir = join(work, 'generation');
    cpSync(runDir, dir, { recursive: true });
    rmSync(join(dir, 'eval.json'));
    const lines = [
      { which: 'base', file: 'a.jsonl', row: 1, reference: 'Paris', output: 'I think <b>Lyon</b>', newTokens: 4 },
      { which: 'adapter', file: 'a.jsonl', row: 1, reference: 'Paris', output: 'Paris', newTokens: 2, rouge: { rouge1: 1 } },
      { which: 'adapter', file: 'a.jsonl', row: 2, reference: '42' }, // no output: written by a newer version
      'not json',
      { file: 'a.jsonl', row: 3 }, // no model named
    ];
    writeFileSync(join(dir, 'predictions.jsonl'), `${lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n')}\n`);
    const r = await sft(['report', dir]);
    expect(r.code, r.stderr).toBe(0);
    const page = await dumpDom(join(dir, 'report.html'));
    expect(tableRows(page, 'samples-generation')).toEqual([
      ['row', 'reference', 'before (base)', 'after (adapter)'],
      ['a.jsonl:1', 'Paris', 'I think <b>Lyon</b>', 'Paris'],
      ['a.jsonl:2', '42', 'not evaluated', '(no output)'],
    ]);
    expect(page).not.toContain('<b>Lyon</b>'); // shown as text
    expect(page).toContain('2 lines of predictions.jsonl could not be read and are left out.');
  }, 60_000);
});
