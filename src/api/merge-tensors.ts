// The merged checkpoint's dtype and the per-module finiteness error that names the adapter
// tensors behind a NaN or Inf (peft's safe_merge: merge on a copy, check it is finite, name the
// adapter). Decoding and encoding the values: gguf/export/tensor-values.ts.
// Not here: the merge itself (the engine's mergeAdapter) or the files around it (merge.ts).

import { ErrorCode, SftError } from '../errors.js';
import type { FloatDtype } from '../gguf/export/tensor-values.js';
import type { StDtype } from '../native.js';

export { encodeValues, firstNonFinite, tensorValues } from '../gguf/export/tensor-values.js';
export type MergeDtype = FloatDtype;

export const ST_DTYPE_OF: Record<MergeDtype, StDtype> = { float32: 'F32', bfloat16: 'BF16', float16: 'F16' };

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
