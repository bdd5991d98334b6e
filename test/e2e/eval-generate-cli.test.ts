// sft eval on instruction data (the generation task), run as a user would on the demo model with
// an adapter made here: chosen without --task, 256 new tokens by default, the before/after table,
// eval.json / predictions.jsonl holding every generation with its reference and figures that are
// rouge() / corpusBleu() of them; sampling with a seed gives the same text at any batch size.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { corpusBleu } from '../../src/eval/text-metrics/bleu.js';
import { rouge } from '../../src/eval/text-metrics/rouge.js';
import { sft } from '../helpers/cli.js';
import { makeDemoAdapter } from '../helpers/demo-adapter.js';

const ROOT = join(import.meta.dirname, '..', '..');
const DATA = join(ROOT, 'assets', 'instruct', 'test.jsonl');
const work = mkdtempSync(join(tmpdir(), 'nq-evalgen-'));
const adapter = join(work, 'adapter');
afterAll(() => rmSync(work, { recursive: true, force: true }));

beforeAll(() => makeDemoAdapter(adapter), 60_000);

interface Line { which: 'base' | 'adapter'; file: string; row: number; reference: string; output: string; newTokens: number }
const read = (dir: string) => ({
  report: JSON.parse(readFileSync(join(dir, 'eval.json'), 'utf8')) as { kind: string; settings: Record<string, unknown>; base: Record<string, any>; adapter: Record<string, any> },
  lines: readFileSync(join(dir, 'predictions.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Line),
});

describe('sft eval --task generate (instruction rows)', () => {
  it('--compare: the before/after table, and files whose figures are those of the written generations', async () => {
    const out = join(work, 'compare');
    const res = await sft(['eval', '--model', 'demo', '--adapter', adapter, '--compare', '--data', DATA, '--limit', '6', '--out', out]);
    expect(res.code, res.stderr).toBe(0);
    for (const row of ['ROUGE-1', 'ROUGE-2', 'ROUGE-L', 'ROUGE-Lsum', 'BLEU', 'BLEU matches 1-4 / n-grams', '| n | 6 | 6 |']) expect(res.stdout).toContain(row);
    expect(res.stdout).toContain('before (base)');
    const { report, lines } = read(out);
    expect(report.kind).toBe('sft-eval-generate');
    expect(report.settings.maxNewTokens).toBe(256);
    expect(report.settings.decoding).toBe('greedy');
    const rows = readFileSync(DATA, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { output: string });
    for (const which of ['base', 'adapter'] as const) {
      const mine = lines.filter((l) => l.which === which);
      expect(mine).toHaveLength(6);
      // row is 1-based within the file: the reference is that row's output.
      for (const l of mine) expect(l.reference).toBe(rows[l.row - 1]?.output);
      const outputs = mine.map((l) => l.output);
      const refs = mine.map((l) => l.reference);
      const r = rouge(outputs, refs);
      expect(report[which].rouge).toEqual({ rouge1: r.rouge1, rouge2: r.rouge2, rougeL: r.rougeL, rougeLsum: r.rougeLsum });
      expect(report[which].bleu).toEqual(corpusBleu(outputs, refs));
      expect(report[which].newTokens).toBe(mine.reduce((s, l) => s + l.newTokens, 0));
    }
    expect(lines.filter((l) => l.which === 'adapter').map((l) => l.output)).not.toEqual(lines.filter((l) => l.which === 'base').map((l) => l.output));
  }, 90_000);

  it('a seed gives the same sampled text at batch size 1 and 6; --metrics bleu scores BLEU only', async () => {
    const args = ['eval', '--model', 'demo', '--adapter', adapter, '--data', DATA, '--limit', '6', '--max-new-tokens', '24', '--temperature', '1.5', '--top-k', '50', '--seed', '4', '--metrics', 'bleu'];
    const one = join(work, 'b1');
    const six = join(work, 'b6');
    expect((await sft([...args, '--batch-size', '1', '--out', one])).code).toBe(0);
    const res = await sft([...args, '--batch-size', '6', '--out', six, '--json']);
    expect(res.code, res.stderr).toBe(0);
    const json = JSON.parse(res.stdout) as { task: string; adapter: { bleu: unknown; rouge?: unknown } };
    expect(json.task).toBe('generate');
    expect(json.adapter.rouge).toBeUndefined();
    const [a, b] = [read(one), read(six)];
    expect(a.lines.map((l) => l.output)).toEqual(b.lines.map((l) => l.output));
    expect(a.report.settings.decoding).toBe('sampling (temperature 1.5, top-k 50, top-p off, seed 4)');
    const greedy = await sft(['eval', '--model', 'demo', '--adapter', adapter, '--data', DATA, '--limit', '6', '--max-new-tokens', '24', '--json']);
    const g = JSON.parse(greedy.stdout) as { adapter: { bleu: { sysLen: number } } };
    expect(g.adapter.bleu).not.toEqual(json.adapter.bleu);
  }, 90_000);

  it('sampling flags on label rows are refused, naming them', async () => {
    const res = await sft(['eval', '--model', 'demo', '--data', 'demo', '--temperature', '0.7']);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('--temperature');
    expect(res.stderr).toContain('instruction data');
  });
});
