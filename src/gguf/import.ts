// One GGUF file -> one Hugging Face checkpoint folder (config.json, generation_config.json,
// model.safetensors or shards, tokenizer.json, tokenizer_config.json) that loadModel,
// transformers and the tokenizers library load. Order matters: everything that can refuse the
// file (architecture, tensor types and names, tokenizer) is checked before the weights are
// written, and config.json is written last so a folder interrupted mid-way does not look like a
// checkpoint.

import { rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { planConversion, writeConfigs, writeWeights, type ConvertProgress, type OutputDtype } from './convert.js';
import { readGguf } from './reader.js';
import { tokenizerFilesFromGguf } from './tokenizer-from-gguf.js';

export interface ImportGgufCoreOptions {
  dtype: OutputDtype;
  onProgress?: (progress: ConvertProgress) => void;
  signal?: AbortSignal;
  maxShardBytes?: number;
}

export interface ImportGgufResult {
  outDir: string;
  /** general.architecture of the file. */
  architecture: string;
  /** model_type of the written config.json. */
  modelType: string;
  dtype: OutputDtype;
  tensors: number;
  /** Bytes of weights written. */
  bytes: number;
  /** Files written, relative to outDir. */
  files: string[];
}

export async function importGgufFile(file: string, outDir: string, options: ImportGgufCoreOptions): Promise<ImportGgufResult> {
  const gguf = await readGguf(resolve(file));
  const plan = await planConversion(gguf, options.dtype);
  const tokenizer = tokenizerFilesFromGguf(gguf.metadata);
  const out = resolve(outDir);
  // A config.json from an earlier import must not describe half-written weights.
  await rm(join(out, 'config.json'), { force: true });
  const weights = await writeWeights(plan, out, {
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.maxShardBytes !== undefined ? { maxShardBytes: options.maxShardBytes } : {}),
  });
  await writeFile(join(out, 'tokenizer.json'), JSON.stringify(tokenizer.tokenizerJson));
  await writeFile(join(out, 'tokenizer_config.json'), `${JSON.stringify(tokenizer.tokenizerConfig, null, 2)}\n`);
  await writeConfigs(plan, out);
  return {
    outDir: out,
    architecture: plan.spec.gguf,
    modelType: plan.spec.modelType,
    dtype: plan.dtype,
    tensors: weights.tensors,
    bytes: weights.bytes,
    files: [...weights.files, 'tokenizer.json', 'tokenizer_config.json', 'config.json', 'generation_config.json'],
  };
}
