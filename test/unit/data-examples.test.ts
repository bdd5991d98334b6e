// From rows to examples: <br /> cleaning, the --label-map grammar, bad rows reported with file,
// row and reason (never dropped silently), and missing columns as configuration errors.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { labelMapFromString, labelMapToString, toExamples } from '../../src/data/examples.js';
import { cleanText } from '../../src/data/html-clean.js';
import { readRows } from '../../src/data/read-rows.js';
import type { DataRow } from '../../src/data/row.js';
import { describeSkipped } from '../../src/data/skipped.js';
import { ErrorCode } from '../../src/errors.js';
import { expectSftError } from '../helpers/errors.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'data');
const SENTIMENT = labelMapFromString('positive=1,negative=0');

function row(n: number, values: Record<string, string | null>, file = 'f.csv'): DataRow {
  return { file, row: n, values };
}

describe('cleanText', () => {
  it('turns <br>, <br/>, <br /> in any case into newlines, one blank line at most', () => {
    expect(cleanText('Good.<br /><br />Really good.')).toBe('Good.\n\nReally good.');
    expect(cleanText('a<BR>b<br/>c<Br  />d')).toBe('a\nb\nc\nd');
    expect(cleanText('a <br /><br /><br /><br /> b')).toBe('a\n\nb');
  });

  it('normalizes CRLF and CR, trims, and leaves other markup-like text alone', () => {
    expect(cleanText('  one\r\ntwo\rthree  ')).toBe('one\ntwo\nthree');
    expect(cleanText('a <b>bold</b> claim: 5 < 6 &amp; <brilliant>')).toBe('a <b>bold</b> claim: 5 < 6 &amp; <brilliant>');
  });
});

describe('labelMapFromString', () => {
  it('keeps the given order and trims around names and answers', () => {
    expect(labelMapFromString(' positive = 1 , negative=0')).toEqual([
      { name: 'positive', answer: '1' },
      { name: 'negative', answer: '0' },
    ]);
    expect(labelMapToString(SENTIMENT)).toBe('positive=1,negative=0');
  });

  it('lets a label without "=" answer with itself', () => {
    expect(labelMapFromString('positive,negative')).toEqual([
      { name: 'positive', answer: 'positive' },
      { name: 'negative', answer: 'negative' },
    ]);
  });

  it('rejects empty parts, duplicates and one-class maps, naming --label-map', () => {
    expectSftError(() => labelMapFromString(''), ErrorCode.InvalidArgument, '--label-map', 'empty name');
    expectSftError(() => labelMapFromString('positive=1,=0'), ErrorCode.InvalidArgument, '--label-map', 'empty name');
    expectSftError(() => labelMapFromString('positive=,negative=0'), ErrorCode.InvalidArgument, 'empty answer');
    expectSftError(() => labelMapFromString('a=1,a=0'), ErrorCode.InvalidArgument, '"a" appears twice');
    expectSftError(() => labelMapFromString('a=1,b=1'), ErrorCode.InvalidArgument, 'answer "1"');
    expectSftError(() => labelMapFromString('positive=1;negative=0'), ErrorCode.InvalidArgument, 'at least two classes');
  });
});

describe('toExamples', () => {
  it('reports every bad row of the CSV fixture with its row number and reason', async () => {
    const { rows } = await readRows(join(FIXTURES, 'reviews.csv'));
    const { examples, skipped } = toExamples(rows, { textColumn: 'text', labelColumn: 'label', classes: SENTIMENT });
    const file = join(FIXTURES, 'reviews.csv');
    expect(examples).toEqual([
      { file, row: 1, text: 'Great film.\n\nLoved it, truly.', label: 'positive' },
      { file, row: 2, text: 'Line one\nline two with "quotes"', label: 'negative' },
      { file, row: 6, text: 'Solid, with a twist\nending', label: 'positive' },
    ]);
    expect(skipped).toEqual([
      { file, row: 3, reason: 'empty text' },
      { file, row: 4, reason: 'missing label' },
      { file, row: 5, reason: "label 'neutral' is not in the label map (positive, negative)" },
    ]);
    expect(examples.length + skipped.length).toBe(rows.length);
    expect(describeSkipped(skipped, 2)).toBe(
      `3 rows skipped:\n  ${file} row 3: empty text\n  ${file} row 4: missing label\n  ... and 1 more`,
    );
  });

  it('reports null text and labels from parquet, and every reason of a row at once', async () => {
    const { rows } = await readRows(join(FIXTURES, 'reviews.parquet'));
    const { examples, skipped } = toExamples(rows, { textColumn: 'text', labelColumn: 'label', classes: SENTIMENT });
    expect(examples.map((e) => [e.row, e.text])).toEqual([[1, 'A fine film'], [3, 'Dull\nand long']]);
    expect(skipped.map((s) => [s.row, s.reason])).toEqual([[2, 'missing text']]);
    const both = toExamples([row(7, { t: '  <br />  ', l: null })], { textColumn: 't', labelColumn: 'l', classes: SENTIMENT });
    expect(both.skipped).toEqual([{ file: 'f.csv', row: 7, reason: 'empty text; missing label' }]);
  });

  it('matches labels ignoring case only when no two classes differ just by case', () => {
    const rows = [row(1, { t: 'x', l: 'POS' }), row(2, { t: 'y', l: 'pos' })];
    const folded = toExamples(rows, { textColumn: 't', labelColumn: 'l', classes: labelMapFromString('pos=1,neg=0') });
    expect(folded.examples.map((e) => e.label)).toEqual(['pos', 'pos']);
    const strict = toExamples(rows, { textColumn: 't', labelColumn: 'l', classes: labelMapFromString('pos=1,Pos=2') });
    expect(strict.examples.map((e) => [e.row, e.label])).toEqual([[2, 'pos']]);
    expect(strict.skipped).toEqual([{ file: 'f.csv', row: 1, reason: "label 'POS' is not in the label map (pos, Pos)" }]);
  });

  it('keeps the raw text (trimmed) when cleaning is off', () => {
    const { examples } = toExamples([row(1, { t: ' a<br />b ', l: '1' })], { textColumn: 't', labelColumn: 'l', classes: labelMapFromString('1=yes,0=no'), cleanHtml: false });
    expect(examples[0]?.text).toBe('a<br />b');
  });

  it('throws when a file lacks the text or label column, listing the columns it has', () => {
    const rows = [row(1, { review: 'x', sentiment: 'positive' }, 'a.csv'), row(1, { text: 'y', sentiment: 'negative' }, 'b.jsonl')];
    expectSftError(
      () => toExamples(rows, { textColumn: 'review', labelColumn: 'sentiment', classes: SENTIMENT }),
      ErrorCode.InvalidArgument,
      '--text-column "review"',
      'b.jsonl',
      '"text", "sentiment"',
    );
    expectSftError(
      () => toExamples(rows.slice(0, 1), { textColumn: 'review', labelColumn: 'label', classes: SENTIMENT }),
      ErrorCode.InvalidArgument,
      '--label-column "label"',
      'a.csv',
      '"review", "sentiment"',
    );
  });

  it('treats a column present in some rows of a JSONL file as missing per row, not as an error', () => {
    const rows = [row(1, { text: 'x', label: 'positive' }, 'd.jsonl'), row(2, { label: 'negative' }, 'd.jsonl')];
    const { skipped } = toExamples(rows, { textColumn: 'text', labelColumn: 'label', classes: SENTIMENT });
    expect(skipped).toEqual([{ file: 'd.jsonl', row: 2, reason: 'missing text' }]);
  });
});
