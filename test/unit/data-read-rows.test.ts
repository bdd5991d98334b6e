// readRows over every supported format: the byte-exact CSV fixture, JSON Lines, a JSON array,
// pyarrow's snappy parquet, gzip, a directory of mixed files, and the real IMDB copy when present.
import { mkdtempSync, mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readRows, readRowsFromFile, SUPPORTED_EXTENSIONS } from '../../src/data/read-rows.js';
import { ErrorCode, SftError } from '../../src/errors.js';
import { skipWithout } from '../helpers/skip.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'data');
const IMDB = resolve(import.meta.dirname, '..', '..', '..', 'shared', 'data', 'imdb');

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'sft-data-'));
}

async function expectReject(promise: Promise<unknown>, code: string, ...mentions: string[]): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(SftError);
  expect((error as SftError).code, (error as SftError).message).toBe(code);
  for (const text of mentions) expect((error as SftError).message).toContain(text);
}

describe('readRows: CSV', () => {
  it('reads the BOM + CRLF fixture with quoted line breaks, "" escapes and commas', async () => {
    const file = join(FIXTURES, 'reviews.csv');
    const { rows, files } = await readRows(file);
    expect(files).toEqual([file]);
    expect(rows.map((r) => r.row)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Object.keys(rows[0]!.values)).toEqual(['id', 'text', 'label']);
    expect(rows[0]).toEqual({ file, row: 1, values: { id: '1', text: 'Great film.<br /><br />Loved it, truly.', label: 'positive' } });
    expect(rows[1]!.values.text).toBe('Line one\r\nline two with "quotes"');
    expect(rows[3]!.values).toEqual({ id: '4', text: 'Fine movie', label: '' });
  });

  it('reads gzip-compressed CSV and tab-separated files', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.csv.gz'), gzipSync('text,label\n"x, y",1\n'));
    writeFileSync(join(dir, 'b.tsv'), 'text\tlabel\nx, y\t0\n');
    expect((await readRowsFromFile(join(dir, 'a.csv.gz')))[0]!.values).toEqual({ text: 'x, y', label: '1' });
    expect((await readRowsFromFile(join(dir, 'b.tsv')))[0]!.values).toEqual({ text: 'x, y', label: '0' });
  });

  it('names the file and line of a malformed CSV', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'bad.csv'), 'text,label\r\nok,1\r\n"open,1\r\n');
    await expectReject(readRows(join(dir, 'bad.csv')), ErrorCode.InvalidData, 'bad.csv:3', 'unterminated');
  });

  it('refuses text that is not UTF-8 instead of mangling it', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'latin1.csv'), Buffer.from('text,label\ncaf\xe9,1\n', 'latin1'));
    await expectReject(readRows(join(dir, 'latin1.csv')), ErrorCode.InvalidData, 'latin1.csv', 'UTF-8');
  });
});

describe('readRows: JSON Lines and JSON', () => {
  it('reads one object per line, skips blank lines, keeps nulls and stringifies numbers and booleans', async () => {
    const dir = tempDir();
    const file = join(dir, 'd.jsonl');
    writeFileSync(file, '{"text":"a","label":1}\r\n\n  \n{"text":"b","label":null,"ok":true,"tags":["x"]}\n');
    const rows = await readRowsFromFile(file);
    expect(rows).toEqual([
      { file, row: 1, values: { text: 'a', label: '1' } },
      { file, row: 2, values: { text: 'b', label: null, ok: 'true', tags: '["x"]' } },
    ]);
  });

  it('names file:line for a line that is not JSON or not an object', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'bad.jsonl'), '{"text":"a"}\n\n{"text": oops}\n');
    writeFileSync(join(dir, 'arr.jsonl'), '{"text":"a"}\n[1,2]\n');
    await expectReject(readRows(join(dir, 'bad.jsonl')), ErrorCode.InvalidData, 'bad.jsonl:3', 'not valid JSON');
    await expectReject(readRows(join(dir, 'arr.jsonl')), ErrorCode.InvalidData, 'arr.jsonl:2', 'an array');
  });

  it('reads a .json file holding an array of objects, or JSON Lines', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.json'), '[{"text":"x","label":"1"},{"text":"y","label":"0"}]');
    writeFileSync(join(dir, 'b.json'), '{"text":"z","label":"1"}\n');
    expect((await readRowsFromFile(join(dir, 'a.json'))).map((r) => [r.row, r.values.text])).toEqual([[1, 'x'], [2, 'y']]);
    expect((await readRowsFromFile(join(dir, 'b.json')))[0]!.values.text).toBe('z');
  });
});

