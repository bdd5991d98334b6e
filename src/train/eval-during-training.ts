// Validation during training (--eval-every): the loss on the held-out rows, computed exactly as
// the training step defines it (cross-entropy per target token, the next-token shift of
// transformers: the logits at position t-1 score the label at t, labels of -100 and each row's
// first position left out) but from the model's inference logits, so LoRA dropout is off and
// the dropout generator a resumed run depends on is not touched. Rows go one at a time: the
// float32 logits of one row (tokens x vocab) are all that is held.
//
// Classification models (a score head): cross-entropy of the head's logits at each row's last
// token against its class, and the accuracy of their argmax.
import type { TokenizedExample } from '../data/collate.js';
import { IGNORE_INDEX } from '../data/collate.js';
import type { ClassifyExample } from '../engine/classify-batch.js';
import type { Model } from '../engine/model.js';
import { ErrorCode, SftError } from '../errors.js';
import type { BestMetric, EvalPoint } from './early-stopping.js';

export interface ValidationLoss {
  /** Mean cross-entropy per target (token, or row for a score head). */
  loss: number;
  /** Targets the mean is over. */
  targets: number;
}

/** log(sum(exp(x))) of row[offset, offset + n), stable. */
function logSumExp(row: Float32Array, offset: number, n: number): number {
  let max = -Infinity;
  for (let j = 0; j < n; j++) max = Math.max(max, row[offset + j] as number);
  if (!Number.isFinite(max)) return max;
  let sum = 0;
  for (let j = 0; j < n; j++) sum += Math.exp((row[offset + j] as number) - max);
  return max + Math.log(sum);
}

/** Summed next-token cross-entropy of one row from its logits [1, T, V], and the targets counted. */
export function rowCrossEntropy(logits: Float32Array, vocab: number, labels: readonly number[]): { sum: number; targets: number } {
  let sum = 0;
  let targets = 0;
  for (let t = 1; t < labels.length; t++) {
    const target = labels[t] as number;
    if (target === IGNORE_INDEX) continue;
    const offset = (t - 1) * vocab;
    sum += logSumExp(logits, offset, vocab) - (logits[offset + target] as number);
    targets++;
  }
  return { sum, targets };
}

/** Validation loss of a language model over tokenized rows (prompt + response, labels -100 off the response). */
export async function languageModelLoss(model: Model, rows: readonly TokenizedExample[], signal?: AbortSignal): Promise<ValidationLoss> {
  let sum = 0;
  let targets = 0;
  for (const row of rows) {
    if (signal?.aborted) throw new SftError('validation stopped', ErrorCode.Aborted);
    const { shape, data } = await model.logits([row.ids]);
    const r = rowCrossEntropy(data, shape[2] as number, row.labels);
    sum += r.sum;
    targets += r.targets;
  }
  if (targets === 0) throw new SftError(`validation: the ${rows.length} validation rows hold no target tokens`, ErrorCode.InvalidArgument);
  return { loss: sum / targets, targets };
}

/** Validation loss and accuracy of a score head over classification rows (evaluated `batch` rows at a time). */
export async function classifierLoss(model: Model, rows: readonly ClassifyExample[], batch: number, signal?: AbortSignal): Promise<ValidationLoss & { acc: number }> {
  let sum = 0;
  let correct = 0;
  for (let i = 0; i < rows.length; i += batch) {
    if (signal?.aborted) throw new SftError('validation stopped', ErrorCode.Aborted);
    const chunk = rows.slice(i, i + batch);
    const width = Math.max(...chunk.map((r) => r.ids.length));
    const ids = chunk.map((r) => [...r.ids, ...Array<number>(width - r.ids.length).fill(0)]);
    const attentionMask = chunk.map((r) => [...r.ids.map(() => 1), ...Array<number>(width - r.ids.length).fill(0)]);
    const { shape, data } = await model.classifyLogits(ids, { attentionMask });
    const labels = shape[1] as number;
    chunk.forEach((r, k) => {
      sum += logSumExp(data, k * labels, labels) - (data[k * labels + r.label] as number);
      let argmax = 0;
      for (let j = 1; j < labels; j++) if ((data[k * labels + j] as number) > (data[k * labels + argmax] as number)) argmax = j;
      if (argmax === r.label) correct++;
    });
  }
  if (rows.length === 0) throw new SftError('validation: no validation rows', ErrorCode.InvalidArgument);
  return { loss: sum / rows.length, targets: rows.length, acc: correct / rows.length };
}

/** What an evaluation scores: the validation rows as the training rows are batched, and for label rows the generated answers. */
export interface ValidationSet {
  /** Language-model rows (prompt + response). */
  lm?: readonly TokenizedExample[];
  /** Score-head rows (prompt, class index). */
  classify?: readonly ClassifyExample[];
  /** Rows per classifyLogits call. */
  batch: number;
  /** acc / resp_acc of the generated labels (label rows, generation task). */
  scoreLabels?: () => Promise<{ acc: number; resp_acc: number }>;
  signal?: AbortSignal;
}

/** The evaluation the training loop runs every N steps. */
export function validationRunner(model: Model, set: ValidationSet): (step: number) => Promise<EvalPoint> {
  return async (step) => {
    if (set.classify) {
      const { loss, acc } = await classifierLoss(model, set.classify, set.batch, set.signal);
      return { step, eval_loss: loss, acc };
    }
    const { loss } = await languageModelLoss(model, set.lm ?? [], set.signal);
    const labels = set.scoreLabels ? await set.scoreLabels() : undefined;
    return { step, eval_loss: loss, ...(labels ? { acc: labels.acc, resp_acc: labels.resp_acc } : {}) };
  };
}

/**
 * Refuses evaluation options the run cannot honour, before the model loads: no validation rows,
 * or a best metric the task does not compute (acc / resp_acc need label rows; a score head has
 * no resp_acc, every answer being a class).
 */
export function checkValidationOptions(o: { evalEvery?: number | undefined; bestMetric: BestMetric; valSplit: number }, valRows: number, task: 'labels' | 'instructions' | 'classify'): void {
  if (o.evalEvery === undefined) return;
  if (valRows === 0) {
    throw new SftError(`--eval-every ${o.evalEvery} needs validation rows, but --val-split ${o.valSplit} holds none; pass --val-split (a fraction such as 0.1, or a row count)`, ErrorCode.InvalidArgument);
  }
  if (o.bestMetric === 'eval_loss') return;
  if (task === 'instructions') {
    throw new SftError(`--best-metric ${o.bestMetric} needs label rows (a label to be right about); instruction data has eval_loss: use --best-metric eval_loss`, ErrorCode.InvalidArgument);
  }
  if (task === 'classify' && o.bestMetric === 'resp_acc') {
    throw new SftError('--best-metric resp_acc: a score head always answers with a class, so resp_acc is 1; use --best-metric acc or eval_loss', ErrorCode.InvalidArgument);
  }
}

/** Validation rows for a score head: each row's prompt (no answer) and its class's index in the label map. */
export async function classifyValidationRows(
  builder: { prompts(texts: string[], reserve: number): Promise<{ ids: number[] }[]> },
  rows: readonly { text: string; label: string }[],
  classes: readonly { name: string }[],
): Promise<ClassifyExample[]> {
  const index = new Map(classes.map((c, i) => [c.name, i]));
  const prompts = await builder.prompts(rows.map((r) => r.text), 0);
  return prompts.map((p, i) => ({ ids: p.ids, label: index.get((rows[i] as { label: string }).label) as number }));
}
