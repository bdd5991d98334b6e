// Our ggml dequantization against gguf-py's numpy one, bit for bit (fixtures from
// scripts/reference/gguf_make_fixtures.py: random raw blocks per type), and our float32 ->
// bfloat16 / float16 rounding against torch's.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEQUANTIZABLE_TYPES, dequantize, dequantizeInto, f16ToF32, GgmlType } from '../../src/gguf/dequant.js';
import { f32ToBf16, f32ToF16 } from '../../src/gguf/half.js';
import { ggmlType } from '../../src/gguf/ggml-types.js';

const DIR = join(import.meta.dirname, '..', 'fixtures', 'gguf');

interface Case {
  type: string;
  id: number;
  values: number;
  bytes: number;
}
const manifest = JSON.parse(readFileSync(join(DIR, 'dequant', 'manifest.json'), 'utf8')) as { cases: Case[] };

function bytesOf(file: string): Uint8Array {
  const b = readFileSync(file);
  // Copy into a fresh, aligned buffer so typed-array views work.
  return new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** Index of the first value whose bits differ (-1 when all agree). */
function firstBitDifference(got: Float32Array, expected: Float32Array): number {
  const a = new Uint32Array(got.buffer, got.byteOffset, got.length);
  const b = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

describe('dequantize matches gguf-py bit for bit', () => {
  it('covers every type the issue names, and Q2_K / Q3_K', () => {
    const required = ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q4_K', 'Q5_K', 'Q6_K', 'Q2_K', 'Q3_K'];
    expect(manifest.cases.map((c) => c.type).sort()).toEqual([...required].sort());
    for (const t of required) expect(DEQUANTIZABLE_TYPES).toContain(t);
  });

  it.each(manifest.cases.map((c) => [c.type, c] as const))('%s', (_name, c) => {
    const raw = bytesOf(join(DIR, 'dequant', `${c.type}.raw`));
    const expected = new Float32Array(bytesOf(join(DIR, 'dequant', `${c.type}.f32`)).buffer);
    expect(raw.length).toBe(c.bytes);
    const info = ggmlType(c.id)!;
    expect(raw.length).toBe((c.values / info.blockSize) * info.typeSize);
    const got = dequantize(c.id, raw, c.values);
    const at = firstBitDifference(got, expected);
    expect(at, at < 0 ? '' : `value ${at}: got ${got[at]} (bits ${new Uint32Array(got.buffer)[at]!.toString(16)}), gguf-py ${expected[at]} (bits ${new Uint32Array(expected.buffer)[at]!.toString(16)})`).toBe(-1);
    // Non-trivial data: the fixture must exercise the formulas, not decode to zeros.
    expect(new Set(got).size).toBeGreaterThan(c.values / 8);
  });

  it('decodes a slice of whole blocks the same as the whole tensor (the converter reads row ranges)', () => {
    const c = manifest.cases.find((x) => x.type === 'Q6_K')!;
    const raw = bytesOf(join(DIR, 'dequant', 'Q6_K.raw'));
    const whole = dequantize(c.id, raw, c.values);
    const out = new Float32Array(c.values);
    const half = c.values / 2;
    const halfBytes = raw.length / 2;
    dequantizeInto(c.id, raw.subarray(0, halfBytes), out.subarray(0, half));
    dequantizeInto(c.id, raw.subarray(halfBytes), out.subarray(half));
    expect(firstBitDifference(out, whole)).toBe(-1);
  });

  it('refuses unsupported types naming the supported ones, and short input', () => {
    expect(() => dequantize(23 /* IQ4_XS */, new Uint8Array(136), 256, 'blk.0.ffn_down.weight')).toThrow(
      /blk\.0\.ffn_down\.weight: ggml type IQ4_XS cannot be dequantized; supported types: F32, F16, BF16, Q4_0/,
    );
    expect(() => dequantize(GgmlType.Q4_0, new Uint8Array(17), 32)).toThrow(/need 18 bytes, got 17/);
    expect(() => dequantize(GgmlType.Q4_0, new Uint8Array(18), 16)).toThrow(/not whole Q4_0 blocks/);
  });

  it('f16ToF32 decodes normals, subnormals, zeros and infinities', () => {
    expect(f16ToF32(0x3c00)).toBe(1);
    expect(f16ToF32(0xc000)).toBe(-2);
    expect(f16ToF32(0x7bff)).toBe(65504);
    expect(f16ToF32(0x0001)).toBe(2 ** -24);
    expect(f16ToF32(0x03ff)).toBe(1023 * 2 ** -24);
    expect(Object.is(f16ToF32(0x8000), -0)).toBe(true);
    expect(f16ToF32(0xfc00)).toBe(-Infinity);
    expect(Number.isNaN(f16ToF32(0x7e00))).toBe(true);
  });
});

describe('float32 -> 16-bit rounding matches torch', () => {
  const values = new Float32Array(bytesOf(join(DIR, 'convert', 'values.f32')).buffer);
  const torchBf16 = new Uint16Array(bytesOf(join(DIR, 'convert', 'values.bf16')).buffer);
  const torchF16 = new Uint16Array(bytesOf(join(DIR, 'convert', 'values.f16')).buffer);

  function firstDiff(a: Uint16Array, b: Uint16Array): number {
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
    return -1;
  }

  it('bfloat16 (ties to even, infinities, subnormals)', () => {
    const got = f32ToBf16(values, new Uint16Array(values.length));
    const at = firstDiff(got, torchBf16);
    expect(at, at < 0 ? '' : `${values[at]}: got ${got[at]!.toString(16)}, torch ${torchBf16[at]!.toString(16)}`).toBe(-1);
  });

  it('float16 (ties to even, overflow to inf, subnormals)', () => {
    const got = f32ToF16(values, new Uint16Array(values.length));
    const at = firstDiff(got, torchF16);
    expect(at, at < 0 ? '' : `${values[at]}: got ${got[at]!.toString(16)}, torch ${torchF16[at]!.toString(16)}`).toBe(-1);
  });

  it('NaN stays a quiet NaN', () => {
    const nan = new Float32Array([Number.NaN]);
    expect(f32ToBf16(nan, new Uint16Array(1))[0]).toBe(0x7fc0);
    expect(f32ToF16(nan, new Uint16Array(1))[0]).toBe(0x7e00);
  });
});
