// The GGUF exporter's encoders are bit-exact with the references: F16, BF16, Q8_0, Q4_0 and Q5_0
// with gguf-py's quants.quantize, Q4_K and Q6_K with ggml's C quantize_row_q4_K_ref /
// quantize_row_q6_K_ref (gguf-py has no quantizer for those), on inputs that reach every branch
// (fixtures: scripts/reference/make_gguf_quant_fixtures.py). Each encoding also decodes, through
// the importer's dequant.ts, to within its type's step of the input.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeValues } from '../../src/gguf/export/tensor-values.js';
import { dequantize, GgmlType } from '../../src/gguf/dequant.js';
import { quantizeQ4_K, quantizeQ6_K } from '../../src/gguf/export/quantize-k.js';
import { quantizeQ4_0, quantizeQ5_0, quantizeQ8_0 } from '../../src/gguf/export/quantize-legacy.js';

const DIR = join(import.meta.dirname, '..', 'fixtures', 'gguf', 'export-quant');
const bytes = readFileSync(join(DIR, 'values.f32'));
const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
const manifest = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as { types: Record<string, { source: string; max_abs_error: number }> };

const ENCODERS: Record<string, [number, (x: Float32Array) => Uint8Array]> = {
  F16: [GgmlType.F16, (x) => encodeValues(x, 'float16')],
  BF16: [GgmlType.BF16, (x) => encodeValues(x, 'bfloat16')],
  Q8_0: [GgmlType.Q8_0, quantizeQ8_0],
  Q4_0: [GgmlType.Q4_0, quantizeQ4_0],
  Q5_0: [GgmlType.Q5_0, quantizeQ5_0],
  Q4_K: [GgmlType.Q4_K, quantizeQ4_K],
  Q6_K: [GgmlType.Q6_K, quantizeQ6_K],
};

describe.each(Object.keys(ENCODERS))('%s encoder', (name) => {
  const [type, encode] = ENCODERS[name]!;
  const want = new Uint8Array(readFileSync(join(DIR, `${name}.raw`)));

  it(`is bit-exact with ${manifest.types[name]!.source}`, () => {
    const got = encode(values.slice());
    expect(got.length).toBe(want.length);
    const first = got.findIndex((b, i) => b !== want[i]);
    expect(first, `first differing byte ${first}`).toBe(-1);
  });

  it('decodes (dequant.ts) to the reference error', () => {
    const back = dequantize(type, encode(values.slice()), values.length, name);
    const err = back.reduce((m, v, i) => Math.max(m, Math.abs(v - values[i]!)), 0);
    expect(err).toBeCloseTo(manifest.types[name]!.max_abs_error, 5);
  });
});
