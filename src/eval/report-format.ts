// What the markdown, terminal and HTML views of an EvalReport have in common: the seed's
// before/after row, how numbers are written, and which models a report holds. One place, so
// the three views cannot disagree about a number or about which column is which.
import type { EvalMetrics, EvalReport, SkippedRow } from './report-types.js';

/** The seed's comparison table header: acc = with the adapter, *_bf_train = base before training. */
export const BEFORE_AFTER_HEADER = ['model', 'acc', 'resp_acc', 'acc_bf_train', 'resp_acc_bf_train'] as const;

/** Written where a report has no number for a cell. */
export const MISSING = '—';

/** How many skipped rows the views list before saying "and N more". */
export const SKIPPED_SHOWN = 5;

/** A fraction with 4 decimals (0.9350), the way the seed's table writes accuracies. */
export function formatFraction(x: number | undefined): string {
  return x === undefined ? MISSING : x.toFixed(4);
}

export function formatSeconds(s: number): string {
  return `${s.toFixed(1)} s`;
}

export interface EvaluatedModel {
  which: 'adapter' | 'base';
  /** "adapter (after training)" or "base (before training)". */
  title: string;
  metrics: EvalMetrics;
}

/** The metrics a report holds, adapter (after) first, then base (before). */
export function evaluatedModels(report: EvalReport): EvaluatedModel[] {
  const models: EvaluatedModel[] = [];
  if (report.adapter) models.push({ which: 'adapter', title: 'adapter (after training)', metrics: report.adapter });
  if (report.base) models.push({ which: 'base', title: 'base (before training)', metrics: report.base });
  return models;
}

/**
 * Task 'classify' (sft eval --task classify): log loss and macro F1 beside accuracy, and no
 * resp_acc (the score head gives every row a class).
 */
export const CLASSIFY_BEFORE_AFTER_HEADER = ['model', 'acc', 'log_loss', 'macro_f1', 'acc_bf_train', 'log_loss_bf_train', 'macro_f1_bf_train'] as const;

/** The before/after header of this report's task. */
export function beforeAfterHeader(report: EvalReport): readonly string[] {
  return report.task === 'classify' ? CLASSIFY_BEFORE_AFTER_HEADER : BEFORE_AFTER_HEADER;
}

/** Why a classifier's base numbers are no baseline. */
export const RANDOM_HEAD_NOTE =
  "The base model's score head is untrained (drawn at random from the seed, as transformers initializes it), so its numbers are those of a random head: chance level, not what the base model knows.";

function classifyBeforeAfterRow(report: EvalReport): { cells: string[]; note: string } {
  const { adapter, base } = report;
  const cells = [report.model, formatFraction(adapter?.acc), formatFraction(adapter?.log_loss), formatFraction(adapter?.macro_f1), formatFraction(base?.acc), formatFraction(base?.log_loss), formatFraction(base?.macro_f1)];
  const parts: string[] = [];
  if (adapter) parts.push(`acc, log_loss (natural log, mean over rows) and macro_f1: the classifier with the adapter ${adapter.path}.`);
  else parts.push('No adapter was evaluated: acc, log_loss and macro_f1 are missing.');
  if (base) parts.push(`*_bf_train: the base model before training. ${RANDOM_HEAD_NOTE}`);
  else parts.push('*_bf_train are missing (sft eval --compare scores the base model with an untrained head too).');
  return { cells, note: parts.join(' ') };
}

/** The row under beforeAfterHeader(report) and a sentence saying what its columns hold. */
export function beforeAfterRow(report: EvalReport): { cells: string[]; note: string } {
  if (report.task === 'classify') return classifyBeforeAfterRow(report);
  const { adapter, base } = report;
  const cells = [report.model, formatFraction(adapter?.acc), formatFraction(adapter?.resp_acc), formatFraction(base?.acc), formatFraction(base?.resp_acc)];
  let note: string;
  if (adapter && base) {
    note = `acc and resp_acc: with the adapter ${adapter.path}; acc_bf_train and resp_acc_bf_train: the base model before training.`;
  } else if (adapter) {
    note = `Only the adapter ${adapter.path} was evaluated: acc_bf_train and resp_acc_bf_train are missing (sft eval --compare scores the base model too).`;
  } else if (base) {
    note = 'Only the base model was evaluated (no adapter): its numbers are the before-training columns acc_bf_train and resp_acc_bf_train; acc and resp_acc are missing.';
  } else {
    note = 'The report holds no metrics (neither base nor adapter was evaluated).';
  }
  return { cells, note };
}

/** "200", or "200 (adapter), 198 (base)" when the models were scored on different row counts. */
export function formatRowCount(report: EvalReport): string {
  const models = evaluatedModels(report);
  const counts = new Set(models.map((m) => m.metrics.n));
  if (counts.size <= 1) return String(models[0]?.metrics.n ?? 0);
  return models.map((m) => `${m.metrics.n} (${m.which})`).join(', ');
}

/** "file:row" as editors and compilers write a location. */
export function formatRowLocation(row: SkippedRow): string {
  return `${row.file}:${row.row}`;
}

/** A classifier's metrics (task 'classify'): every row has a class, so there is no invalid column to show. */
function isClassifier(metrics: EvalMetrics): boolean {
  return metrics.log_loss !== undefined;
}

/** The confusion matrix's header: true class, each predicted class, then the invalid column (not for a classifier). */
export function confusionHeader(metrics: EvalMetrics): string[] {
  return ['true \\ predicted', ...metrics.confusion.labels, ...(isClassifier(metrics) ? [] : ['invalid'])];
}

/** Confusion rows as cells: class name, then counts. */
export function confusionRows(metrics: EvalMetrics): string[][] {
  const { labels, counts } = metrics.confusion;
  return labels.map((label, i) => [label, ...(counts[i] ?? []).slice(0, isClassifier(metrics) ? labels.length : undefined).map(String)]);
}

/** What the confusion matrix's columns are, in a sentence. */
export function confusionNote(metrics: EvalMetrics): string {
  return isClassifier(metrics) ? 'Rows: true class. Columns: predicted class (highest probability).' : 'Rows: true class. Columns: predicted class, then outputs with no valid label.';
}

/** The per-model details table: header and one row per evaluated model. */
export function detailsTable(report: EvalReport): { header: string[]; rows: string[][] } {
  const models = evaluatedModels(report);
  if (report.task === 'classify') {
    return {
      header: ['', 'acc', 'log_loss', 'macro_f1', 'correct', 'n', 'scoring'],
      rows: models.map((m) => [m.title, formatFraction(m.metrics.acc), formatFraction(m.metrics.log_loss), formatFraction(m.metrics.macro_f1), String(m.metrics.correct), String(m.metrics.n), formatSeconds(m.metrics.seconds)]),
    };
  }
  return {
    header: ['', 'acc', 'resp_acc', 'correct', 'valid', 'n', 'generation'],
    rows: models.map((m) => [m.title, formatFraction(m.metrics.acc), formatFraction(m.metrics.resp_acc), String(m.metrics.correct), String(m.metrics.valid), String(m.metrics.n), formatSeconds(m.metrics.seconds)]),
  };
}
