// Which GGUF tensor each checkpoint tensor becomes: its llama.cpp name, its value fix (the
// inverse of what arch.ts undoes on import: Q/K rows permuted for the llama arch, 1 added to
// Gemma norms) and its ggml type for the chosen --quant, picked the way llama.cpp picks them
// (convert_hf_to_gguf.py for f16 / bf16 / q8_0, llama-quantize's llama_tensor_get_type for
// q4_0 / q4_k_m: output in Q6_K, Q4_K_M's attn_v / ffn_down in Q6_K on the use_more_bits
// layers, and the fallbacks for rows that are not whole blocks).
// The name table is arch.ts's: every GGUF name the importer knows is run through hfTensor()
// and the map is turned around, so import and export cannot disagree on a name.

import { SftError } from '../../errors.js';
import type { ArchConfig } from '../../config/arch.js';
import { hfTensor, type ArchSpec, type TensorFix } from '../arch.js';
import { GgmlType } from '../dequant.js';
import { GgufErrorCode } from '../errors.js';
import { ggmlType } from '../ggml-types.js';

export type ExportQuant = 'f16' | 'bf16' | 'q8_0' | 'q4_0' | 'q4_k_m';
export const EXPORT_QUANTS: readonly ExportQuant[] = ['f16', 'bf16', 'q8_0', 'q4_0', 'q4_k_m'];

/** general.file_type (llama.cpp's LLAMA_FTYPE_MOSTLY_*). */
export const FILE_TYPE: Record<ExportQuant, number> = { f16: 1, bf16: 32, q8_0: 7, q4_0: 2, q4_k_m: 15 };

export interface ExportTensor {
  /** Name in the checkpoint (safetensors). */
  source: string;
  gguf: string;
  /** PyTorch shape (rows first). */
  shape: number[];
  fix: TensorFix;
  type: number;
}

/** HF name (with the 'model.' prefix, lm_head.weight) -> GGUF name and fix, from arch.ts's table. */
function hfToGguf(spec: ArchSpec, arch: ArchConfig): Map<string, { gguf: string; fix: TensorFix }> {
  const heads = { q: arch.numHeads, kv: arch.numKvHeads };
  const candidates = ['token_embd', 'output_norm', 'output'];
  for (let i = 0; i < arch.numLayers; i++) for (const k of Object.keys(spec.layerNames)) candidates.push(`blk.${i}.${k}`);
  const map = new Map<string, { gguf: string; fix: TensorFix }>();
  for (const base of candidates) {
    for (const suffix of ['.weight', '.bias']) {
      const t = hfTensor(spec, { name: base + suffix }, heads);
      if (t) map.set(t.hfName, { gguf: base + suffix, fix: t.fix });
    }
  }
  return map;
}

/** The checkpoint name in HF's plain layout: the decoder prefix becomes 'model.', the head 'lm_head.weight'. */
function canonicalName(name: string, arch: ArchConfig): string | undefined {
  if (arch.lmHeadNames.includes(name)) return 'lm_head.weight';
  const prefix = arch.weightPrefixes.find((p) => name.startsWith(p));
  return prefix === undefined ? undefined : `model.${name.slice(prefix.length)}`;
}

/** llama-quantize's use_more_bits: the first and last eighth of the layers and every third in between. */
function useMoreBits(i: number, n: number): boolean {
  return i < Math.floor(n / 8) || i >= Math.floor((7 * n) / 8) || (i - Math.floor(n / 8)) % 3 === 2;
}

/** llama-quantize's tensor_type_fallback for rows that are not whole blocks. */
function fallback(type: number, ne0: number): number {
  const fits = (t: number) => ne0 % ggmlType(t)!.blockSize === 0;
  if (fits(type)) return type;
  const next = type === GgmlType.Q4_K ? GgmlType.Q5_0 : type === GgmlType.Q6_K ? GgmlType.Q8_0 : type;
  return fits(next) ? next : GgmlType.F16;
}

