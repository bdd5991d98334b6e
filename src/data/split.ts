// Train / validation / test splits that the same options reproduce exactly, so `sft eval` can
// score the rows `sft train` held out. The recipe, in this order:
//   1. shuffle all examples with the seed (shuffle.ts; the input order is readRows's order);
//   2. keep the first `limit` of the shuffled examples (all when no limit);
//   3. the first nTest of those are test, the next nVal are val, the rest are train.
// So the kept rows are a random sample of the data, and with the same data, seed and limit a
// row always lands in the same split. Changing `limit` changes which rows are kept and how many
// go to each split. No stratification: with a balanced data set and a few hundred rows the class
// mix of each split is close to the whole's.
//
// Split sizes: a value in [0, 1) is a fraction of the kept rows, rounded to the nearest row
// (0.1 of 25,000 is 2,500; 0.1 of 5 is 1); an integer >= 1 is a row count. Anything else (1.5,
// negative, NaN) is an error. Val and test together may not take every kept row.
import { ErrorCode, SftError } from '../errors.js';
import { seededShuffle } from './shuffle.js';

export interface SplitOptions {
  /** Fraction in [0, 1) or row count >= 1 for validation (default 0). */
  valSplit?: number;
  /** Fraction in [0, 1) or row count >= 1 for test (default 0). */
  testSplit?: number;
  /** Keep at most this many rows (after the shuffle, before splitting); integer >= 1. */
  limit?: number;
  /** Shuffle seed, any safe integer. */
  seed: number;
}

export interface Splits<T> {
  train: T[];
  val: T[];
  test: T[];
}

/** Rows a split option asks for out of `kept` rows. */
export function splitSize(value: number, kept: number, option: string): number {
  if (Number.isFinite(value) && value >= 0 && value < 1) return Math.round(value * kept);
  if (Number.isSafeInteger(value) && value >= 1) return value;
  throw new SftError(`Expected a fraction in [0, 1) or a whole number of rows >= 1 for ${option} but received ${value}`, ErrorCode.InvalidArgument);
}

export function splitExamples<T>(examples: readonly T[], options: SplitOptions): Splits<T> {
  const { valSplit = 0, testSplit = 0, limit, seed } = options;
  if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 1)) {
    throw new SftError(`Expected a whole number >= 1 for --limit but received ${limit}`, ErrorCode.InvalidArgument);
  }
  const shuffled = seededShuffle(examples, seed);
  const kept = limit === undefined ? shuffled : shuffled.slice(0, limit);
  const nTest = splitSize(testSplit, kept.length, '--test-split');
  const nVal = splitSize(valSplit, kept.length, '--val-split');
  if (kept.length > 0 && nTest + nVal >= kept.length) {
    throw new SftError(
      `--val-split ${valSplit} (${nVal} rows) and --test-split ${testSplit} (${nTest} rows) leave no training rows out of ${kept.length}; lower them or use more data`,
      ErrorCode.InvalidArgument,
    );
  }
  return { test: kept.slice(0, nTest), val: kept.slice(nTest, nTest + nVal), train: kept.slice(nTest + nVal) };
}
