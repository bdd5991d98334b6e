// The training batch of sequence-classification mode: token rows (left- or right-padded, with
// their attention mask) and one class index per row, and its padding-free form for the native
// classification step. Not here: how text becomes ids or a label becomes an index (src/data).
import { ErrorCode, SftError } from '../errors.js';
import { packRows } from '../data/pack.js';
import type { PackedClassifyBatch } from '../native.js';

/** One micro-batch of classification training. */
export interface ClassifyBatch {
  /** Token rows; with padding, attentionMask marks the real tokens (left or right padding). */
  ids: number[][];
  /** 1 = token, 0 = padding, same shape as ids. Absent: every position is a token. */
  attentionMask?: number[][];
  /** The class index of each row, in [0, numLabels). */
  labels: number[];
}

/** A classification batch (one label per row) rather than a token-labelled one. */
export function isClassifyBatch(batch: object): batch is ClassifyBatch {
  const labels = (batch as { labels?: unknown }).labels;
  return Array.isArray(labels) && labels.every((l) => typeof l === 'number');
}

/**
 * Each row's real tokens one row after another, with its label. INVALID_ARGUMENT names the row
 * whose mask does not match its ids, that has no token, or whose label is not a class index.
 */
export function packClassifyBatch(batch: ClassifyBatch, numLabels: number): PackedClassifyBatch {
  const { ids, attentionMask, labels } = batch;
  if (labels.length !== ids.length || (attentionMask && attentionMask.length !== ids.length)) {
    throw new SftError(
      `classify batch: ids has ${ids.length} rows, labels ${labels.length}${attentionMask ? ` and attentionMask ${attentionMask.length}` : ''}; they must match`,
      ErrorCode.InvalidArgument,
    );
  }
  const rows = ids.map((row, b) => {
    const mask = attentionMask?.[b];
    if (mask && mask.length !== row.length) {
      throw new SftError(`classify batch: row ${b} has ${row.length} ids but ${mask.length} mask entries`, ErrorCode.InvalidArgument);
    }
    const tokens = mask ? row.filter((_, t) => mask[t] === 1) : row;
    if (tokens.length === 0) throw new SftError(`classify batch: row ${b} has no token (its mask is all 0)`, ErrorCode.InvalidArgument);
    return tokens;
  });
  labels.forEach((l, b) => {
    if (!Number.isInteger(l) || l < 0 || l >= numLabels) {
      throw new SftError(`classify batch: labels[${b}] is ${String(l)}; expected a class index in [0, ${numLabels})`, ErrorCode.InvalidArgument);
    }
  });
  const packed = packRows(rows, 'ids');
  return { ids: packed.ids, seqLens: packed.seqLens, labels: Int32Array.from(labels) };
}

/** One tokenized classification row: the prompt's ids and its class index. */
export interface ClassifyExample {
  ids: number[];
  label: number;
}

/** Rows right-padded with padTokenId into one ClassifyBatch. */
export function collateClassify(rows: readonly ClassifyExample[], padTokenId: number): ClassifyBatch {
  const width = Math.max(...rows.map((r) => r.ids.length));
  return {
    ids: rows.map((r) => [...r.ids, ...Array<number>(width - r.ids.length).fill(padTokenId)]),
    attentionMask: rows.map((r) => [...r.ids.map(() => 1), ...Array<number>(width - r.ids.length).fill(0)]),
    labels: rows.map((r) => r.label),
  };
}
