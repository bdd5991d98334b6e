// Scores parsed predictions against true labels: acc (invalid outputs count as wrong), resp_acc
// (share of outputs holding a valid label) and the confusion matrix the reports print.
// It reads class names only; which text became which prediction is label-parser.ts's job.
import type { LabelClass } from '../data/label-map.js';
import { ErrorCode, SftError } from '../errors.js';
import type { ConfusionMatrix, EvalMetrics } from './report-types.js';

export interface ScoredItem {
  /** True class name. */
  label: string;
  /** Parsed class name, or null for an output with no valid label. */
  prediction: string | null;
}

/**
 * Metrics over `items`. Confusion rows are true classes and columns predicted classes, both in
 * `classes` order, plus a last column for invalid outputs. With no items acc and resp_acc are 0
 * (JSON has no NaN, and n = 0 next to them says why).
 */
export function computeMetrics(items: readonly ScoredItem[], classes: readonly LabelClass[], seconds: number): EvalMetrics {
  const labels = classes.map((c) => c.name);
  const index = new Map(labels.map((name, i) => [name, i]));
  if (index.size !== labels.length) {
    throw new SftError(`computeMetrics: class names repeat (${labels.join(', ')}); each class needs its own name`, ErrorCode.InvalidArgument);
  }
  const invalidColumn = labels.length;
  const counts = labels.map(() => new Array<number>(labels.length + 1).fill(0));
  let correct = 0;
  let valid = 0;
  items.forEach((item, i) => {
    const row = index.get(item.label);
    if (row === undefined) {
      throw new SftError(`computeMetrics: item ${i} has label '${item.label}', which is not a class (classes: ${labels.join(', ')})`, ErrorCode.InvalidArgument);
    }
    let column = invalidColumn;
    if (item.prediction !== null) {
      const predicted = index.get(item.prediction);
      if (predicted === undefined) {
        throw new SftError(`computeMetrics: item ${i} has prediction '${item.prediction}', which is not a class (classes: ${labels.join(', ')})`, ErrorCode.InvalidArgument);
      }
      column = predicted;
      valid += 1;
      if (predicted === row) correct += 1;
    }
    const cells = counts[row] as number[];
    cells[column] = (cells[column] ?? 0) + 1;
  });
  const n = items.length;
  const confusion: ConfusionMatrix = { labels, counts };
  return { n, acc: n === 0 ? 0 : correct / n, resp_acc: n === 0 ? 0 : valid / n, correct, valid, confusion, seconds };
}