describe('readRows: parquet', () => {
  it('reads pyarrow snappy parquet: strings, a null, and numbers / booleans as strings', async () => {
    const file = join(FIXTURES, 'reviews.parquet');
    const { rows } = await readRows(file);
    expect(rows).toEqual([
      { file, row: 1, values: { text: 'A fine film', label: 'positive', stars: '9', score: '0.5', liked: 'true' } },
      { file, row: 2, values: { text: null, label: 'negative', stars: '2', score: '1', liked: 'false' } },
      { file, row: 3, values: { text: 'Dull<br />and long', label: 'negative', stars: '3', score: null, liked: 'false' } },
    ]);
  });

  it('reports a file that is not parquet', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'fake.parquet'), 'not parquet at all');
    await expectReject(readRows(join(dir, 'fake.parquet')), ErrorCode.InvalidData, 'fake.parquet', 'parquet');
  });
});

describe('readRows: paths and directories', () => {
  it('reads a directory of csv, jsonl and parquet files in name order, ignoring other files', async () => {
    const dir = join(FIXTURES, 'mixed');
    const { rows, files } = await readRows(dir);
    expect(files).toEqual(['a.csv', 'b.jsonl', 'c.parquet'].map((n) => join(dir, n)));
    expect(rows.map((r) => [r.file.slice(dir.length + 1), r.row, r.values.review])).toEqual([
      ['a.csv', 1, 'Good one'],
      ['a.csv', 2, 'Bad one'],
      ['b.jsonl', 1, 'JSON good'],
      ['b.jsonl', 2, 'JSON bad'],
      ['c.parquet', 1, 'Parquet good'],
    ]);
  });

  it('rejects a directory without data files, naming the supported extensions', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'notes.txt'), 'x');
    mkdirSync(join(dir, 'nested.csv'));
    await expectReject(readRows(dir), ErrorCode.InvalidArgument, dir, 'no data files', '.parquet');
  });

  it('rejects an unknown extension listing the supported ones, and a missing path', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'data.xlsx'), 'x');
    await expectReject(readRows(join(dir, 'data.xlsx')), ErrorCode.InvalidArgument, 'data.xlsx', SUPPORTED_EXTENSIONS.join(', '));
    await expectReject(readRows(join(dir, 'nope.csv')), ErrorCode.FileNotFound, 'nope.csv');
    expect(SUPPORTED_EXTENSIONS).toEqual(expect.arrayContaining(['.csv', '.tsv', '.jsonl', '.json', '.parquet', '.csv.gz']));
  });
});

describe('readRows: the IMDB copy in ../shared/data/imdb', () => {
  const imdbNeed = { needs: `the seed's IMDB copy (train.csv.gz, test.csv.gz) in ${IMDB} (network)`, run: `mkdir -p ${IMDB} && cp <the seed experiment's imdb folder>/*.csv.gz ${IMDB}/` };
  it.skipIf(skipWithout(existsSync(IMDB), 'the real IMDB copy', imdbNeed))('reads 25,000 balanced reviews per file with the seed experiments\' columns', async () => {
    const { rows, files } = await readRows(IMDB);
    expect(files.map((f) => f.slice(IMDB.length + 1))).toEqual(['test.csv.gz', 'train.csv.gz']);
    for (const file of files) {
      const own = rows.filter((r) => r.file === file);
      expect(own).toHaveLength(25_000);
      expect(own.at(-1)!.row).toBe(25_000);
      expect(own.filter((r) => r.values.sentiment === 'positive')).toHaveLength(12_500);
      expect(own.filter((r) => r.values.sentiment === 'negative')).toHaveLength(12_500);
    }
    const first = rows.find((r) => r.file.endsWith('train.csv.gz'))!;
    expect(Object.keys(first.values)).toEqual(['id', 'review', 'sentiment', 'rating']);
    expect(first.values).toMatchObject({ id: 'train_neg_0', sentiment: 'negative', rating: '3' });
    expect(first.values.review).toMatch(/^Story of a man who has unnatural feelings for a pig\. .* can be seen briefly\.$/);
    // The raw reviews keep their HTML line breaks; cleaning happens in toExamples.
    expect(rows.some((r) => r.values.review!.includes('<br /><br />'))).toBe(true);
  });
});
