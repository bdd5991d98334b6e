// Scoring a sequence classifier (task 'classify'): the score head's logits for each prompt, in
// batches grouped by length (right-padded, the mask marks the padding: the head reads each
// row's last real token), turned into class probabilities and scored by classify-metrics.ts.
// Prompts are the training prompts (the template with the text, no answer), so what the head
// reads at evaluation is what it was trained on.
import type { Model } from '../engine/model.js';
import { ErrorCode, SftError } from '../errors.js';
import { classifyScores, softmax } from './classify-metrics.js';
import type { ClassifyPredictionLine, EvalMetrics } from './report-types.js';

export interface ClassifyRow {
  file: string;
  row: number;
  /** True class name. */
  label: string;
}

export interface ScoreClassifierOptions {
  batchSize: number;
  which: 'base' | 'adapter';
  /** Called after each batch with prompts done so far and the total. */
  onBatch?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/**
 * The name of each of the head's classes: the label map's names in its order, then
 * LABEL_k (transformers' id2label default) for indices a larger head has beyond them.
 */
export function headClassNames(classNames: readonly string[], numLabels: number): string[] {
  return Array.from({ length: numLabels }, (_, k) => classNames[k] ?? `LABEL_${k}`);
}

/** Float32 class logits of each prompt, in input order, `batchSize` prompts per engine call. */
export async function classifierLogits(model: Model, prompts: readonly number[][], o: Omit<ScoreClassifierOptions, 'which'>): Promise<Float32Array[]> {
  const padId = model.padTokenId ?? 0;
  const order = prompts.map((_, i) => i).sort((a, b) => (prompts[b] as number[]).length - (prompts[a] as number[]).length || a - b);
  const out = new Array<Float32Array>(prompts.length);
  for (let start = 0; start < order.length; start += o.batchSize) {
    if (o.signal?.aborted) throw new SftError(`evaluation stopped after ${start} of ${order.length} prompts (aborted)`, ErrorCode.Aborted);
    const indices = order.slice(start, start + o.batchSize);
    const rows = indices.map((i) => prompts[i] as number[]);
    const width = Math.max(...rows.map((r) => r.length));
    const ids = rows.map((r) => r.concat(new Array<number>(width - r.length).fill(padId)));
    const attentionMask = rows.map((r) => r.map(() => 1).concat(new Array<number>(width - r.length).fill(0)));
    const { shape, data } = await model.classifyLogits(ids, { attentionMask });
    const k = shape[1] as number;
    indices.forEach((i, j) => (out[i] = data.slice(j * k, (j + 1) * k)));
    o.onBatch?.(Math.min(start + o.batchSize, order.length), order.length);
  }
  return out;
}

/** Scores one model state (base head or the adapter's) on prepared prompts. */
export async function scoreClassifier(
  model: Model,
  prompts: readonly number[][],
  rows: readonly ClassifyRow[],
  classNames: readonly string[],
  o: ScoreClassifierOptions,
): Promise<{ metrics: EvalMetrics; predictions: ClassifyPredictionLine[] }> {
  const numLabels = model.numLabels;
  if (numLabels === undefined) throw new SftError(`model ${model.dir} has no score head: load it with {task: 'classify', numLabels}`, ErrorCode.InvalidArgument);
  const names = headClassNames(classNames, numLabels);
  const started = performance.now();
  const logits = await classifierLogits(model, prompts, o);
  const seconds = (performance.now() - started) / 1000;
  const probabilities = logits.map((l) => softmax(l));
  const index = new Map(names.map((n, k) => [n, k]));
  const truth = rows.map((r) => {
    const k = index.get(r.label);
    if (k === undefined) throw new SftError(`row ${r.file}:${r.row} has label '${r.label}', which is not one of the head's classes (${names.join(', ')})`, ErrorCode.InvalidArgument);
    return k;
  });
  const s = classifyScores(truth, probabilities, numLabels);
  const predictions = rows.map((r, i): ClassifyPredictionLine => {
    const predicted = names[s.predicted[i] as number] as string;
    const p = probabilities[i] as number[];
    return { which: o.which, file: r.file, row: r.row, label: r.label, prediction: predicted, correct: predicted === r.label, probabilities: Object.fromEntries(names.map((n, k) => [n, p[k] as number])) };
  });
  const metrics: EvalMetrics = {
    n: s.n,
    acc: s.accuracy,
    // every row gets a class: there are no invalid outputs
    resp_acc: s.n === 0 ? 0 : 1,
    correct: s.correct,
    valid: s.n,
    // the reports' shape: one count per class, then the (empty) invalid column
    confusion: { labels: names, counts: s.confusion.map((row) => [...row, 0]) },
    seconds,
    log_loss: s.logLoss,
    macro_f1: s.macroF1,
  };
  return { metrics, predictions };
}
