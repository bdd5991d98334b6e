// The tensors of a merged checkpoint as numbers: safetensors bytes (F32 / F16 / BF16) decoded to
// float32 and encoded back, and the per-module finiteness check that names the adapter tensors
// behind a NaN or Inf (peft's safe_merge: merge on a copy, check it is finite, name the adapter).
// Not here: the merge itself (the engine's mergeAdapter) or the files around it (merge.ts).

import { ErrorCode, SftError } from '../errors.js';
import { GgmlType, dequantize } from '../gguf/dequant.js';
import { f32ToBf16, f32ToF16 } from '../gguf/half.js';
import type { StDtype, StTensorData } from '../native.js';

export type MergeDtype = 'float32' | 'bfloat16' | 'float16';

export const ST_DTYPE_OF: Record<MergeDtype, StDtype> = { float32: 'F32', bfloat16: 'BF16', float16: 'F16' };
const GGML_OF: Partial<Record<StDtype, number>> = { F32: GgmlType.F32, F16: GgmlType.F16, BF16: GgmlType.BF16 };

/** A floating-point tensor's values as float32; undefined for integer / bool tensors. */
export function tensorValues(t: StTensorData, name: string): Float32Array | undefined {
  const type = GGML_OF[t.dtype];
  if (type === undefined) return undefined;
  const count = t.shape.reduce((a, b) => a * b, 1);
  return dequantize(type, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), count, name);
}

/** float32 values as the bytes of `dtype` (round to nearest even, as torch's .to()). */
export function encodeValues(values: Float32Array, dtype: MergeDtype): Uint8Array {
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

/** `model.layers.3.self_attn.q_proj.weight` -> `layers.3.self_attn.q_proj` (the part adapter keys share). */
export function moduleKey(weightName: string): string | undefined {
  const m = /(layers\.\d+\.[a-z_]+\.[a-z_]+)\.weight$/.exec(weightName);
  return m?.[1];
}

/**
 * Throws MERGE_NONFINITE for a merged weight holding NaN / Inf in `dtype`. `adapterNames` are the
 * adapter file's tensor names: those of the module are named (lora_A, lora_B), since the base
 * tensor was finite when the engine loaded it.
 */
export function nonFiniteMergeError(weightName: string, index: number, value: number, dtype: MergeDtype, adapterNames: readonly string[]): SftError {
  const key = moduleKey(weightName);
  const adapterTensors = key === undefined ? [] : adapterNames.filter((n) => n.includes(`${key}.lora_`));
  const cause =
    adapterTensors.length > 0
      ? `the adapter tensors ${adapterTensors.join(' and ')} (scaling x lora_B @ lora_A) make it ${value} at element ${index}`
      : `element ${index} is ${value} (no adapter tensor touches it: the base checkpoint holds it)`;
  const hint = dtype === 'float32' ? '' : dtype === 'float16' ? '; float16 overflows beyond 65504: try --dtype bfloat16 or float32' : '; try --dtype float32';
  return new SftError(`merge: ${weightName} is not finite in ${dtype}: ${cause}${hint}`, ErrorCode.MergeNonFinite);
}
