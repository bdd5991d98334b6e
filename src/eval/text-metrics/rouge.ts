// ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum F-measures of predictions against references, equal
// to rouge-score 0.1.2 (the package the `evaluate` library's "rouge" wraps) per example. The
// summary is the plain mean over examples: evaluate's default aggregate is a bootstrap estimate
// drawn with a random generator, so it is not reproducible and is not what we report.
import { ErrorCode, SftError } from '../../errors.js';
import { rougePair } from './rouge-scores.js';
import type { RougeF } from './rouge-scores.js';

export type { RougeF } from './rouge-scores.js';

export interface RougeOptions {
  /** Stem words longer than 3 letters with rouge-score's Porter stemmer (nltk's) before matching. @default false */
  useStemmer?: boolean;
}

export interface RougeResult extends RougeF {
  /** F-measures of each prediction, in input order (with several references, the best per type). */
  perExample: RougeF[];
}

const TYPES = ['rouge1', 'rouge2', 'rougeL', 'rougeLsum'] as const;

/** With several references, each type takes its best F over them (rouge-score's score_multi). */
function bestOver(scores: readonly RougeF[]): RougeF {
  const best = { ...(scores[0] as RougeF) };
  for (const score of scores.slice(1)) for (const type of TYPES) best[type] = Math.max(best[type], score[type]);
  return best;
}

/**
 * ROUGE of `predictions[i]` against `references[i]` (a string, or a non-empty array of strings
 * when a prediction has several references). Each value is in [0, 1]; with no predictions the
 * means are 0 and perExample is empty.
 */
export function rouge(predictions: readonly string[], references: readonly (string | readonly string[])[], options: RougeOptions = {}): RougeResult {
  const useStemmer = options.useStemmer ?? false;
  if (typeof useStemmer !== 'boolean') {
    throw new SftError(`rouge: expected a boolean for useStemmer but received ${JSON.stringify(useStemmer)}`, ErrorCode.InvalidArgument);
  }
  if (predictions.length !== references.length) {
    throw new SftError(`rouge: ${predictions.length} predictions but ${references.length} references; give one reference (or an array of them) per prediction`, ErrorCode.InvalidArgument);
  }
  const perExample = predictions.map((prediction, i) => {
    const entry = references[i];
    const refs = typeof entry === 'string' ? [entry] : entry;
    if (typeof prediction !== 'string') {
      throw new SftError(`rouge: prediction ${i} is ${typeof prediction}, expected a string`, ErrorCode.InvalidArgument);
    }
    if (!Array.isArray(refs) || refs.length === 0 || refs.some((r) => typeof r !== 'string')) {
      throw new SftError(`rouge: reference ${i} must be a string or a non-empty array of strings`, ErrorCode.InvalidArgument);
    }
    return bestOver((refs as readonly string[]).map((reference) => rougePair(prediction, reference, useStemmer)));
  });
  const mean = (type: (typeof TYPES)[number]): number => (perExample.length === 0 ? 0 : perExample.reduce((sum, e) => sum + e[type], 0) / perExample.length);
  return { rouge1: mean('rouge1'), rouge2: mean('rouge2'), rougeL: mean('rougeL'), rougeLsum: mean('rougeLsum'), perExample };
}
