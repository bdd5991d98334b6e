// Token rows as the native engine takes them: typed arrays, sequences one after another with
// their lengths (no padding), or a right-padded matrix with its shape. packBatch turns the
// padded training Batch (collate.ts, the public batch type) into a PackedBatch; the loss and
// the gradients are the padded batch's (the engine's padding-free step is tested against it).
import { ErrorCode, SftError } from '../errors.js';
import { IGNORE_INDEX, type Batch } from './collate.js';

/** A padding-free training batch: sequence i is the next seqLens[i] entries of ids and labels. */
export interface PackedBatch {
  ids: Int32Array;
  /** Aligned with ids: the loss at token t predicts labels[t + 1] of the same sequence; -100 = no loss. */
  labels: Int32Array;
  /** Each >= 1, summing to ids.length. */
  seqLens: Int32Array;
}

/** Sequences of token ids one after another (generate's prompts and its output). */
export interface PackedTokens {
  ids: Int32Array;
  seqLens: Int32Array;
}

/** A right-padded (rows, cols) matrix of token ids, row-major, with its attention mask. */
export interface TokenMatrix {
  ids: Int32Array;
  shape: [number, number];
  /** 1 = token, 0 = padding; null = every position is a token. */
  attentionMask: Uint8Array | null;
}

const INT32_LIMIT = 2 ** 31;

function checkId(v: number, what: () => string, allowIgnore = false): number {
  if (Number.isInteger(v) && ((v >= 0 && v < INT32_LIMIT) || (allowIgnore && v === IGNORE_INDEX))) return v;
  throw new SftError(`${what()}: expected a token id (an integer >= 0${allowIgnore ? ' or -100' : ''}) but received ${String(v)}`, ErrorCode.InvalidArgument);
}

export function isPackedBatch(batch: Batch | PackedBatch): batch is PackedBatch {
  return batch.ids instanceof Int32Array;
}

/**
 * Each row's tokens where attentionMask is 1, in order, one row after another; a row with no
 * tokens is dropped. Throws INVALID_ARGUMENT naming the row whose ids, mask and labels differ
 * in length, or the element that is not a token id (labels: or -100).
 */
export function packBatch(batch: Batch): PackedBatch {
  const { ids, attentionMask, labels } = batch;
  if (attentionMask.length !== ids.length || labels.length !== ids.length) {
    throw new SftError(
      `packBatch: ids has ${ids.length} rows, attentionMask ${attentionMask.length} and labels ${labels.length}; they must match`,
      ErrorCode.InvalidArgument,
    );
  }
  let total = 0;
  ids.forEach((row, b) => {
    const mask = attentionMask[b]!;
    if (mask.length !== row.length || labels[b]!.length !== row.length) {
      throw new SftError(
        `packBatch: row ${b} has ${row.length} ids, ${mask.length} mask entries and ${labels[b]!.length} labels; they must match`,
        ErrorCode.InvalidArgument,
      );
    }
    for (const m of mask) if (m === 1) total++;
  });
  const out: PackedBatch = { ids: new Int32Array(total), labels: new Int32Array(total), seqLens: new Int32Array(ids.length) };
  let n = 0;
  let s = 0;
  ids.forEach((row, b) => {
    const mask = attentionMask[b]!;
    const rowLabels = labels[b]!;
    const start = n;
    for (let t = 0; t < row.length; t++) {
      if (mask[t] !== 1) continue;
      out.ids[n] = checkId(row[t]!, () => `ids[${b}][${t}]`);
      out.labels[n] = checkId(rowLabels[t]!, () => `labels[${b}][${t}]`, true);
      n++;
    }
    if (n > start) out.seqLens[s++] = n - start;
  });
  out.seqLens = out.seqLens.slice(0, s);
  return out;
}

/** Loss-bearing targets: every label but the first of each sequence (nothing predicts it) that is not -100. */
export function countPackedTargets(batch: PackedBatch): number {
  let n = 0;
  let start = 0;
  for (const len of batch.seqLens) {
    for (let t = start + 1; t < start + len; t++) if (batch.labels[t] !== IGNORE_INDEX) n++;
    start += len;
  }
  return n;
}

/** Rows of token ids (lengths may differ) packed one after another; `name` prefixes messages. */
export function packRows(rows: number[][], name: string): PackedTokens {
  const total = rows.reduce((n, r) => n + r.length, 0);
  const out: PackedTokens = { ids: new Int32Array(total), seqLens: new Int32Array(rows.length) };
  let n = 0;
  rows.forEach((row, b) => {
    row.forEach((v, t) => {
      out.ids[n++] = checkId(v, () => `${name}[${b}][${t}]`);
    });
    out.seqLens[b] = row.length;
  });
  return out;
}

/** The inverse of packRows. */
export function unpackRows(packed: PackedTokens): number[][] {
  const rows: number[][] = [];
  let start = 0;
  for (const len of packed.seqLens) {
    rows.push(Array.from(packed.ids.subarray(start, start + len)));
    start += len;
  }
  return rows;
}

/**
 * Equal-length rows as a (rows, cols) matrix; `attentionMask` (same shape, 0/1) marks padding.
 * Ragged rows or a mask of another shape are INVALID_ARGUMENT.
 */
export function tokenMatrix(rows: number[][], attentionMask?: number[][]): TokenMatrix {
  if (rows.length === 0) throw new SftError('ids: expected at least one sequence', ErrorCode.InvalidArgument);
  const cols = rows[0]!.length;
  rows.forEach((row, b) => {
    if (row.length !== cols || cols === 0) {
      throw new SftError(
        `ids: all sequences must have the same non-zero length (pad them and pass attentionMask); sequence ${b} has ${row.length} tokens, sequence 0 has ${cols}`,
        ErrorCode.InvalidArgument,
      );
    }
  });
  const { ids } = packRows(rows, 'ids');
  let mask: Uint8Array | null = null;
  if (attentionMask) {
    if (attentionMask.length !== rows.length || attentionMask.some((row) => row.length !== cols)) {
      throw new SftError(`attentionMask: expected the shape of ids (${rows.length} x ${cols}), with 0 for padding and 1 for tokens`, ErrorCode.InvalidArgument);
    }
    mask = Uint8Array.from(attentionMask.flat());
  }
  return { ids, shape: [rows.length, cols], attentionMask: mask };
}
