// --data + column options -> labelled examples split by the seed: the one path from rows on
// disk to (text, label) for both training and evaluation, so they cannot disagree on a split.
import { join } from 'node:path';
import { labelMapFromString, toExamples, type LabelClass } from '../data/examples.js';
import { readRows } from '../data/read-rows.js';
import { splitExamples } from '../data/split.js';
import type { SkippedRow } from '../eval/report-types.js';
import { PACKAGE_ROOT } from '../package-info.js';

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

/** 'demo' names the bundled data: its train file for training, its test file for evaluation. */
export function resolveDataPath(data: string, purpose: 'train' | 'eval'): string {
  if (data === 'demo') return join(DEMO_DATA_DIR, purpose === 'train' ? 'train.csv' : 'test.csv');
  return data;
}

export async function loadLabelledData(o: DataOptions, purpose: 'train' | 'eval'): Promise<LabelledData> {
  const source = resolveDataPath(o.data, purpose);
  const classes = labelMapFromString(o.labelMap);
  const { rows } = await readRows(source);
  const { examples, skipped } = toExamples(rows, { textColumn: o.textColumn, labelColumn: o.labelColumn, classes });
  const split = splitExamples(examples, {
    valSplit: o.valSplit,
    testSplit: o.testSplit,
    seed: o.seed,
    ...(o.limit !== undefined ? { limit: o.limit } : {}),
  });
  return { source, classes, ...split, skipped };
}
