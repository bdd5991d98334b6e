// ROUGE of one prediction against one reference, as rouge-score 0.1.2's RougeScorer.score
// computes it: ROUGE-N from clipped n-gram overlap, ROUGE-L from the longest common subsequence
// of the token lists, ROUGE-Lsum (summary-level LCS, Lin 2004 section 3.2) from the union of each
// reference line's LCS with every prediction line, each union token counted at most as often as
// it occurs on both sides. Lines are the text split on "\n", empty ones dropped.
import { rougeTokens } from './rouge-tokenizer.js';

export interface RougeF {
  rouge1: number;
  rouge2: number;
  rougeL: number;
  rougeLsum: number;
}

function fMeasure(precision: number, recall: number): number {
  return precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
}

function ngrams(tokens: readonly string[], n: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i + n <= tokens.length; i += 1) {
    const key = tokens.slice(i, i + n).join(' ');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

function rougeN(reference: readonly string[], prediction: readonly string[], n: number): number {
  const refCounts = ngrams(reference, n);
  const predCounts = ngrams(prediction, n);
  let overlap = 0;
  for (const [gram, count] of refCounts) overlap += Math.min(count, predCounts.get(gram) ?? 0);
  const refTotal = Math.max(0, reference.length - n + 1);
  const predTotal = Math.max(0, prediction.length - n + 1);
  return fMeasure(overlap / Math.max(predTotal, 1), overlap / Math.max(refTotal, 1));
}

/** table[i][j] = LCS length of ref[0, i) and can[0, j); (rows + 1) x (cols + 1). */
function lcsTable(ref: readonly string[], can: readonly string[]): Int32Array[] {
  const table = Array.from({ length: ref.length + 1 }, () => new Int32Array(can.length + 1));
  for (let i = 1; i <= ref.length; i += 1) {
    const row = table[i] as Int32Array;
    const above = table[i - 1] as Int32Array;
    for (let j = 1; j <= can.length; j += 1) {
      row[j] = ref[i - 1] === can[j - 1] ? (above[j - 1] as number) + 1 : Math.max(above[j] as number, row[j - 1] as number);
    }
  }
  return table;
}

function rougeL(reference: readonly string[], prediction: readonly string[]): number {
  if (reference.length === 0 || prediction.length === 0) return 0;
  const lcs = (lcsTable(reference, prediction)[reference.length] as Int32Array)[prediction.length] as number;
  return fMeasure(lcs / prediction.length, lcs / reference.length);
}

/**
 * Indices into `ref` of one longest common subsequence with `can`. Which one matters for Lsum's
 * union: the walk back prefers a match, then a step left only when it keeps a strictly longer
 * LCS, else a step up (rouge-score's backtrack).
 */
function lcsIndices(ref: readonly string[], can: readonly string[]): number[] {
  const table = lcsTable(ref, can);
  const indices: number[] = [];
  let i = ref.length;
  let j = can.length;
  while (i > 0 && j > 0) {
    if (ref[i - 1] === can[j - 1]) {
      indices.push(i - 1);
      i -= 1;
      j -= 1;
    } else if (((table[i] as Int32Array)[j - 1] as number) > ((table[i - 1] as Int32Array)[j] as number)) {
      j -= 1;
    } else {
      i -= 1;
    }
  }
  return indices;
}

function tokenCounts(lines: readonly (readonly string[])[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of lines) for (const token of line) counts.set(token, (counts.get(token) ?? 0) + 1);
  return counts;
}

function rougeLsum(referenceLines: readonly string[][], predictionLines: readonly string[][]): number {
  if (referenceLines.length === 0 || predictionLines.length === 0) return 0;
  const m = referenceLines.reduce((sum, line) => sum + line.length, 0);
  const n = predictionLines.reduce((sum, line) => sum + line.length, 0);
  if (m === 0 || n === 0) return 0;
  const refLeft = tokenCounts(referenceLines);
  const predLeft = tokenCounts(predictionLines);
  let hits = 0;
  for (const refLine of referenceLines) {
    const union = new Set<number>();
    for (const predLine of predictionLines) for (const index of lcsIndices(refLine, predLine)) union.add(index);
    for (const index of [...union].sort((a, b) => a - b)) {
      const token = refLine[index] as string;
      const inPred = predLeft.get(token) ?? 0;
      const inRef = refLeft.get(token) ?? 0;
      if (inPred > 0 && inRef > 0) {
        hits += 1;
        predLeft.set(token, inPred - 1);
        refLeft.set(token, inRef - 1);
      }
    }
  }
  return fMeasure(hits / n, hits / m);
}

function lines(text: string, useStemmer: boolean): string[][] {
  return text.split('\n').filter((line) => line.length > 0).map((line) => rougeTokens(line, useStemmer));
}

/** F-measures of `prediction` against `reference`. */
export function rougePair(prediction: string, reference: string, useStemmer: boolean): RougeF {
  const ref = rougeTokens(reference, useStemmer);
  const pred = rougeTokens(prediction, useStemmer);
  return {
    rouge1: rougeN(ref, pred, 1),
    rouge2: rougeN(ref, pred, 2),
    rougeL: rougeL(ref, pred),
    rougeLsum: rougeLsum(lines(reference, useStemmer), lines(prediction, useStemmer)),
  };
}
