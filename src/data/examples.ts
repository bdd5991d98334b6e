// Rows -> training/eval examples: pick the text and label columns, clean the text, map the
// label onto a class of the label map. A row that cannot be an example (no text, no label, a
// label outside the map) is returned in `skipped` with its file, row and reason, for the run
// record and the report; it is never dropped silently. A column that no row of a file has is a
// configuration mistake, not a bad row, and throws.
//
// Label matching: the cell is trimmed, then matched exactly against the class names; when that
// fails and no two class names differ only in case, it is matched ignoring case (so
// `Positive` in the data meets `positive=1`). With names like `pos` and `POS` only exact
// matches count.
import { ErrorCode, SftError } from '../errors.js';
import type { SkippedRow } from '../eval/report-types.js';
import { cleanText } from './html-clean.js';
import type { LabelClass } from './label-map.js';
import type { DataRow } from './row.js';

export { type LabelClass, labelMapFromString, labelMapToString } from './label-map.js';

export interface Example {
  file: string;
  /** 1-based data row within `file`. */
  row: number;
  /** The cleaned text (html-clean.ts). */
  text: string;
  /** The class name (LabelClass.name), as written in the label map. */
  label: string;
}

export interface ExampleOptions {
  textColumn: string;
  labelColumn: string;
  classes: readonly LabelClass[];
  /** Turn `<br />` into newlines and normalize line breaks (default true). */
  cleanHtml?: boolean;
}

export interface ExamplesResult {
  examples: Example[];
  skipped: SkippedRow[];
}

/** Throws when a file has rows but none of them has `column`, naming the columns it does have. */
function checkColumns(rows: readonly DataRow[], column: string, option: string): void {
  const columnsByFile = new Map<string, Set<string>>();
  for (const row of rows) {
    let columns = columnsByFile.get(row.file);
    if (columns === undefined) columnsByFile.set(row.file, (columns = new Set()));
    for (const key of Object.keys(row.values)) columns.add(key);
  }
  for (const [file, columns] of columnsByFile) {
    if (!columns.has(column)) {
      const have = [...columns].map((c) => JSON.stringify(c)).join(', ') || '(none)';
      throw new SftError(`${option} ${JSON.stringify(column)} is not a column of ${file}; its columns are ${have}`, ErrorCode.InvalidArgument);
    }
  }
}

/** Finds the class of a trimmed label cell (see the matching rule at the top of the file). */
function classMatcher(classes: readonly LabelClass[]): (label: string) => LabelClass | undefined {
  const exact = new Map(classes.map((c) => [c.name, c]));
  const folded = new Map(classes.map((c) => [c.name.toLowerCase(), c]));
  const foldingIsSafe = folded.size === classes.length;
  return (label) => exact.get(label) ?? (foldingIsSafe ? folded.get(label.toLowerCase()) : undefined);
}

export function toExamples(rows: readonly DataRow[], options: ExampleOptions): ExamplesResult {
  const { textColumn, labelColumn, classes, cleanHtml = true } = options;
  if (classes.length === 0) throw new SftError('toExamples: the label map has no classes', ErrorCode.InvalidArgument);
  checkColumns(rows, textColumn, '--text-column');
  checkColumns(rows, labelColumn, '--label-column');
  const match = classMatcher(classes);
  const classList = classes.map((c) => c.name).join(', ');

  const examples: Example[] = [];
  const skipped: SkippedRow[] = [];
  for (const { file, row, values } of rows) {
    const reasons: string[] = [];
    const rawText = values[textColumn];
    const text = rawText == null ? '' : cleanHtml ? cleanText(rawText) : rawText.trim();
    if (rawText == null) reasons.push('missing text');
    else if (text === '') reasons.push('empty text');

    const rawLabel = values[labelColumn]?.trim() ?? '';
    const found = rawLabel === '' ? undefined : match(rawLabel);
    if (rawLabel === '') reasons.push('missing label');
    else if (found === undefined) reasons.push(`label '${rawLabel}' is not in the label map (${classList})`);

    if (reasons.length > 0 || found === undefined) skipped.push({ file, row, reason: reasons.join('; ') });
    else examples.push({ file, row, text, label: found.name });
  }
  return { examples, skipped };
}
