// rouge() against rouge-score 0.1.2's RougeScorer (default tokenizer, Lsum on newlines, with and
// without its Porter stemmer, score_multi for several references): every F-measure of every
// example to 1e-9, the means, and our Porter stemmer word by word against nltk's.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { rouge } from '../../src/api/index.js';
import { porterStem } from '../../src/eval/text-metrics/porter-stemmer.js';

type Scores = { rouge1: number; rouge2: number; rougeL: number; rougeLsum: number };
interface RougeCase {
  name: string;
  useStemmer: boolean;
  predictions: string[];
  references: (string | string[])[];
  expected: Scores & { perExample: Scores[] };
}

const DIR = join(import.meta.dirname, '..', 'fixtures', 'text-metrics');
const { cases } = JSON.parse(readFileSync(join(DIR, 'rouge.json'), 'utf8')) as { cases: RougeCase[] };
const { stems } = JSON.parse(readFileSync(join(DIR, 'porter.json'), 'utf8')) as { stems: Record<string, string> };
const TYPES = ['rouge1', 'rouge2', 'rougeL', 'rougeLsum'] as const;

describe('rouge = rouge-score RougeScorer', () => {
  for (const c of cases) {
    it(c.name, () => {
      const got = rouge(c.predictions, c.references, { useStemmer: c.useStemmer });
      expect(got.perExample.length).toBe(c.expected.perExample.length);
      got.perExample.forEach((example, i) => {
        for (const type of TYPES) {
          const want = c.expected.perExample[i]?.[type] as number;
          expect(Math.abs(example[type] - want), `example ${i} ${type}: ${JSON.stringify(c.predictions[i])} -> ${example[type]} vs ${want}`).toBeLessThan(1e-9);
        }
      });
      for (const type of TYPES) expect(Math.abs(got[type] - c.expected[type]), type).toBeLessThan(1e-9);
    });
  }

  it('the fixtures hold partial scores, zeros and the stemmer making a difference', () => {
    const all = cases.flatMap((c) => c.expected.perExample);
    expect(all.some((e) => e.rougeL > 0 && e.rougeL < 1)).toBe(true);
    expect(all.some((e) => e.rougeLsum !== e.rougeL)).toBe(true);
    const plain = cases.find((c) => c.name === 'single references');
    const stemmed = cases.find((c) => c.name === 'single references, stemmer');
    expect(stemmed?.expected.rouge1).toBeGreaterThan(plain?.expected.rouge1 as number);
  });

  it(`stems ${Object.keys(stems).length} words as nltk's PorterStemmer does`, () => {
    const wrong = Object.entries(stems).filter(([word, stem]) => porterStem(word) !== stem).map(([word, stem]) => `${word}: ${porterStem(word)} (nltk ${stem})`);
    expect(wrong).toEqual([]);
  });

  it('no predictions give zero means; mismatched or malformed inputs are refused by name', () => {
    expect(rouge([], [])).toEqual({ rouge1: 0, rouge2: 0, rougeL: 0, rougeLsum: 0, perExample: [] });
    expect(() => rouge(['a'], [])).toThrow(/1 predictions but 0 references/);
    expect(() => rouge(['a'], [[]])).toThrow(/reference 0 must be a string or a non-empty array/);
    expect(() => rouge(['a'], ['a'], { useStemmer: 'yes' as unknown as boolean })).toThrow(/expected a boolean for useStemmer/);
  });
});
