// Which data format a set of rows is in: the one `--format` names, or the one its columns show.
// Detection order: today's label rows first (a text column and a label column: the seed's data
// keeps working unchanged), then `conversations` (ShareGPT), `messages` (chat messages),
// `instruction` + `output` (alpaca), `prompt` + `completion`. A format named with --format must
// find its columns in every file; nothing matching is an error that lists the columns found.
import { ErrorCode, SftError } from '../errors.js';
import { ALPACA_COLUMNS } from './alpaca.js';
import type { DataFormat } from './instruction-example.js';
import { MESSAGES_COLUMNS } from './messages.js';
import { PROMPT_COMPLETION_COLUMNS } from './prompt-completion.js';
import type { DataRow } from './row.js';
import { SHAREGPT_COLUMNS } from './sharegpt.js';

/** Columns each format needs (label rows: the --text-column and --label-column given). */
export function requiredColumns(format: DataFormat, o: { textColumn: string; labelColumn: string }): readonly string[] {
  switch (format) {
    case 'label':
      return [o.textColumn, o.labelColumn];
    case 'alpaca':
      return ALPACA_COLUMNS.required;
    case 'sharegpt':
      return SHAREGPT_COLUMNS.required;
    case 'messages':
      return MESSAGES_COLUMNS.required;
    case 'prompt-completion':
      return PROMPT_COMPLETION_COLUMNS.required;
  }
}

const DETECTION_ORDER: readonly DataFormat[] = ['label', 'sharegpt', 'messages', 'alpaca', 'prompt-completion'];

/** The columns of each file, in first-seen order. */
function columnsByFile(rows: readonly DataRow[]): Map<string, Set<string>> {
  const byFile = new Map<string, Set<string>>();
  for (const row of rows) {
    let columns = byFile.get(row.file);
    if (columns === undefined) byFile.set(row.file, (columns = new Set()));
    for (const key of Object.keys(row.values)) columns.add(key);
  }
  return byFile;
}

function describe(columns: Set<string>): string {
  return [...columns].map((c) => JSON.stringify(c)).join(', ') || '(none)';
}

/**
 * The format of `rows`: `requested` when given (checked against every file's columns), else the
 * first format of the detection order whose columns every file has.
 */
export function resolveDataFormat(rows: readonly DataRow[], o: { format?: DataFormat | undefined; textColumn: string; labelColumn: string }): DataFormat {
  const byFile = columnsByFile(rows);
  if (byFile.size === 0) throw new SftError('the data has no rows, so its format cannot be told', ErrorCode.InvalidArgument);
  const fits = (format: DataFormat, columns: Set<string>) => requiredColumns(format, o).every((c) => columns.has(c));
  if (o.format !== undefined) {
    for (const [file, columns] of byFile) {
      if (!fits(o.format, columns)) {
        const missing = requiredColumns(o.format, o).filter((c) => !columns.has(c));
        throw new SftError(
          `--format ${o.format} needs the column${missing.length > 1 ? 's' : ''} ${missing.map((c) => JSON.stringify(c)).join(', ')}, which ${file} does not have; its columns are ${describe(columns)}`,
          ErrorCode.InvalidArgument,
        );
      }
    }
    return o.format;
  }
  const found = DETECTION_ORDER.find((format) => [...byFile.values()].every((columns) => fits(format, columns)));
  if (found !== undefined) return found;
  const [file, columns] = [...byFile.entries()].find(([, c]) => !fits('label', c)) as [string, Set<string>];
  // Half of a label pair present: the other label option is the likely mistake.
  if (columns.has(o.textColumn) !== columns.has(o.labelColumn)) {
    const [option, column] = columns.has(o.textColumn) ? ['--label-column', o.labelColumn] : ['--text-column', o.textColumn];
    throw new SftError(`${option} ${JSON.stringify(column)} is not a column of ${file}; its columns are ${describe(columns)}`, ErrorCode.InvalidArgument);
  }
  throw new SftError(
    `cannot tell the data format of ${file} from its columns (${describe(columns)}): expected ${o.textColumn} + ${o.labelColumn} (label rows; see --text-column / --label-column), ` +
      'conversations (ShareGPT), messages (chat messages), instruction + output (alpaca) or prompt + completion; or name the format with --format',
    ErrorCode.InvalidArgument,
  );
}