/** The ggml type of one tensor under `quant`. Vectors (norms, biases) stay F32, as llama.cpp keeps them. */
export function tensorType(quant: ExportQuant, gguf: string, shape: number[], numLayers: number, tied: boolean): number {
  if (shape.length < 2) return GgmlType.F32;
  const ne0 = shape[shape.length - 1]!;
  if (quant === 'f16') return GgmlType.F16;
  if (quant === 'bf16') return GgmlType.BF16;
  if (quant === 'q8_0') return fallback(GgmlType.Q8_0, ne0) === GgmlType.Q8_0 ? GgmlType.Q8_0 : GgmlType.F16;
  const base: number = quant === 'q4_0' ? GgmlType.Q4_0 : GgmlType.Q4_K;
  const isOutput = gguf === 'output.weight' || (tied && gguf === 'token_embd.weight');
  let type: number = base;
  if (isOutput) {
    type = ne0 % ggmlType(base)!.blockSize !== 0 ? GgmlType.Q8_0 : GgmlType.Q6_K;
  } else if (quant === 'q4_k_m') {
    const m = /^blk\.(\d+)\.(attn_v|ffn_down)\.weight$/.exec(gguf);
    // attn_v counts attention layers, ffn_down layers: one of each per layer in these families.
    if (m && useMoreBits(Number(m[1]), numLayers)) type = GgmlType.Q6_K;
  }
  return fallback(type, ne0);
}

/**
 * Every checkpoint tensor the GGUF holds, in checkpoint order. Tensors outside the decoder (a
 * vision tower) are left out and returned apart; a decoder tensor without a GGUF name is refused.
 */
export function planExportTensors(
  spec: ArchSpec,
  arch: ArchConfig,
  checkpoint: ReadonlyArray<{ name: string; shape: number[] }>,
  quant: ExportQuant,
): { tensors: ExportTensor[]; skipped: string[] } {
  const names = hfToGguf(spec, arch);
  const tensors: ExportTensor[] = [];
  const skipped: string[] = [];
  for (const t of checkpoint) {
    const hf = canonicalName(t.name, arch);
    if (hf === undefined) {
      skipped.push(t.name);
      continue;
    }
    if (hf === 'lm_head.weight' && arch.tieWordEmbeddings) continue; // llama.cpp reuses token_embd
    const target = names.get(hf);
    if (!target) {
      throw new SftError(`tensor ${t.name} has no llama.cpp name for GGUF architecture ${spec.gguf}; it cannot be exported`, GgufErrorCode.Unsupported);
    }
    tensors.push({ source: t.name, gguf: target.gguf, shape: t.shape, fix: target.fix, type: tensorType(quant, target.gguf, t.shape, arch.numLayers, arch.tieWordEmbeddings) });
  }
  for (const need of ['token_embd.weight', 'output_norm.weight']) {
    if (!tensors.some((t) => t.gguf === need)) throw new SftError(`the checkpoint has no tensor for ${need}; not a decoder checkpoint?`, GgufErrorCode.Invalid);
  }
  return { tensors, skipped };
}

/** Applies the export side of a fix to float32 values of a [rows, cols] tensor (in place where it can). */
export function applyExportFix(values: Float32Array, shape: number[], fix: TensorFix): Float32Array {
  if (fix.kind === 'none') return values;
  if (fix.kind === 'subtract-one') {
    // llama.cpp stores Gemma's norm weight as 1 + w (its RMS norm multiplies by the weight).
    for (let i = 0; i < values.length; i++) values[i] = values[i]! + 1;
    return values;
  }
  // llama.cpp's LlamaModel.permute: HF rows (head, half, i) -> GGUF rows (head, i, half).
  const rows = shape[0]!;
  const cols = values.length / rows;
  if (rows % (fix.heads * 2) !== 0) throw new SftError(`${rows} rows are not whole head pairs for ${fix.heads} heads`, GgufErrorCode.Invalid);
  const dim = rows / fix.heads / 2;
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) {
    const h = Math.floor(r / (2 * dim));
    const w = r % (2 * dim);
    const src = h * 2 * dim + (w & 1) * dim + (w >> 1);
    out.set(values.subarray(src * cols, (src + 1) * cols), r * cols);
  }
  return out;
}
