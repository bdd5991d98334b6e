// An EvalReport as text: markdown for RUN_DIR/eval.md (evalReportMarkdown) and aligned plain
// text for the terminal (formatEvalSummary). Both show the seed's before/after numbers, the row
// count, skipped rows and the confusion matrices; report-format.ts decides what the numbers say.
import {
  SKIPPED_SHOWN,
  beforeAfterHeader,
  beforeAfterRow,
  confusionNote,
  detailsTable,
  confusionHeader,
  confusionRows,
  evaluatedModels,
  formatRowCount,
  formatRowLocation,
  formatSeconds,
  formatFraction,
} from './report-format.js';
import type { EvalReport } from './report-types.js';

/**
 * Inline text safe in a markdown table cell or list item: no line breaks, no markup. An "_"
 * inside a word stays as it is (it never emphasizes there), so acc_bf_train reads as written.
 */
export function markdownText(s: string): string {
  return s
    .replace(/\r\n|\r|\n/g, ' ')
    .replace(/[\\|`*[\]<>]|(?<![\p{L}\p{N}])_|_(?![\p{L}\p{N}])/gu, (c) => `\\${c}`);
}

function markdownTable(header: readonly string[], rows: readonly string[][]): string[] {
  const line = (cells: readonly string[]) => `| ${cells.map(markdownText).join(' | ')} |`;
  return [line(header), `| ${header.map(() => '---').join(' | ')} |`, ...rows.map(line)];
}

/** The first skipped rows as "file:row: reason", then "... and N more" when there are more. */
function skippedLines(report: EvalReport): string[] {
  const shown = report.skipped.slice(0, SKIPPED_SHOWN);
  const lines = shown.map((r) => `${formatRowLocation(r)}: ${r.reason}`);
  const more = report.skipped_rows - shown.length;
  if (more > 0) lines.push(`... and ${more} more`);
  return lines;
}

function settingValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The markdown written to RUN_DIR/eval.md. */
export function evalReportMarkdown(report: EvalReport): string {
  const { cells, note } = beforeAfterRow(report);
  const out: string[] = [`# Evaluation: ${markdownText(report.model)}`, ''];
  out.push(...markdownTable(beforeAfterHeader(report), [cells]), '', markdownText(note), '');
  out.push(`- data: ${markdownText(report.data)}`);
  out.push(`- model folder: ${markdownText(report.modelDir)}`);
  out.push(`- n: ${formatRowCount(report)}`);
  for (const m of evaluatedModels(report)) {
    const scored = report.task === 'classify' ? `log loss ${formatFraction(m.metrics.log_loss)}, macro F1 ${formatFraction(m.metrics.macro_f1)}, scoring` : `${m.metrics.valid} valid, generation`;
    out.push(`- ${m.title}: ${m.metrics.correct} correct, ${scored} ${formatSeconds(m.metrics.seconds)}`);
  }
  out.push(`- skipped rows: ${report.skipped_rows}`);
  out.push(...skippedLines(report).map((l) => `  - ${markdownText(l)}`));
  out.push(`- created: ${markdownText(report.created)}`, '');

  for (const m of evaluatedModels(report)) {
    out.push(`## Confusion matrix: ${m.title}`, '', confusionNote(m.metrics), '');
    out.push(...markdownTable(confusionHeader(m.metrics), confusionRows(m.metrics)), '');
  }

  const settings = Object.entries(report.settings);
  if (settings.length > 0) {
    out.push('## Settings', '', ...markdownTable(['setting', 'value'], settings.map(([k, v]) => [k, settingValue(v)])), '');
  }
  return out.join('\n');
}

/** Columns padded to their widest cell; the first column left-aligned, the others right-aligned. */
export function alignColumns(rows: readonly string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

/** What `sft eval` prints on the terminal: the same numbers as eval.md, as aligned plain text. */
export function formatEvalSummary(report: EvalReport): string {
  const { cells, note } = beforeAfterRow(report);
  const out: string[] = [...alignColumns([[...beforeAfterHeader(report)], cells]), note, ''];
  const models = evaluatedModels(report);
  if (models.length > 0) {
    const details = detailsTable(report);
    out.push(...alignColumns([details.header, ...details.rows]), '');
  }
  out.push(`data: ${report.data}   n: ${formatRowCount(report)}   skipped rows: ${report.skipped_rows}`);
  out.push(...skippedLines(report).map((l) => `  ${l}`));
  for (const m of models) {
    out.push('', `confusion, ${m.title} (rows: true class; columns: predicted${m.metrics.log_loss === undefined ? ', invalid' : ''})`);
    out.push(...alignColumns([confusionHeader(m.metrics), ...confusionRows(m.metrics)]).map((l) => `  ${l}`));
  }
  return `${out.join('\n')}\n`;
}
