// Damaged parquet page headers and footers are INVALID_DATA before hyparquet decodes them (a
// header declaring a list of ~10^8 elements ended Node with a V8 fatal error: the recorded fuzz
// run of docs/reliability.md, seed 7, parquet inputs 12700 and 84504, rebuilt here).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseParquet } from '../../src/data/parquet.js';
import { SftError } from '../../src/errors.js';
// @ts-expect-error: a plain JavaScript module of the fuzz scripts, without types
import { mutatedInput } from '../../scripts/fuzz/mutate.mjs';

const DATA = join(import.meta.dirname, '..', 'fixtures', 'data');
const seeds = [readFileSync(join(DATA, 'reviews.parquet')), readFileSync(join(DATA, 'mixed', 'c.parquet'))];

async function rejection(bytes: Uint8Array): Promise<SftError> {
  const err = await parseParquet(bytes, 'damaged.parquet').then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(SftError);
  return err as SftError;
}

describe('parquet Thrift check', () => {
  it.each([12700, 84504])('fuzz input %i (seed 7) is INVALID_DATA naming the damaged header, not a crash', async (index) => {
    const { bytes } = mutatedInput(seeds, 'binary', 7, 'parquet', index) as { bytes: Buffer };
    const err = await rejection(bytes);
    expect(err.code).toBe('INVALID_DATA');
    expect(err.message).toMatch(/^damaged\.parquet: page header at byte \d+: (a Thrift map of 14840 declared|unknown Thrift type 15)/);
  });

  it('a footer list declaring more elements than bytes left is refused', async () => {
    const bytes = Buffer.from(seeds[1] as Buffer);
    const footerLength = bytes.readUInt32LE(bytes.length - 8);
    const footer = bytes.length - 8 - footerLength;
    // FileMetaData field 2 is the schema list: its header byte is 0x19 then (size << 4 | STRUCT).
    const at = bytes.indexOf(0x19, footer) + 1;
    bytes[at] = 0xfc; // size 15: a varint follows
    const damaged = Buffer.concat([bytes.subarray(0, at + 1), Buffer.from([0xff, 0xff, 0xff, 0x7f]), bytes.subarray(at + 1, bytes.length - 8)]);
    const tail = Buffer.alloc(8);
    tail.writeUInt32LE(footerLength + 4);
    tail.write('PAR1', 4);
    const err = await rejection(Buffer.concat([damaged, tail]));
    expect(err.message).toContain('a Thrift list of 268435455 declared with');
  });

  it('the fixtures still read', async () => {
    expect((await parseParquet(seeds[0] as Buffer, 'reviews.parquet')).length).toBe(3);
    expect((await parseParquet(seeds[1] as Buffer, 'c.parquet')).length).toBe(1);
  });
});
