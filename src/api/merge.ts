// mergeAdapterCheckpoint (`sft merge`): a base checkpoint + a peft LoRA adapter -> one plain HF
// checkpoint folder with W + scaling * B @ A in every adapted weight, in 16 bits (or float32),
// 4-bit bases dequantized first, tokenizer and generation files beside it. Every merged tensor
// is checked finite in the output dtype before the folder is left in place; a NaN / Inf names
// the module and the adapter tensors that produced it.
// The merge math is the engine's (model.mergeAdapter); this file chooses the dtype, checks the
// result and writes the files around it.

import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { MERGE_DEFAULTS } from '../config/defaults.js';
import { readJsonFile } from '../config/hf-config.js';
import { parseOptions } from '../config/parse-options.js';
import type { SameShape } from '../config/same-shape.js';
import { ErrorCode, SftError } from '../errors.js';
import { parseJsonKeepingFloats, stringifyJsonKeepingFloats } from '../engine/json-floats.js';
import { checkOutputPath } from '../io/output-path.js';
import { native, type StDtype } from '../native.js';
import { loadModel } from './model.js';
import { encodeValues, firstNonFinite, moduleKey, nonFiniteMergeError, ST_DTYPE_OF, tensorValues, type MergeDtype } from './merge-tensors.js';
import type { ProgressEvent } from './progress.js';

/** mergeAdapterCheckpoint(model, adapter, outDir, options) (`sft merge`). */
export interface MergeOptions {
  /** dtype of every floating-point tensor written (float32 keeps the merged values unrounded). @default 'bfloat16' */
  dtype?: MergeDtype;
  /** Where the base is loaded and the adapter deltas are computed. @default 'cuda' when available, else 'cpu' */
  device?: 'cpu' | 'cuda';
  /** Called with a message per stage. @default none */
  onProgress?: (event: ProgressEvent) => void;
}

export const mergeOptionsSchema = z
  .object({
    dtype: z.enum(['float32', 'bfloat16', 'float16']).default(MERGE_DEFAULTS.dtype),
    device: z.enum(['cpu', 'cuda']).optional(),
  })
  .strict();
const mergeSchemaMatches: SameShape<Omit<MergeOptions, 'onProgress'>, z.input<typeof mergeOptionsSchema>> = true;
void mergeSchemaMatches;

export interface MergeResult {
  outDir: string;
  dtype: MergeDtype;
  /** Tensors written. */
  tensors: number;
  /** Weights that received an adapter delta. */
  merged: number;
  /** Bytes of model.safetensors. */
  bytes: number;
}

const WEIGHTS = 'model.safetensors';

/**
 * Merges the adapter in `adapterDir` into the checkpoint `modelDir` and writes `outDir`
 * (model.safetensors, config.json without quantization_config, generation_config.json,
 * tokenizer files). Throws MERGE_NONFINITE naming the adapter tensors when a merged weight is
 * NaN / Inf in the chosen dtype (nothing usable is left in outDir then).
 */
