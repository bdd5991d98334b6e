// Seeded shuffle and splits: the generator matches an independent Python implementation
// (scripts/reference/make_data_fixtures.py), so a seed means the same rows on every platform;
// splits are reproducible, partition the kept rows, and validate their options.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mulberry32, seededShuffle } from '../../src/data/shuffle.js';
import { splitExamples, splitSize } from '../../src/data/split.js';
import { ErrorCode } from '../../src/errors.js';
import { expectSftError } from '../helpers/errors.js';

interface PrngReference {
  streams: { seed: number; u32: number[] }[];
  shuffles: { seed: number; n: number; order: number[] }[];
}
const REFERENCE = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'fixtures', 'data', 'mulberry32.json'), 'utf8')) as PrngReference;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('seeded shuffle', () => {
  it.each(REFERENCE.streams)('mulberry32($seed) equals the Python reference stream', ({ seed, u32 }) => {
    const next = mulberry32(seed);
    expect(u32.map(() => next())).toEqual(u32);
  });

  it.each(REFERENCE.shuffles)('seededShuffle(range($n), $seed) equals the Python reference order', ({ seed, n, order }) => {
    expect(seededShuffle(range(n), seed)).toEqual(order);
  });

  it('does not change its input and rejects a seed that is not an integer', () => {
    const items = range(5);
    seededShuffle(items, 3);
    expect(items).toEqual(range(5));
    expectSftError(() => mulberry32(1.5), ErrorCode.InvalidArgument, '--seed', '1.5');
  });
});

describe('splitExamples', () => {
  const data = range(1000).map((i) => ({ id: i }));

  it('gives the same split for the same seed and a different one for another seed', () => {
    const a = splitExamples(data, { valSplit: 0.1, testSplit: 0.2, seed: 42 });
    const b = splitExamples(data, { valSplit: 0.1, testSplit: 0.2, seed: 42 });
    const c = splitExamples(data, { valSplit: 0.1, testSplit: 0.2, seed: 43 });
    expect(b).toEqual(a);
    expect(c.test).not.toEqual(a.test);
    expect(c.train).not.toEqual(a.train);
  });

  it('partitions the rows: sizes add up and no row is in two splits', () => {
    const { train, val, test } = splitExamples(data, { valSplit: 0.1, testSplit: 0.2, seed: 7 });
    expect([train.length, val.length, test.length]).toEqual([700, 100, 200]);
    const ids = [...train, ...val, ...test].map((e) => e.id).sort((x, y) => x - y);
    expect(ids).toEqual(range(1000));
  });

  it('takes test, then val, then train from the front of the seeded order', () => {
    const order = seededShuffle(data, 5);
    const { train, val, test } = splitExamples(data, { valSplit: 3, testSplit: 2, seed: 5 });
    expect(test).toEqual(order.slice(0, 2));
    expect(val).toEqual(order.slice(2, 5));
    expect(train).toEqual(order.slice(5));
  });

  it('applies --limit to the shuffled rows before splitting', () => {
    const whole = seededShuffle(data, 11);
    const { train, val, test } = splitExamples(data, { valSplit: 0.1, testSplit: 0.1, limit: 50, seed: 11 });
    expect([train.length, val.length, test.length]).toEqual([40, 5, 5]);
    expect([...test, ...val, ...train]).toEqual(whole.slice(0, 50));
    expect(splitExamples(data.slice(0, 3), { limit: 10, seed: 1 }).train).toHaveLength(3);
  });

  it('reads [0, 1) as a fraction rounded to rows and integers >= 1 as row counts', () => {
    expect(splitSize(0.1, 25_000, '--val-split')).toBe(2_500);
    expect(splitSize(0.1, 5, '--val-split')).toBe(1);
    expect(splitSize(0, 5, '--val-split')).toBe(0);
    expect(splitSize(1, 5, '--val-split')).toBe(1);
    expect(splitSize(300, 5, '--val-split')).toBe(300);
  });

  it('rejects bad split values, a bad limit, and splits that leave no training rows', () => {
    expectSftError(() => splitExamples(data, { valSplit: 1.5, seed: 1 }), ErrorCode.InvalidArgument, '--val-split', '1.5');
    expectSftError(() => splitExamples(data, { testSplit: -0.1, seed: 1 }), ErrorCode.InvalidArgument, '--test-split', '-0.1');
    expectSftError(() => splitExamples(data, { testSplit: Number.NaN, seed: 1 }), ErrorCode.InvalidArgument, '--test-split', 'NaN');
    expectSftError(() => splitExamples(data, { limit: 0, seed: 1 }), ErrorCode.InvalidArgument, '--limit', '0');
    expectSftError(() => splitExamples(data, { valSplit: 0.5, testSplit: 0.5, seed: 1 }), ErrorCode.InvalidArgument, 'no training rows', '1000');
    expectSftError(() => splitExamples(data.slice(0, 10), { testSplit: 20, seed: 1 }), ErrorCode.InvalidArgument, '--test-split 20 (20 rows)');
  });

  it('splits nothing into nothing', () => {
    expect(splitExamples([], { valSplit: 0.1, testSplit: 0.1, seed: 1 })).toEqual({ train: [], val: [], test: [] });
  });
});
