// corpusBleu against sacrebleu 2.6's corpus_bleu (13a, exp smoothing): every figure of every
// fixture corpus (scripts/reference/make_text_metric_fixtures.py), to 1e-6.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { corpusBleu } from '../../src/api/index.js';
import { tokenize13a } from '../../src/eval/text-metrics/tokenizer-13a.js';

interface BleuCase {
  name: string;
  hypotheses: string[];
  references: string[][];
  expected: { score: number; counts: number[]; totals: number[]; precisions: number[]; bp: number; sysLen: number; refLen: number };
}

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'text-metrics', 'bleu.json');
const { cases } = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { cases: BleuCase[] };

function expectClose(actual: readonly number[], expected: readonly number[], label: string): void {
  expect(actual.length, label).toBe(expected.length);
  actual.forEach((value, i) => expect(Math.abs(value - (expected[i] as number)), `${label}[${i}]: ${value} vs ${expected[i]}`).toBeLessThan(1e-6));
}

describe('corpusBleu = sacrebleu corpus_bleu', () => {
  it('the fixtures cover what the issue asks for', () => {
    expect(cases.length).toBeGreaterThanOrEqual(10);
    expect(cases.some((c) => c.references.some((r) => r.length >= 3))).toBe(true);
    expect(cases.some((c) => c.hypotheses.includes(''))).toBe(true);
    expect(cases.some((c) => c.expected.score > 0 && c.expected.score < 100)).toBe(true);
  });

  for (const c of cases) {
    it(c.name, () => {
      const got = corpusBleu(c.hypotheses, c.references);
      expect(got.sysLen).toBe(c.expected.sysLen);
      expect(got.refLen).toBe(c.expected.refLen);
      expect(got.counts).toEqual(c.expected.counts);
      expect(got.totals).toEqual(c.expected.totals);
      expectClose(got.precisions, c.expected.precisions, 'precisions');
      expectClose([got.bp, got.score], [c.expected.bp, c.expected.score], '[bp, score]');
    });
  }

  it('a single reference may be given as a string', () => {
    const c = cases[0] as BleuCase;
    expect(corpusBleu(c.hypotheses, c.references.map((r) => r[0] as string))).toEqual(corpusBleu(c.hypotheses, c.references));
  });

  it('13a separates symbols but keeps periods and commas inside numbers', () => {
    expect(tokenize13a('Pay $1,234.56 now, e-mail me at 10-20.')).toBe('Pay $ 1,234.56 now , e-mail me at 10 - 20 .');
  });

  it('no hypotheses give zeros; mismatched or malformed inputs are refused by name', () => {
    expect(corpusBleu([], [])).toEqual({ score: 0, counts: [0, 0, 0, 0], totals: [0, 0, 0, 0], precisions: [0, 0, 0, 0], bp: 1, sysLen: 0, refLen: 0 });
    expect(() => corpusBleu(['a', 'b'], [['a']])).toThrow(/2 hypotheses but 1 reference sets/);
    expect(() => corpusBleu(['a'], [[]])).toThrow(/reference set 0 must be a string or a non-empty array/);
    expect(() => corpusBleu(['a'], [['a']], { tokenize: 'intl' as '13a' })).toThrow(/expected tokenize '13a'/);
  });
});
