// importGguf: a llama.cpp GGUF file -> a Hugging Face checkpoint folder (config.json,
// generation_config.json, model.safetensors, tokenizer.json, tokenizer_config.json) that
// loadModel, transformers and the tokenizers library load. Architectures: llama (also
// Mistral-style files), qwen2, qwen3, gemma, gemma2, gemma3 (text). Tensor types: F32, F16,
// BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K.
import { z } from 'zod';
import { IMPORT_DEFAULTS } from '../config/defaults.js';
import type { SameShape } from '../config/same-shape.js';
import type { ConvertProgress } from '../gguf/convert.js';
import { importGgufFile, type ImportGgufResult } from '../gguf/import.js';
import { parseOptions } from '../config/parse-options.js';
import { checkOutputPath } from '../io/output-path.js';

/** importGguf(file, outDir, options) (`sft import`). */
export interface ImportGgufOptions {
  /** dtype of the written weights (what CUDA computes in; float32 keeps every dequantized value exactly). @default 'bfloat16' */
  dtype?: 'float32' | 'bfloat16' | 'float16';
  /** Largest safetensors file before the checkpoint is sharded (bytes). @default 2 GiB */
  maxShardBytes?: number;
  /** Called after each tensor is converted. @default none */
  onProgress?: (progress: ImportGgufProgress) => void;
  /** Stops between tensors with an ABORTED SftError. @default none */
  signal?: AbortSignal;
}

export const importOptionsSchema = z
  .object({
    dtype: z.enum(['float32', 'bfloat16', 'float16']).default(IMPORT_DEFAULTS.dtype),
    maxShardBytes: z.number().int().positive().optional(),
  })
  .strict();
const importSchemaMatches: SameShape<Omit<ImportGgufOptions, 'onProgress' | 'signal'>, z.input<typeof importOptionsSchema>> = true;
void importSchemaMatches;
export type ImportGgufProgress = ConvertProgress;
export type { ImportGgufResult };

/**
 * Converts `file` into `outDir` (created if needed; weights, configs and tokenizer files there are
 * replaced). Throws GGUF_UNSUPPORTED naming the architecture or tensor type (and what is
 * supported), GGUF_INVALID for a malformed file.
 */
export async function importGguf(file: string, outDir: string, options: ImportGgufOptions = {}): Promise<ImportGgufResult> {
  const { onProgress, signal, ...rest } = options;
  const opts = parseOptions(importOptionsSchema, rest, 'importGguf options');
  checkOutputPath(outDir, 'folder');
  return importGgufFile(file, outDir, {
    dtype: opts.dtype,
    ...(opts.maxShardBytes !== undefined ? { maxShardBytes: opts.maxShardBytes } : {}),
    ...(onProgress ? { onProgress } : {}),
    ...(signal ? { signal } : {}),
  });
}
