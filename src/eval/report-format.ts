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

/** The row under BEFORE_AFTER_HEADER and a sentence saying what its columns hold. */
export function beforeAfterRow(report: EvalReport): { cells: string[]; note: string } {
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

/** The confusion matrix's header: true class, each predicted class, then the invalid column. */
export function confusionHeader(metrics: EvalMetrics): string[] {
  return ['true \\ predicted', ...metrics.confusion.labels, 'invalid'];
}

/** Confusion rows as cells: class name, then counts. */
export function confusionRows(metrics: EvalMetrics): string[][] {
  const { labels, counts } = metrics.confusion;
  return labels.map((label, i) => [label, ...(counts[i] ?? []).map(String)]);
}
