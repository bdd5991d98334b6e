// --folds N --fold I: a seeded stratified k-fold split of label rows, the seed classifier's
// "5 folds, fold 0 held out". The same rows, seed and fold count give the same folds on every
// machine, so `sft eval` scores exactly the fold `sft train` held out.
//
// The recipe (scikit-learn's StratifiedKFold allocation, with our seeded shuffle):
//   1. classes in order of first appearance in the rows (as StratifiedKFold encodes them); the
//      rows of each class in a seeded shuffle (shuffle.ts; the k-th class with seed + k);
//   2. the rows of all classes, class after class, dealt round robin: the j-th goes to fold j mod N.
// So each fold holds floor or ceil of (class rows / N) of every class, and fold sizes differ
// by at most one: the per-class counts equal StratifiedKFold's (test/unit/classify-kfold.test.ts
// checks them against scikit-learn). Which rows of a class land in which fold differs from
// scikit-learn's, whose order comes from numpy's generator.
import { ErrorCode, SftError } from '../errors.js';
import { seededShuffle } from './shuffle.js';
import type { Splits } from './split.js';

export interface KFoldOptions {
  /** Number of folds, >= 2. */
  folds: number;
  /** The held-out fold, 0-based, < folds. */
  fold: number;
  seed: number;
}

export interface KFoldSplit<T> {
  /** The rows of every fold but the held-out one, in input order. */
  train: T[];
  /** The rows of the held-out fold, in input order. */
  heldOut: T[];
}

/** The fold (0..folds-1) of each row, in input order. */
export function stratifiedFoldOf<T>(rows: readonly T[], labelOf: (row: T) => string, o: { folds: number; seed: number }): number[] {
  if (!Number.isSafeInteger(o.folds) || o.folds < 2) {
    throw new SftError(`Expected an integer >= 2 for --folds but received ${o.folds}`, ErrorCode.InvalidArgument);
  }
  if (rows.length < o.folds) {
    throw new SftError(`--folds ${o.folds} needs at least ${o.folds} rows, one per fold, but there are ${rows.length}`, ErrorCode.InvalidArgument);
  }
  const byClass = new Map<string, number[]>();
  rows.forEach((row, i) => {
    const label = labelOf(row);
    const members = byClass.get(label);
    if (members) members.push(i);
    else byClass.set(label, [i]);
  });
  const order = [...byClass.values()].flatMap((members, k) => seededShuffle(members, o.seed + k));
  const foldOf = new Array<number>(rows.length).fill(0);
  order.forEach((rowIndex, j) => (foldOf[rowIndex] = j % o.folds));
  return foldOf;
}

/** Splits rows into the held-out fold and the rest. */
export function stratifiedKFold<T>(rows: readonly T[], labelOf: (row: T) => string, o: KFoldOptions): KFoldSplit<T> {
  if (!Number.isSafeInteger(o.fold) || o.fold < 0 || o.fold >= o.folds) {
    throw new SftError(`Expected an integer in [0, ${o.folds - 1}] for --fold (the held-out fold of --folds ${o.folds}) but received ${o.fold}`, ErrorCode.InvalidArgument);
  }
  const foldOf = stratifiedFoldOf(rows, labelOf, o);
  return { train: rows.filter((_, i) => foldOf[i] !== o.fold), heldOut: rows.filter((_, i) => foldOf[i] === o.fold) };
}

/**
 * --folds on top of the seeded split (split.ts): the rows left for training are split into
 * folds; the held-out fold becomes the validation rows, the test rows stay as they were.
 * --val-split chooses validation rows too, so the two are refused together.
 */
export function applyFolds<T>(splits: Splits<T>, labelOf: (row: T) => string, o: KFoldOptions & { valSplit: number }): Splits<T> {
  if (o.valSplit !== 0) {
    throw new SftError(`--val-split ${o.valSplit} and --folds ${o.folds} both choose the validation rows; with --folds the held-out fold (--fold) is the validation split, so drop --val-split`, ErrorCode.InvalidArgument);
  }
  const { train, heldOut } = stratifiedKFold([...splits.train, ...splits.val], labelOf, o);
  return { test: splits.test, val: heldOut, train };
}
