// Scores of sequence classification (a score head's logits, task 'classify'): class
// probabilities by softmax, accuracy, log loss, macro F1 and the confusion matrix. Each number
// is scikit-learn's definition, checked against it on fixtures (test/unit/classify-metrics.test.ts,
// scripts/reference/make_classify_metric_fixtures.py):
//   log loss  = sklearn.metrics.log_loss(y, P, labels=range(K)): natural log, mean over rows,
//               each probability first clipped to [eps, 1 - eps] with eps = 2^-52 (float64's
//               machine epsilon), no renormalization after the clip;
//   macro F1  = sklearn.metrics.f1_score(y, pred, average='macro'): the unweighted mean of the
//               per-class F1 = 2 TP / (2 TP + FP + FN) over the classes that occur among the
//               true labels or the predictions (a class in neither is left out of the mean);
//   accuracy  = sklearn.metrics.accuracy_score; confusion = confusion_matrix (rows true, columns predicted).
import { ErrorCode, SftError } from '../errors.js';

/** float64's machine epsilon, numpy's finfo(float64).eps: log_loss's clip. */
export const LOG_LOSS_EPS = 2 ** -52;

/** Softmax of one row of logits in float64, shifted by the row's maximum. */
export function softmax(logits: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i] as number);
  const exps = Array.from({ length: logits.length }, (_, i) => Math.exp((logits[i] as number) - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

/** Index of the largest value; the first one on ties (numpy's argmax). */
export function argmax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] as number) > (values[best] as number)) best = i;
  return best;
}

function checkRows(truth: readonly number[], probabilities: readonly (readonly number[])[], numLabels: number): void {
  if (truth.length !== probabilities.length) {
    throw new SftError(`classification metrics: ${truth.length} true labels but ${probabilities.length} probability rows`, ErrorCode.InvalidArgument);
  }
  truth.forEach((t, i) => {
    if (!Number.isInteger(t) || t < 0 || t >= numLabels) {
      throw new SftError(`classification metrics: row ${i} has true class ${t}, outside 0..${numLabels - 1}`, ErrorCode.InvalidArgument);
    }
    if ((probabilities[i] as readonly number[]).length !== numLabels) {
      throw new SftError(`classification metrics: row ${i} has ${(probabilities[i] as readonly number[]).length} probabilities, expected ${numLabels}`, ErrorCode.InvalidArgument);
    }
  });
}

/** Mean over rows of -ln(clip(p[true class], eps, 1 - eps)); 0 rows give 0. */
export function logLoss(truth: readonly number[], probabilities: readonly (readonly number[])[], numLabels: number): number {
  checkRows(truth, probabilities, numLabels);
  if (truth.length === 0) return 0;
  let sum = 0;
  truth.forEach((t, i) => {
    const p = (probabilities[i] as readonly number[])[t] as number;
    sum -= Math.log(Math.min(Math.max(p, LOG_LOSS_EPS), 1 - LOG_LOSS_EPS));
  });
  return sum / truth.length;
}

/** Counts [true][predicted] over numLabels classes. */
export function confusionCounts(truth: readonly number[], predicted: readonly number[], numLabels: number): number[][] {
  const counts = Array.from({ length: numLabels }, () => new Array<number>(numLabels).fill(0));
  truth.forEach((t, i) => {
    const row = counts[t] as number[];
    const p = predicted[i] as number;
    row[p] = (row[p] as number) + 1;
  });
  return counts;
}

/** Macro F1 over the classes present among the true labels or the predictions; 0 rows give 0. */
export function macroF1(truth: readonly number[], predicted: readonly number[], numLabels: number): number {
  const counts = confusionCounts(truth, predicted, numLabels);
  const scores: number[] = [];
  for (let k = 0; k < numLabels; k++) {
    const tp = (counts[k] as number[])[k] as number;
    const fn = (counts[k] as number[]).reduce((a, b) => a + b, 0) - tp;
    const fp = counts.reduce((a, row) => a + (row[k] as number), 0) - tp;
    if (tp + fn + fp === 0) continue; // neither a true label nor a prediction
    scores.push((2 * tp) / (2 * tp + fp + fn));
  }
  return scores.length === 0 ? 0 : scores.reduce((a, b) => a + b, 0) / scores.length;
}

export interface ClassifyScores {
  n: number;
  correct: number;
  accuracy: number;
  logLoss: number;
  macroF1: number;
  /** [true][predicted], numLabels x numLabels. */
  confusion: number[][];
  /** argmax of each row's probabilities. */
  predicted: number[];
}

/** Every score of one model's probabilities against the true classes. */
export function classifyScores(truth: readonly number[], probabilities: readonly (readonly number[])[], numLabels: number): ClassifyScores {
  checkRows(truth, probabilities, numLabels);
  const predicted = probabilities.map((p) => argmax(p as number[]));
  const correct = predicted.filter((p, i) => p === truth[i]).length;
  const n = truth.length;
  return {
    n,
    correct,
    accuracy: n === 0 ? 0 : correct / n,
    logLoss: logLoss(truth, probabilities, numLabels),
    macroF1: macroF1(truth, predicted, numLabels),
    confusion: confusionCounts(truth, predicted, numLabels),
    predicted,
  };
}
