// --data + column options -> labelled examples split by the seed: the one path from rows on
// disk to (text, label) for both training and evaluation, so they cannot disagree on a split.
import { join } from 'node:path';
import { labelMapFromString, toExamples, type LabelClass } from '../data/examples.js';
import { resolveDataFormat } from '../data/format-detect.js';
import type { DataFormat, InstructionExample, InstructionFormat } from '../data/instruction-example.js';
import { toInstructionExamples } from '../data/instruction-rows.js';
import { readRows, type DataRow } from '../data/read-rows.js';
import { splitExamples } from '../data/split.js';
import { applyFolds } from '../data/kfold.js';
import type { SkippedRow } from '../eval/report-types.js';
import { PACKAGE_ROOT } from '../package-info.js';
import { ErrorCode, SftError } from '../errors.js';

/** The bundled synthetic sentiment data (scripts/make_demo_data.py). */
export const DEMO_DATA_DIR = join(PACKAGE_ROOT, 'assets', 'demo', 'data');

export interface DataOptions {
  data: string;
  textColumn: string;
  labelColumn: string;
  labelMap: string;
  valSplit: number;
  testSplit: number;
  limit?: number | undefined;
  seed: number;
  /** The data format; detected from the columns when unset (data/format-detect.ts). */
  format?: DataFormat | undefined;
  /** Stratified k-fold (data/kfold.ts): the held-out fold `fold` of `folds` is the validation split. */
  folds?: number | undefined;
  fold?: number | undefined;
}

/** The seeded split, then the held-out fold as validation rows when --folds is given. */
function splitLabelled(examples: readonly LabelledExample[], o: DataOptions): Pick<LabelledData, 'train' | 'val' | 'test'> {
  const split = splitExamples(examples, { valSplit: o.valSplit, testSplit: o.testSplit, seed: o.seed, ...(o.limit !== undefined ? { limit: o.limit } : {}) });
  if (o.folds === undefined) return split;
  return applyFolds(split, (e) => e.label, { folds: o.folds, fold: o.fold ?? 0, seed: o.seed, valSplit: o.valSplit });
}

export interface LabelledExample {
  file: string;
  row: number;
  text: string;
  label: string;
}

export interface LabelledData {
  /** The file or folder read. */
  source: string;
  classes: LabelClass[];
  train: LabelledExample[];
  val: LabelledExample[];
  test: LabelledExample[];
  skipped: SkippedRow[];
}

/** The instruction format of rows that are not label rows (named or detected), else undefined (label rows, or columns no format fits: toExamples names the missing column). */
function instructionFormatOf(rows: readonly DataRow[], o: DataOptions): InstructionFormat | undefined {
  if (o.format === 'label' || rows.length === 0) return undefined;
  try {
    const format = resolveDataFormat(rows, o);
    return format === 'label' ? undefined : format;
  } catch {
    return undefined;
  }
}

/** 'demo' names the bundled data: its train file for training, its test file for evaluation. */
export function resolveDataPath(data: string, purpose: 'train' | 'eval'): string {
  if (data === 'demo') return join(DEMO_DATA_DIR, purpose === 'train' ? 'train.csv' : 'test.csv');
  return data;
}

export async function loadLabelledData(o: DataOptions, purpose: 'train' | 'eval'): Promise<LabelledData> {
  const source = resolveDataPath(o.data, purpose);
  const classes = labelMapFromString(o.labelMap);
  const { rows } = await readRows(source);
  const format = instructionFormatOf(rows, o);
  if (format !== undefined) {
    throw new SftError(
      `${source} holds ${format} rows (instruction data), not text + label rows; they are scored by generating text (sft eval --task generate), or pass --format label with --text-column / --label-column to read label rows`,
      ErrorCode.InvalidArgument,
    );
  }
  const { examples, skipped } = toExamples(rows, { textColumn: o.textColumn, labelColumn: o.labelColumn, classes });
  return { source, classes, ...splitLabelled(examples, o), skipped };
}

/** Instruction rows (alpaca, ShareGPT, chat messages, prompt/completion) split by the seed. */
export interface InstructionData {
  /** The file or folder read. */
  source: string;
  format: InstructionFormat;
  train: InstructionExample[];
  val: InstructionExample[];
  test: InstructionExample[];
  skipped: SkippedRow[];
}

/**
 * Reads --data once and returns label rows or instruction rows, whichever its format is (the
 * --format given, else the one its columns show; label rows win when the label column exists).
 */
export async function loadTaskData(o: DataOptions, purpose: 'train' | 'eval'): Promise<{ kind: 'label'; data: LabelledData } | { kind: 'instruction'; data: InstructionData }> {
  const source = resolveDataPath(o.data, purpose);
  const { rows } = await readRows(source);
  const format = resolveDataFormat(rows, o);
  const splitOptions = { valSplit: o.valSplit, testSplit: o.testSplit, seed: o.seed, ...(o.limit !== undefined ? { limit: o.limit } : {}) };
  if (format === 'label') {
    const classes = labelMapFromString(o.labelMap);
    const { examples, skipped } = toExamples(rows, { textColumn: o.textColumn, labelColumn: o.labelColumn, classes });
    return { kind: 'label', data: { source, classes, ...splitLabelled(examples, o), skipped } };
  }
  if (o.folds !== undefined) {
    throw new SftError(`--folds splits label rows by class; ${source} holds ${format} rows (instruction data), which have no class: use --val-split`, ErrorCode.InvalidArgument);
  }
  const { examples, skipped } = toInstructionExamples(rows, format);
  return { kind: 'instruction', data: { source, format, ...splitExamples(examples, splitOptions), skipped } };
}

/** loadTaskData() for callers that need instruction rows: label rows are an error that says so. */
export async function loadInstructionData(o: DataOptions, purpose: 'train' | 'eval'): Promise<InstructionData> {
  const loaded = await loadTaskData(o, purpose);
  if (loaded.kind === 'instruction') return loaded.data;
  throw new SftError(
    `${loaded.data.source} holds label rows (columns ${o.textColumn} + ${o.labelColumn}), not instruction data; pass --format alpaca, sharegpt, messages or prompt-completion to read it as one`,
    ErrorCode.InvalidArgument,
  );
}
