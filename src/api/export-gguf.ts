// exportGguf (`sft export --format gguf`): a checkpoint, optionally with a LoRA adapter merged in
// 16 bits first (mergeAdapterCheckpoint into a temporary folder beside the output), written as
// one GGUF v3 file that llama.cpp, Ollama and our own importer load: llama.cpp's tensor names
// and layouts, architecture metadata, the tokenizer and chat template, tensors in f16 / bf16 /
// q8_0 / q4_0 / q4_k_m (src/gguf/export/).

import { mkdtemp, rm } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { z } from 'zod';
import { EXPORT_DEFAULTS } from '../config/defaults.js';
import { parseOptions } from '../config/parse-options.js';
import type { SameShape } from '../config/same-shape.js';
import { ErrorCode, SftError } from '../errors.js';
import { exportCheckpointToGguf, type GgufExportResult } from '../gguf/export/export.js';
import { EXPORT_QUANTS, type ExportQuant } from '../gguf/export/tensor-plan.js';
import { checkOutputPath } from '../io/output-path.js';
import { mergeAdapterCheckpoint } from './merge.js';
import type { ProgressEvent } from './progress.js';

/** exportGguf(model, outFile, options) (`sft export`). */
export interface ExportGgufOptions {
  /** A peft adapter folder merged into the model (in 16 bits) before the export. @default none */
  adapter?: string;
  /** Tensor types: f16 / bf16 (matrices 16-bit), q8_0, q4_0, q4_k_m (llama-quantize's mix); norms stay F32. @default 'f16' */
  quant?: ExportQuant;
  /** Where the base loads for the merge (only with adapter). @default 'cuda' when available, else 'cpu' */
  device?: 'cpu' | 'cuda';
  /** general.name of the file. @default the model folder's name */
  name?: string;
  /** Called with a message per stage. @default none */
  onProgress?: (event: ProgressEvent) => void;
  /** Stops between tensors with an ABORTED SftError; no file is left. @default none */
  signal?: AbortSignal;
}

export const exportOptionsSchema = z
  .object({
    adapter: z.string().min(1).optional(),
    quant: z.enum(EXPORT_QUANTS as [ExportQuant, ...ExportQuant[]]).default(EXPORT_DEFAULTS.quant),
    device: z.enum(['cpu', 'cuda']).optional(),
    name: z.string().min(1).optional(),
  })
  .strict();
const exportSchemaMatches: SameShape<Omit<ExportGgufOptions, 'onProgress' | 'signal'>, z.input<typeof exportOptionsSchema>> = true;
void exportSchemaMatches;

export type { GgufExportResult };

export async function exportGguf(modelDir: string, outFile: string, options: ExportGgufOptions = {}): Promise<GgufExportResult> {
  const { onProgress, signal, ...rest } = options;
  const opts = parseOptions(exportOptionsSchema, rest, 'export options');
  const out = resolve(outFile);
  if (!out.endsWith('.gguf')) throw new SftError(`--out must be a .gguf file name, got ${outFile}`, ErrorCode.InvalidArgument);
  checkOutputPath(out, 'file');
  const say = (message: string) => onProgress?.({ phase: 'model', message });
  const name = opts.name ?? basename(resolve(modelDir));
  if (opts.adapter === undefined) {
    return exportCheckpointToGguf(resolve(modelDir), out, { quant: opts.quant, name, onMessage: say, ...(signal ? { signal } : {}) });
  }
  // The merge in 16 bits: float16 for an f16 file (one rounding), bfloat16 (float32's range) otherwise.
  const temp = await mkdtemp(`${dirname(out)}/.${basename(out)}.merge-`);
  try {
    await mergeAdapterCheckpoint(modelDir, opts.adapter, temp, {
      dtype: opts.quant === 'f16' ? 'float16' : 'bfloat16',
      ...(opts.device ? { device: opts.device } : {}),
      ...(onProgress ? { onProgress } : {}),
    });
    return await exportCheckpointToGguf(temp, out, { quant: opts.quant, name, onMessage: say, ...(signal ? { signal } : {}) });
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}
