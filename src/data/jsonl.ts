// JSON Lines: one JSON object per line, each object one row. Also a .json file, which may hold
// either JSON Lines or one JSON array of objects (what `df.to_json(orient="records")` writes).
// Cells become strings by row.ts's rule. Reading files and gzip is read-rows.ts's job.
import { ErrorCode, SftError } from '../errors.js';
import { type DataRow, rowValues } from './row.js';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/**
 * Rows of JSON Lines text. Blank (whitespace-only) lines are skipped and are not rows; a line
 * that is not valid JSON, or is JSON but not an object, is an error naming `file:line`.
 */
export function parseJsonl(text: string, file: string): DataRow[] {
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  const rows: DataRow[] = [];
  lines.forEach((raw, index) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new SftError(`${file}:${index + 1}: not valid JSON (${(err as Error).message}); a JSON Lines file holds one complete object per line`, ErrorCode.InvalidData);
    }
    if (!isPlainObject(value)) {
      throw new SftError(`${file}:${index + 1}: expected a JSON object ({"column": value, ...}) but found ${describe(value)}`, ErrorCode.InvalidData);
    }
    rows.push({ file, row: rows.length + 1, values: rowValues(value) });
  });
  return rows;
}

/** Rows of a .json file: a JSON array of objects (row n = element n, 1-based), else JSON Lines. */
export function parseJsonFile(text: string, file: string): DataRow[] {
  const body = text.replace(/^\uFEFF/, '');
  if (!body.trimStart().startsWith('[')) return parseJsonl(body, file);
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (err) {
    throw new SftError(`${file}: not valid JSON (${(err as Error).message})`, ErrorCode.InvalidData);
  }
  if (!Array.isArray(value)) throw new SftError(`${file}: expected a JSON array of objects`, ErrorCode.InvalidData);
  return value.map((element: unknown, index) => {
    if (!isPlainObject(element)) {
      throw new SftError(`${file}: element ${index + 1} of the array is ${describe(element)}, expected an object ({"column": value, ...})`, ErrorCode.InvalidData);
    }
    return { file, row: index + 1, values: rowValues(element) };
  });
}
