// Reads the bitsandbytes reference vectors written by scripts/reference/make_bnb_fixtures.py
// (test/fixtures/bnb/vectors.{json,safetensors}) and wraps the addon's exports.quant test API.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { native, type NativeQuant, type StTensorData } from '../../src/native.js';

export const BNB_FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'bnb');
export const BNB_VECTORS = join(BNB_FIXTURES, 'vectors.safetensors');

export type { QuantType } from '../../src/native.js';
import type { QuantType } from '../../src/native.js';
export type FloatDtype = 'float32' | 'bfloat16' | 'float16';
export type { QuantRecord as TensorRecord } from '../../src/native.js';

export interface BnbCase {
  id: string;
  type: QuantType;
  blocksize: number;
  double_quant: boolean;
  dtype: FloatDtype;
  shape: number[];
  input: string;
  mean_abs_error: number;
  max_abs_error: number;
  relative_rms_error: number;
}

export const quant = (): NativeQuant => native().quant;

export function bnbCases(): BnbCase[] {
  const path = join(BNB_FIXTURES, 'vectors.json');
  if (!existsSync(path) || !existsSync(BNB_VECTORS)) return [];
  return (JSON.parse(readFileSync(path, 'utf8')) as { cases: BnbCase[] }).cases;
}

export function readVector(name: string): StTensorData {
  return native().safetensors.read(BNB_VECTORS, name);
}

/** The fixture's serialized 4-bit weight of a case, keyed as stored ("<id>.weight", ...). */
export function bnbWeight(id: string): TensorRecord {
  const { tensors } = native().safetensors.inspect(BNB_VECTORS);
  const prefix = `${id}.weight`;
  const out: TensorRecord = {};
  for (const t of tensors) {
    if (t.name === prefix || t.name.startsWith(`${prefix}.`)) out[t.name] = readVector(t.name);
  }
  return out;
}

/** Record keys with `from` as weight name renamed to `to` ("<id>.weight.absmax" -> "weight.absmax"). */
export function renameWeight(record: TensorRecord, from: string, to: string): TensorRecord {
  const out: TensorRecord = {};
  for (const [k, v] of Object.entries(record)) out[to + k.slice(from.length)] = v;
  return out;
}

/** Element values of an F32 / BF16 / F16 tensor as doubles. */
export function toFloats(t: StTensorData): Float64Array {
  const b = t.data;
  if (t.dtype === 'F32') return Float64Array.from(new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));
  const u16 = new Uint16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  const out = new Float64Array(u16.length);
  const f = new Float32Array(1);
  const u32 = new Uint32Array(f.buffer);
  for (let i = 0; i < u16.length; ++i) {
    if (t.dtype === 'BF16') {
      u32[0] = u16[i] << 16;
      out[i] = f[0];
    } else if (t.dtype === 'F16') {
      const h = u16[i];
      const sign = h & 0x8000 ? -1 : 1;
      const exp = (h >> 10) & 0x1f;
      const frac = h & 0x3ff;
      out[i] =
        exp === 0 ? sign * frac * 2 ** -24 : exp === 31 ? (frac ? NaN : sign * Infinity) : sign * (1 + frac / 1024) * 2 ** (exp - 15);
    } else {
      throw new Error(`toFloats: unsupported dtype ${t.dtype}`);
    }
  }
  return out;
}

/** Deterministic standard normal samples (Box-Muller over a 32-bit LCG). */
export function gaussian(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0;
  const next = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(next()));
    const a = 2 * Math.PI * next();
    out[i] = r * Math.cos(a) * scale;
    if (i + 1 < n) out[i + 1] = r * Math.sin(a) * scale;
  }
  return out;
}

export function f32Tensor(values: Float32Array, shape: number[]): StTensorData {
  return { dtype: 'F32', shape, data: Buffer.from(values.buffer, values.byteOffset, values.byteLength) };
}