export async function mergeAdapterCheckpoint(modelDir: string, adapterDir: string, outDir: string, options: MergeOptions = {}): Promise<MergeResult> {
  const { onProgress, ...rest } = options;
  const opts = parseOptions(mergeOptionsSchema, rest, 'merge options');
  const src = resolve(modelDir);
  const out = resolve(outDir);
  if (out === src) throw new SftError(`--out must differ from --model (${src})`, ErrorCode.InvalidArgument);
  if (out === resolve(adapterDir)) throw new SftError(`--out must differ from --adapter (${out})`, ErrorCode.InvalidArgument);
  checkOutputPath(out, 'folder');
  if (existsSync(join(out, 'model.safetensors.index.json'))) {
    throw new SftError(`${out} already holds a sharded checkpoint; choose an empty --out folder`, ErrorCode.InvalidArgument);
  }
  const adapterFile = join(adapterDir, 'adapter_model.safetensors');
  if (!existsSync(adapterFile)) throw new SftError(`no adapter_model.safetensors in ${adapterDir} (--adapter takes a peft adapter folder)`, ErrorCode.FileNotFound);
  const adapterNames = native().safetensors.inspect(adapterFile).tensors.map((t) => t.name);

  onProgress?.({ phase: 'model', message: `merge: loading ${src} with the adapter ${resolve(adapterDir)}` });
  let written: { tensors: number; bytes: number };
  {
    await using model = await loadModel(src, opts.device ? { device: opts.device } : {});
    await model.loadAdapter(adapterDir);
    written = await model.mergeAdapter(out);
  }
  try {
    onProgress?.({ phase: 'model', message: `merge: checking ${written.tensors} tensors and writing them in ${opts.dtype}` });
    const merged = await finishWeights(join(out, WEIGHTS), opts.dtype, adapterNames);
    await finishConfigs(src, out, opts.dtype);
    const bytes = native().safetensors.inspect(join(out, WEIGHTS)).tensors.reduce((a, t) => a + (t.end - t.begin), 0);
    return { outDir: out, dtype: opts.dtype, tensors: written.tensors, merged, bytes };
  } catch (err) {
    // A folder whose weights failed the check must not look like a checkpoint.
    await rm(join(out, 'config.json'), { force: true });
    await rm(join(out, WEIGHTS), { force: true });
    throw err;
  }
}

/**
 * Checks every floating-point tensor finite in `dtype` and rewrites the file when a stored dtype
 * differs. Returns how many tensors are adapted modules' weights.
 */
async function finishWeights(file: string, dtype: MergeDtype, adapterNames: readonly string[]): Promise<number> {
  const st = native().safetensors;
  const infos = st.inspect(file).tensors;
  const want: StDtype = ST_DTYPE_OF[dtype];
  const record: Record<string, { dtype: StDtype; shape: number[]; data: Uint8Array }> = {};
  let rewrite = false;
  let merged = 0;
  const adapted = new Set(adapterNames.map((n) => /(layers\.\d+\.[a-z_]+\.[a-z_]+)\.lora_/.exec(n)?.[1]));
  for (const info of infos) {
    const t = st.read(file, info.name);
    const values = tensorValues(t, info.name);
    if (values === undefined) {
      record[info.name] = { dtype: t.dtype, shape: t.shape, data: t.data };
      continue;
    }
    const data = t.dtype === want ? t.data : encodeValues(values, dtype);
    // The check runs on the values as written: a float16 overflow shows as Inf here.
    const stored = t.dtype === want ? values : tensorValues({ dtype: want, shape: t.shape, data: Buffer.from(data.buffer, data.byteOffset, data.byteLength) }, info.name)!;
    const bad = firstNonFinite(stored);
    if (bad >= 0) throw nonFiniteMergeError(info.name, bad, stored[bad]!, dtype, adapterNames);
    if (adapted.has(moduleKey(info.name))) merged++;
    rewrite ||= t.dtype !== want;
    record[info.name] = { dtype: want, shape: t.shape, data };
  }
  if (rewrite) await st.write(file, record, { format: 'pt' });
  return merged;
}

/** config.json states the dtype; generation_config.json exists (from the base, or its token ids). */
async function finishConfigs(src: string, out: string, dtype: MergeDtype): Promise<void> {
  // Floats stay as written (8.0, 1e-05): transformers' config classes reject 8 for a float field.
  const config = parseJsonKeepingFloats(await readFile(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
  if ('torch_dtype' in config || !('dtype' in config)) config.torch_dtype = dtype;
  if ('dtype' in config) config.dtype = dtype;
  const text = config.text_config as Record<string, unknown> | undefined;
  if (text && typeof text === 'object') {
    if ('torch_dtype' in text) text.torch_dtype = dtype;
    if ('dtype' in text) text.dtype = dtype;
  }
  await writeFile(join(out, 'config.json'), stringifyJsonKeepingFloats(config));
  if (!existsSync(join(src, 'generation_config.json'))) {
    const ids = Object.fromEntries(['bos_token_id', 'eos_token_id', 'pad_token_id'].filter((k) => typeof config[k] === 'number' || Array.isArray(config[k])).map((k) => [k, config[k]]));
    await writeFile(join(out, 'generation_config.json'), `${JSON.stringify(ids, null, 2)}\n`);
  }
}
