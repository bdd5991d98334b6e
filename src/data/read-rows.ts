// `--data` -> rows: a file or a directory of files, dispatched by extension to the CSV, JSON
// Lines and parquet readers. Gzip-compressed text files (`train.csv.gz`, as the IMDB copy in
// ../shared/data is stored) are decompressed in memory first. Text must be UTF-8: a file in
// another encoding is an error rather than silently mangled review text.
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ErrorCode, SftError } from '../errors.js';
import { parseCsv } from './csv.js';
import { parseJsonFile, parseJsonl } from './jsonl.js';
import { parseParquet } from './parquet.js';
import type { DataRow } from './row.js';

export type { DataRow } from './row.js';

type Format = 'csv' | 'tsv' | 'jsonl' | 'json' | 'parquet';

const FORMATS: Record<string, Format> = { '.csv': 'csv', '.tsv': 'tsv', '.jsonl': 'jsonl', '.json': 'json', '.parquet': 'parquet' };
const GZIPPABLE: readonly Format[] = ['csv', 'tsv', 'jsonl', 'json'];

/** File name endings readRows accepts, for help texts and error messages. */
export const SUPPORTED_EXTENSIONS: readonly string[] = [
  ...Object.keys(FORMATS),
  ...Object.entries(FORMATS).filter(([, f]) => GZIPPABLE.includes(f)).map(([ext]) => `${ext}.gz`),
];

export interface ReadRowsResult {
  /** All rows, file by file in the order of `files`, each file's rows in file order. */
  rows: DataRow[];
  /** The files read (one for a file path; the matching files of a directory in sorted name order). */
  files: string[];
}

/** The format a file name asks for, or undefined; `.gz` on a text format means gzip-compressed. */
function formatOf(name: string): { format: Format; gzip: boolean } | undefined {
  const lower = name.toLowerCase();
  const gzip = lower.endsWith('.gz');
  const base = gzip ? lower.slice(0, -3) : lower;
  const dot = base.lastIndexOf('.');
  const format = dot >= 0 ? FORMATS[base.slice(dot)] : undefined;
  if (format === undefined || (gzip && !GZIPPABLE.includes(format))) return undefined;
  return { format, gzip };
}

function decodeUtf8(bytes: Uint8Array, file: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new SftError(`${file}: not valid UTF-8 text; re-save the file as UTF-8`, ErrorCode.InvalidData);
  }
}

/** Rows of one file; its name must end with one of SUPPORTED_EXTENSIONS. */
export async function readRowsFromFile(file: string): Promise<DataRow[]> {
  const kind = formatOf(file);
  if (kind === undefined) {
    throw new SftError(`Cannot read ${file}: unsupported file type; --data takes ${SUPPORTED_EXTENSIONS.join(', ')} files or a directory of them`, ErrorCode.InvalidArgument);
  }
  let bytes: Uint8Array = await readFile(file);
  if (kind.format === 'parquet') return parseParquet(bytes, file);
  if (kind.gzip) {
    try {
      bytes = gunzipSync(bytes);
    } catch (err) {
      throw new SftError(`${file}: not a valid gzip file (${(err as Error).message})`, ErrorCode.InvalidData);
    }
  }
  const text = decodeUtf8(bytes, file);
  switch (kind.format) {
    case 'jsonl':
      return parseJsonl(text, file);
    case 'json':
      return parseJsonFile(text, file);
    case 'csv':
    case 'tsv': {
      const { header, records } = parseCsv(text, file, kind.format === 'tsv' ? '\t' : ',');
      return records.map((record, index) => ({
        file,
        row: index + 1,
        values: Object.fromEntries(header.map((name, k) => [name, record.fields[k] ?? ''])),
      }));
    }
  }
}

/**
 * Rows of `path`: a data file, or a directory whose data files (non-recursive, other files
 * ignored) are read in sorted name order (by UTF-16 code units, the same on every platform, so
 * a seeded split sees the same row order everywhere).
 */
export async function readRows(path: string): Promise<ReadRowsResult> {
  let info;
  try {
    info = await stat(path);
  } catch {
    throw new SftError(`Data not found: ${path} does not exist`, ErrorCode.FileNotFound);
  }
  if (!info.isDirectory()) return { rows: await readRowsFromFile(path), files: [path] };

  const names = (await readdir(path)).filter((name) => formatOf(name) !== undefined).sort();
  const files: string[] = [];
  for (const name of names) {
    const file = join(path, name);
    if ((await stat(file)).isFile()) files.push(file);
  }
  if (files.length === 0) {
    throw new SftError(`Directory ${path} holds no data files; expected files ending in ${SUPPORTED_EXTENSIONS.join(', ')}`, ErrorCode.InvalidArgument);
  }
  const rows: DataRow[] = [];
  for (const file of files) {
    for (const row of await readRowsFromFile(file)) rows.push(row);
  }
  return { rows, files };
}
