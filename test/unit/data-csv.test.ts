// The CSV parser on the cases real files throw at it: BOM, CRLF / LF / CR, quotes, embedded
// line breaks and delimiters, and malformed input reported with the source and line.
import { describe, expect, it } from 'vitest';
import { parseCsv, parseCsvRecords } from '../../src/data/csv.js';
import { ErrorCode } from '../../src/errors.js';
import { expectSftError } from '../helpers/errors.js';

const fields = (text: string, delimiter = ',') => parseCsvRecords(text, 'x.csv', delimiter).map((r) => r.fields);

describe('parseCsvRecords', () => {
  it('splits records on LF, CRLF and lone CR, with or without a final line break', () => {
    expect(fields('a,b\n1,2\r\n3,4\r5,6')).toEqual([['a', 'b'], ['1', '2'], ['3', '4'], ['5', '6']]);
    expect(fields('a,b\r\n1,2\r\n')).toEqual([['a', 'b'], ['1', '2']]);
  });

  it('drops a UTF-8 byte order mark so the first column name is clean', () => {
    expect(fields('\uFEFFid,text\n1,x')[0]).toEqual(['id', 'text']);
  });

  it('reads quoted fields with "" escapes, delimiters and line breaks inside, kept verbatim', () => {
    const text = 'a,b,c\r\n"x, y","say ""hi""","line1\r\nline2\nline3"\r\n';
    expect(fields(text)).toEqual([['a', 'b', 'c'], ['x, y', 'say "hi"', 'line1\r\nline2\nline3']]);
  });

  it('keeps empty fields, including a trailing one and an empty quoted one', () => {
    expect(fields('a,b,c\n,,\n"",x,\n1,2,')).toEqual([['a', 'b', 'c'], ['', '', ''], ['', 'x', ''], ['1', '2', '']]);
  });

  it('skips empty lines and numbers records by the line they start on', () => {
    const records = parseCsvRecords('h1,h2\n\n"multi\nline",x\r\n\r\nlast,y\n', 'x.csv');
    expect(records.map((r) => r.line)).toEqual([1, 3, 6]);
    expect(records[1]?.fields).toEqual(['multi\nline', 'x']);
  });

  it('keeps a quote inside an unquoted field as a character', () => {
    expect(fields('size\n5" tall')).toEqual([['size'], ['5" tall']]);
  });

  it('reads tab-separated text with a tab delimiter', () => {
    expect(fields('a\tb\n"x\ty"\t2', '\t')).toEqual([['a', 'b'], ['x\ty', '2']]);
  });
});

describe('parseCsv errors name the source and the line', () => {
  it('an unterminated quoted field, at the line where the quote opened', () => {
    expectSftError(() => parseCsv('a,b\n1,2\n3,"never closed\nmore text\n', 'data/bad.csv'), ErrorCode.InvalidData, 'data/bad.csv:3', 'unterminated');
  });

  it('text after a closing quote', () => {
    expectSftError(() => parseCsv('a,b\n"x"y,2\n', 'bad.csv'), ErrorCode.InvalidData, 'bad.csv:2', 'after a closing quote');
  });

  it('a record with more or fewer fields than the header, counting lines inside quoted fields', () => {
    expectSftError(() => parseCsv('a,b\n1,2\n"two\nlines",2,3\n', 'ragged.csv'), ErrorCode.InvalidData, 'ragged.csv:3', 'expected 2 fields', 'found 3');
    expectSftError(() => parseCsv('a,b\r\n1,2\r\n3\r\n', 'short.csv'), ErrorCode.InvalidData, 'short.csv:3', 'found 1');
  });

  it('an empty file and duplicate column names', () => {
    expectSftError(() => parseCsv('\uFEFF', 'empty.csv'), ErrorCode.InvalidData, 'empty.csv:1', 'header');
    expectSftError(() => parseCsv('a,b,a\n1,2,3\n', 'dup.csv'), ErrorCode.InvalidData, 'dup.csv:1', '"a" twice');
  });

  it('returns the header and width-checked records on good input', () => {
    const table = parseCsv('id,text\r\n1,"a\r\nb"\r\n2,c\r\n', 'ok.csv');
    expect(table.header).toEqual(['id', 'text']);
    expect(table.records).toEqual([{ line: 2, fields: ['1', 'a\r\nb'] }, { line: 4, fields: ['2', 'c'] }]);
  });
});
