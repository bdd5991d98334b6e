// The row every reader produces, whatever the file format, and the one rule for turning a cell
// of JSON or parquet into the string-or-null a row holds. Keeping the rule here makes a label
// stored as the number 1 in parquet and as "1" in a CSV match the same --label-map entry.

/** One data row: where it came from and its cells by column name. */
export interface DataRow {
  /** The file the row was read from (the path as given, joined with the name for a directory). */
  file: string;
  /** 1-based data row within its file: the CSV header is row 0, a JSONL file's blank lines are not rows. */
  row: number;
  /** Cells by column name; null where the file stores a null (JSON null, parquet null). CSV cells are never null. */
  values: Record<string, string | null>;
}

/**
 * A JSON or parquet cell as a string: strings as they are, numbers and booleans as JavaScript
 * prints them (1.0 -> "1", so a pandas float label column still matches "1"), bigints in
 * decimal, dates in ISO 8601, bytes decoded as UTF-8, lists and structs as JSON.
 * null and undefined stay null: a missing value is not the text "null".
 */
export function cellToString(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return new TextDecoder().decode(value);
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/** A row's cells with every value passed through cellToString; own properties only, so "__proto__" is an ordinary column. */
export function rowValues(object: Record<string, unknown>): Record<string, string | null> {
  return Object.fromEntries(Object.entries(object).map(([key, value]) => [key, cellToString(value)]));
}
