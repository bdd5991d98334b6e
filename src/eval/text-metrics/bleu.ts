// Corpus BLEU as sacrebleu 2.6's `corpus_bleu` computes it with its defaults: the 13a tokenizer,
// n-grams up to 4, n-gram matches clipped by the largest count in any one reference, the
// reference length closest to each hypothesis (the shorter on a tie), and exponential smoothing
// (mteval's: the k-th order without a match counts as 1 / 2^k matches). Statistics are summed
// over the corpus before the score is formed, so this is not a mean of sentence scores.
import { ErrorCode, SftError } from '../../errors.js';
import { pythonRstrip, pythonSplit } from './python-text.js';
import { tokenize13a } from './tokenizer-13a.js';

const MAX_ORDER = 4;
/** sacrebleu's floor for log(0): it makes the score 0 without a NaN. */
const LOG_OF_ZERO = -9999999999;

export interface BleuOptions {
  /** The tokenizer applied to hypotheses and references (sacrebleu's default; the only one implemented). @default '13a' */
  tokenize?: '13a';
}

export interface BleuScore {
  /** BLEU in [0, 100]. */
  score: number;
  /** Matched n-grams of order 1..4, clipped by the references. */
  counts: number[];
  /** Hypothesis n-grams of order 1..4. */
  totals: number[];
  /** Smoothed n-gram precisions of order 1..4, in percent. */
  precisions: number[];
  /** Brevity penalty: 1 when the hypotheses are at least as long as the chosen references. */
  bp: number;
  /** Hypothesis tokens in the corpus. */
  sysLen: number;
  /** Reference tokens in the corpus (the closest reference of each hypothesis). */
  refLen: number;
}

/** n-grams of order 1..MAX_ORDER with their counts; tokens hold no spaces, so joining by one is unambiguous. */
function ngramCounts(tokens: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (let n = 1; n <= MAX_ORDER; n += 1) {
    for (let i = 0; i + n <= tokens.length; i += 1) {
      const key = tokens.slice(i, i + n).join(' ');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

function tokens(segment: string): string[] {
  return pythonSplit(tokenize13a(pythonRstrip(segment)));
}

function closestLength(hypothesisLength: number, referenceLengths: readonly number[]): number {
  let best = -1;
  let bestDiff = -1;
  for (const length of referenceLengths) {
    const diff = Math.abs(hypothesisLength - length);
    if (bestDiff === -1 || diff < bestDiff || (diff === bestDiff && length < best)) {
      bestDiff = diff;
      best = length;
    }
  }
  return best;
}

interface CorpusStats {
  sysLen: number;
  refLen: number;
  correct: number[];
  total: number[];
}

function addSegment(stats: CorpusStats, hypothesis: string, references: readonly string[]): void {
  const maxRefCounts = new Map<string, number>();
  const refLengths: number[] = [];
  for (const reference of references) {
    const refTokens = tokens(reference);
    refLengths.push(refTokens.length);
    for (const [ngram, count] of ngramCounts(refTokens)) {
      maxRefCounts.set(ngram, Math.max(maxRefCounts.get(ngram) ?? 0, count));
    }
  }
  const hypTokens = tokens(hypothesis);
  stats.sysLen += hypTokens.length;
  stats.refLen += closestLength(hypTokens.length, refLengths);
  for (const [ngram, count] of ngramCounts(hypTokens)) {
    const order = ngram.split(' ').length - 1;
    stats.total[order] = (stats.total[order] ?? 0) + count;
    stats.correct[order] = (stats.correct[order] ?? 0) + Math.min(count, maxRefCounts.get(ngram) ?? 0);
  }
}

function scoreFromStats({ sysLen, refLen, correct, total }: CorpusStats): BleuScore {
  let bp = 1;
  if (sysLen < refLen) bp = sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0;
  const precisions = new Array<number>(MAX_ORDER).fill(0);
  const result = { counts: correct, totals: total, precisions, bp, sysLen, refLen };
  if (!correct.some((c) => c > 0)) return { score: 0, ...result };
  let smoothing = 1;
  for (let n = 0; n < MAX_ORDER; n += 1) {
    const t = total[n] ?? 0;
    const c = correct[n] ?? 0;
    if (t === 0) break;
    if (c === 0) {
      smoothing *= 2;
      precisions[n] = 100 / (smoothing * t);
    } else {
      precisions[n] = (100 * c) / t;
    }
  }
  const logSum = precisions.reduce((sum, p) => sum + (p === 0 ? LOG_OF_ZERO : Math.log(p)), 0);
  return { score: bp * Math.exp(logSum / MAX_ORDER), ...result };
}

/**
 * Corpus BLEU of `hypotheses` against `referenceSets`, where `referenceSets[i]` holds the
 * reference (a string) or references (an array, at least one) of `hypotheses[i]`. Rows may have
 * different numbers of references. With no hypotheses every figure is 0 and bp is 1.
 */
export function corpusBleu(hypotheses: readonly string[], referenceSets: readonly (string | readonly string[])[], options: BleuOptions = {}): BleuScore {
  if (options.tokenize !== undefined && options.tokenize !== '13a') {
    throw new SftError(`corpusBleu: expected tokenize '13a' but received ${JSON.stringify(options.tokenize)}`, ErrorCode.InvalidArgument);
  }
  if (hypotheses.length !== referenceSets.length) {
    throw new SftError(`corpusBleu: ${hypotheses.length} hypotheses but ${referenceSets.length} reference sets; give one set (a string or an array of strings) per hypothesis`, ErrorCode.InvalidArgument);
  }
  const stats: CorpusStats = { sysLen: 0, refLen: 0, correct: new Array<number>(MAX_ORDER).fill(0), total: new Array<number>(MAX_ORDER).fill(0) };
  hypotheses.forEach((hypothesis, i) => {
    const set = referenceSets[i];
    const references = typeof set === 'string' ? [set] : set;
    if (typeof hypothesis !== 'string') {
      throw new SftError(`corpusBleu: hypothesis ${i} is ${typeof hypothesis}, expected a string`, ErrorCode.InvalidArgument);
    }
    if (!Array.isArray(references) || references.length === 0 || references.some((r) => typeof r !== 'string')) {
      throw new SftError(`corpusBleu: reference set ${i} must be a string or a non-empty array of strings`, ErrorCode.InvalidArgument);
    }
    addSegment(stats, hypothesis, references);
  });
  return scoreFromStats(stats);
}
