// An RFC 4180 CSV parser (also used for TSV with a tab delimiter). It turns text into records of
// fields and the header + data records into column-keyed rows. It does not know about files or
// gzip (read-rows.ts does) nor about labels and text cleaning (examples.ts does).
//
// What it accepts, beyond the RFC:
//  - a UTF-8 byte order mark at the start (Excel writes one) is dropped;
//  - records end with CRLF, LF or a lone CR, mixed freely; a final line break is optional;
//  - completely empty lines between records are skipped (pandas does the same), so they do not
//    count as data rows;
//  - a quote inside an unquoted field is kept as a literal character (`5" tall`).
// What it rejects, with the file and line: an unterminated quoted field, text between a closing
// quote and the next delimiter, a record whose field count differs from the header's, an empty
// file, and duplicate header names.
// Field contents are kept verbatim: quoted line breaks stay as they are (CRLF included), no
// trimming, empty fields are ''. Cleaning belongs to html-clean.ts.
import { ErrorCode, SftError } from '../errors.js';

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;
const BOM = 0xfeff;

export interface CsvRecord {
  /** 1-based physical line on which the record starts (a quoted line break makes a record span lines). */
  line: number;
  fields: string[];
}

export interface CsvTable {
  header: string[];
  /** Data records (the header excluded), each with as many fields as the header. */
  records: CsvRecord[];
}

function csvError(source: string, line: number, what: string): SftError {
  return new SftError(`${source}:${line}: ${what}`, ErrorCode.InvalidData);
}

/** Line breaks in text[from, to): LF, CRLF (counted once) and lone CR. */
function countLineBreaks(text: string, from: number, to: number): number {
  let breaks = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === LF || (c === CR && text.charCodeAt(i + 1) !== LF)) breaks++;
  }
  return breaks;
}

/**
 * Splits CSV text into records (the header is the first record). `source` names the input in
 * error messages (usually the file path). The delimiter is one character (',' or '\t').
 */
export function parseCsvRecords(text: string, source: string, delimiter = ','): CsvRecord[] {
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
    throw new SftError(`Expected a single-character CSV delimiter other than a quote or line break but received ${JSON.stringify(delimiter)}`, ErrorCode.InvalidArgument);
  }
  const sep = delimiter.charCodeAt(0);
  const n = text.length;
  const records: CsvRecord[] = [];
  let i = text.charCodeAt(0) === BOM ? 1 : 0;
  let line = 1;

  while (i < n) {
    // An empty line is not a record (the alternative, a record with one empty field, would
    // only ever produce a field-count error further on).
    const first = text.charCodeAt(i);
    if (first === LF || first === CR) {
      i += first === CR && text.charCodeAt(i + 1) === LF ? 2 : 1;
      line++;
      continue;
    }

    const recordLine = line;
    const fields: string[] = [];
    // One field per iteration; `break` ends the record, `continue` reads the next field.
    for (;;) {
      if (i < n && text.charCodeAt(i) === QUOTE) {
        const openLine = line;
        i++;
        let value = '';
        let start = i;
        for (;;) {
          const q = text.indexOf('"', i);
          if (q === -1) throw csvError(source, openLine, 'unterminated quoted field (a field opened with " is never closed); check for a stray quote on this line');
          line += countLineBreaks(text, i, q);
          if (text.charCodeAt(q + 1) === QUOTE) {
            // "" inside quotes is one literal quote.
            value += text.slice(start, q + 1);
            i = q + 2;
            start = i;
            continue;
          }
          value += text.slice(start, q);
          i = q + 1;
          break;
        }
        fields.push(value);
        if (i >= n) break;
        const c = text.charCodeAt(i);
        if (c === sep) {
          i++;
          continue;
        }
        if (c === LF || c === CR) {
          i += c === CR && text.charCodeAt(i + 1) === LF ? 2 : 1;
          line++;
          break;
        }
        throw csvError(source, line, `unexpected ${JSON.stringify(text[i])} after a closing quote (a quoted field must be followed by ${JSON.stringify(delimiter)} or a line break; a quote inside a quoted field is written "")`);
      }

      let j = i;
      while (j < n) {
        const c = text.charCodeAt(j);
        if (c === sep || c === LF || c === CR) break;
        j++;
      }
      fields.push(text.slice(i, j));
      i = j;
      if (i >= n) break;
      const c = text.charCodeAt(i);
      if (c === sep) {
        // A delimiter at the very end of the text opens a last, empty field: the next
        // iteration reads it as '' and ends the record.
        i++;
        continue;
      }
      i += c === CR && text.charCodeAt(i + 1) === LF ? 2 : 1;
      line++;
      break;
    }
    records.push({ line: recordLine, fields });
  }
  return records;
}

/** Parses CSV text whose first record is the header; every data record must match its width. */
export function parseCsv(text: string, source: string, delimiter = ','): CsvTable {
  const all = parseCsvRecords(text, source, delimiter);
  const head = all[0];
  if (head === undefined) throw csvError(source, 1, 'the file is empty; expected a header row with the column names');
  const header = head.fields;
  const seen = new Set<string>();
  for (const name of header) {
    if (seen.has(name)) throw csvError(source, head.line, `the header names column ${JSON.stringify(name)} twice; column names must be unique`);
    seen.add(name);
  }
  const records = all.slice(1);
  for (const record of records) {
    if (record.fields.length !== header.length) {
      throw csvError(
        source,
        record.line,
        `expected ${header.length} fields (the header's ${header.map((h) => JSON.stringify(h)).join(', ')}) but found ${record.fields.length}; ` +
          'a field that contains the delimiter, a quote or a line break must be quoted',
      );
    }
  }
  return { header, records };
}
