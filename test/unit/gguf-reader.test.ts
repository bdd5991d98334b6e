// Our GGUF reader against gguf-py's GGUFReader on a file gguf-py's GGUFWriter wrote
// (scripts/reference/gguf_make_fixtures.py): every metadata value type, string arrays, u64
// beyond 2^53, alignment 64, tensors of several types and ranks; and what corrupt files say.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readGguf, readTensorBytes, type GgufValue } from '../../src/gguf/reader.js';

const DIR = join(import.meta.dirname, '..', 'fixtures', 'gguf');
const FILE = join(DIR, 'reader.gguf');

type Json = number | string | boolean | { bigint: string } | Json[];
const expected = JSON.parse(readFileSync(join(DIR, 'reader.json'), 'utf8')) as {
  metadata: Record<string, Json>;
  tensors: { name: string; shape: number[]; type: number; offset: number; bytes: number; first_bytes: number[] }[];
};

function fromJson(v: Json): GgufValue {
  if (Array.isArray(v)) return v.map(fromJson);
  if (typeof v === 'object') return BigInt(v.bigint);
  return v;
}

describe('readGguf', () => {
  it('reads every metadata value as gguf-py does', async () => {
    const file = await readGguf(FILE);
    expect(file.version).toBe(3);
    expect(file.alignment).toBe(64);
    const want = Object.fromEntries(Object.entries(expected.metadata).map(([k, v]) => [k, fromJson(v)]));
    // f32 values come back as the float32 number (0.1f), not the decimal the writer was given.
    expect(file.metadata).toEqual(want);
    expect(typeof file.metadata['t.u64.small']).toBe('number');
    expect(file.metadata['t.u64.big']).toBe(2n ** 63n + 5n);
  });

  it('lists tensors in GGUF order (ne0 first) with absolute, aligned offsets and byte sizes', async () => {
    const file = await readGguf(FILE);
    expect(file.tensors.map(({ name, shape, type, offset, bytes }) => ({ name, shape, type, offset, bytes }))).toEqual(
      expected.tensors.map(({ name, shape, type, offset, bytes }) => ({ name, shape, type, offset, bytes })),
    );
    expect(file.dataOffset % 64).toBe(0);
    for (const t of file.tensors) expect((t.offset - file.dataOffset) % 64).toBe(0);
    for (const [i, t] of file.tensors.entries()) {
      const head = await readTensorBytes(file, t, { start: 0, length: 8 });
      expect([...head]).toEqual(expected.tensors[i]!.first_bytes);
      const whole = await readTensorBytes(file, t);
      expect(whole.length).toBe(t.bytes);
    }
  });

  it('names what is wrong with a file that is not GGUF, truncated, or of another version', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'gguf-reader-'));
    const good = readFileSync(FILE);

    writeFileSync(join(tmp, 'text.gguf'), 'this is not a gguf file at all');
    await expect(readGguf(join(tmp, 'text.gguf'))).rejects.toMatchObject({ code: 'GGUF_INVALID', message: expect.stringMatching(/not "GGUF"/) });

    writeFileSync(join(tmp, 'cut.gguf'), good.subarray(0, 300));
    await expect(readGguf(join(tmp, 'cut.gguf'))).rejects.toMatchObject({ code: 'GGUF_INVALID', message: expect.stringMatching(/file ends at 300 \(truncated\?\)/) });

    // Header intact, data cut: the last tensor runs past the end.
    writeFileSync(join(tmp, 'nodata.gguf'), good.subarray(0, good.length - 100));
    await expect(readGguf(join(tmp, 'nodata.gguf'))).rejects.toMatchObject({ message: expect.stringMatching(/tensor d\.q4_k .* runs past the end of the file/) });

    const v1 = Buffer.from(good);
    v1.writeUInt32LE(1, 4);
    writeFileSync(join(tmp, 'v1.gguf'), v1);
    await expect(readGguf(join(tmp, 'v1.gguf'))).rejects.toThrow(/GGUF version 1 is not supported \(versions 2 and 3 are\)/);

    const big = Buffer.from(good);
    big.writeUInt32BE(3, 4);
    writeFileSync(join(tmp, 'be.gguf'), big);
    await expect(readGguf(join(tmp, 'be.gguf'))).rejects.toThrow(/big-endian/);

    await expect(readGguf(join(tmp, 'missing.gguf'))).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
  });

  it('refuses a byte range outside the tensor', async () => {
    const file = await readGguf(FILE);
    const t = file.tensors[0]!;
    await expect(readTensorBytes(file, t, { start: t.bytes - 4, length: 8 })).rejects.toThrow(/outside tensor a\.f32/);
  });
});
