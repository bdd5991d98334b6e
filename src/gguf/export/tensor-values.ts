// Floating-point tensors as numbers: safetensors bytes (F32 / F16 / BF16) decoded to float32,
// float32 encoded back (round to nearest even, as torch's .to()), and the finiteness scan.
// Shared by the GGUF exporter and sft merge.

import { dequantize, GgmlType } from '../dequant.js';
import { f32ToBf16, f32ToF16 } from '../half.js';
import type { StDtype, StTensorData } from '../../native.js';

export type FloatDtype = 'float32' | 'bfloat16' | 'float16';

const GGML_OF: Partial<Record<StDtype, number>> = { F32: GgmlType.F32, F16: GgmlType.F16, BF16: GgmlType.BF16 };

/** A floating-point tensor's values as float32; undefined for integer / bool tensors. */
export function tensorValues(t: StTensorData, name: string): Float32Array | undefined {
  const type = GGML_OF[t.dtype];
  if (type === undefined) return undefined;
  const count = t.shape.reduce((a, b) => a * b, 1);
  return dequantize(type, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), count, name);
}

/** float32 values as the bytes of `dtype` (round to nearest even, as torch's .to()). */
export function encodeValues(values: Float32Array, dtype: FloatDtype): Uint8Array {
  if (dtype === 'float32') return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const bits = new Uint16Array(values.length);
  if (dtype === 'bfloat16') f32ToBf16(values, bits);
  else f32ToF16(values, bits);
  return new Uint8Array(bits.buffer);
}

/** The first index holding NaN or +-Inf, or -1. */
export function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) return i;
  }
  return -1;
}
