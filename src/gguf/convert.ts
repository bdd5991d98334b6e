// GGUF -> Hugging Face checkpoint folder: config.json and generation_config.json from the
// metadata, every tensor dequantized (dequant.ts), renamed and fixed (arch.ts) and written as
// safetensors through the addon in float32 / bfloat16 / float16, sharded so that memory holds
// one shard at a time. A plan is made and checked first (architecture, tensor types and names,
// head counts), so an unsupported file fails before anything is written.
// Not here: tokenizer files (the caller passes a function that builds them from the metadata).

import { mkdir, open, readdir, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, SftError } from '../errors.js';
import { native, type StDtype } from '../native.js';
import { archSpec, hfTensor, Meta, type ArchSpec, type TensorFix } from './arch.js';
import { canDequantize, DEQUANTIZABLE_TYPES, dequantize, dequantizeInto } from './dequant.js';
import { GgufErrorCode } from './errors.js';
import { ggmlType, ggmlTypeName } from './ggml-types.js';
import { f32ToBf16, f32ToF16 } from './half.js';
import { readTensorBytes, tensorElements, type GgufFile, type GgufTensorInfo } from './reader.js';

export type OutputDtype = 'float32' | 'bfloat16' | 'float16';

const ST_DTYPE: Record<OutputDtype, StDtype> = { float32: 'F32', bfloat16: 'BF16', float16: 'F16' };
const DTYPE_BYTES: Record<OutputDtype, number> = { float32: 4, bfloat16: 2, float16: 2 };

export interface PlannedTensor {
  source: GgufTensorInfo;
  hfName: string;
  /** PyTorch order (the GGUF shape reversed). */
  shape: number[];
  fix: TensorFix;
  /** Bytes in the output dtype. */
  outBytes: number;
}

export interface ConversionPlan {
  file: GgufFile;
  spec: ArchSpec;
  dtype: OutputDtype;
  config: Record<string, unknown>;
  generationConfig: Record<string, unknown>;
  tensors: PlannedTensor[];
  totalBytes: number;
}

function sortedKeys(obj: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(obj).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Reads the metadata and tensor table into a checked plan; reads only rope_freqs' data. */
export async function planConversion(file: GgufFile, dtype: OutputDtype): Promise<ConversionPlan> {
  const spec = archSpec(file);
  const meta = new Meta(file, spec.gguf);

  const badTypes = file.tensors.filter((t) => !canDequantize(t.type));
  if (badTypes.length > 0) {
    const list = badTypes.slice(0, 5).map((t) => `${t.name} (${ggmlTypeName(t.type)})`).join(', ');
    throw new SftError(
      `${file.path}: ${badTypes.length} tensor(s) use types we cannot dequantize: ${list}${badTypes.length > 5 ? ', ...' : ''}; supported types: ${DEQUANTIZABLE_TYPES.join(', ')}`,
      GgufErrorCode.Unsupported,
    );
  }
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  const embed = byName.get('token_embd.weight');
  if (!embed || embed.shape.length !== 2) throw new SftError(`${file.path}: no 2-D token_embd.weight tensor; not a decoder model file?`, GgufErrorCode.Invalid);

  const heads = { q: meta.need('attention.head_count'), kv: meta.opt('attention.head_count_kv') ?? meta.need('attention.head_count') };
  const ropeFreqsTensor = byName.get('rope_freqs.weight');
  const ropeFreqs = ropeFreqsTensor
    ? dequantize(ropeFreqsTensor.type, await readTensorBytes(file, ropeFreqsTensor), tensorElements(ropeFreqsTensor), ropeFreqsTensor.name)
    : undefined;
  const ctx = {
    vocabSize: embed.shape[1]!,
    tied: !byName.has('output.weight'),
    hasQkvBias: file.tensors.some((t) => /^blk\.\d+\.attn_q\.bias$/.test(t.name)),
    ropeFreqs,
  };
  const config = sortedKeys({
    architectures: spec.architectures,
    model_type: spec.modelType,
    ...spec.config(meta, ctx),
    ...tokenIds(meta),
    torch_dtype: dtype,
    dtype,
  });

  const tensors: PlannedTensor[] = [];
  for (const t of file.tensors) {
    const target = hfTensor(spec, t, heads);
    if (target === null) continue;
    const shape = [...t.shape].reverse();
    if (target.fix.kind === 'unpermute') {
      const rows = shape[0]!;
      if (rows % (target.fix.heads * 2) !== 0) {
        throw new SftError(`${file.path}: ${t.name} has ${rows} rows, not a whole number of head pairs for ${target.fix.heads} heads`, GgufErrorCode.Invalid);
      }
    }
    tensors.push({ source: t, hfName: target.hfName, shape, fix: target.fix, outBytes: tensorElements(t) * DTYPE_BYTES[dtype] });
  }
  const layers = meta.need('block_count');
  const missing = ['model.embed_tokens.weight', 'model.norm.weight', `model.layers.${layers - 1}.self_attn.q_proj.weight`].filter(
    (n) => !tensors.some((t) => t.hfName === n),
  );
  if (missing.length > 0) throw new SftError(`${file.path}: the file lacks ${missing.join(', ')} (block_count ${layers})`, GgufErrorCode.Invalid);

  return {
    file,
    spec,
    dtype,
    config,
    generationConfig: generationConfig(meta),
    tensors,
    totalBytes: tensors.reduce((a, t) => a + t.outBytes, 0),
  };
}

function tokenIds(meta: Meta): Record<string, number> {
  const out: Record<string, number> = {};
  const keys = { bos_token_id: 'bos_token_id', eos_token_id: 'eos_token_id', pad_token_id: 'padding_token_id' };
  for (const [hf, gguf] of Object.entries(keys)) {
    const v = meta.int(`tokenizer.ggml.${gguf}`);
    if (v !== undefined) out[hf] = v;
  }
  return out;
}

/** eos plus the end-of-turn / end-of-message tokens llama.cpp stops on (EOG), as HF generation configs list them. */
function generationConfig(meta: Meta): Record<string, unknown> {
  const ids = tokenIds(meta);
  const eos = [ids.eos_token_id, meta.int('tokenizer.ggml.eot_token_id'), meta.int('tokenizer.ggml.eom_token_id')].filter(
    (v): v is number => v !== undefined,
  );
  const unique = [...new Set(eos)];
  return sortedKeys({
    ...(ids.bos_token_id !== undefined ? { bos_token_id: ids.bos_token_id } : {}),
    ...(unique.length > 0 ? { eos_token_id: unique.length === 1 ? unique[0] : unique } : {}),
    ...(ids.pad_token_id !== undefined ? { pad_token_id: ids.pad_token_id } : {}),
  });
}

// ------------------------------------------------------------------------------------- writing

/** Values dequantized per read, bounding scratch memory for large tensors. */
const CHUNK_VALUES = 1 << 22;

type OutArray = Float32Array | Uint16Array;

function store(src: Float32Array, out: OutArray, dtype: OutputDtype): void {
  if (dtype === 'float32') (out as Float32Array).set(src);
  else if (dtype === 'bfloat16') f32ToBf16(src, out as Uint16Array);
  else f32ToF16(src, out as Uint16Array);
}

function checkAborted(signal: AbortSignal | undefined, path: string): void {
  if (signal?.aborted) throw new SftError(`conversion of ${path} stopped (aborted)`, ErrorCode.Aborted);
}

/** One tensor in the output dtype, read a few million values at a time. */
async function convertTensor(
  file: GgufFile,
  t: PlannedTensor,
  dtype: OutputDtype,
  fh: FileHandle,
  signal: AbortSignal | undefined,
): Promise<OutArray> {
  const src = t.source;
  const n = tensorElements(src);
  const out: OutArray = dtype === 'float32' ? new Float32Array(n) : new Uint16Array(n);
  const info = ggmlType(src.type)!;

  if (t.fix.kind === 'unpermute') {
    // Rows move between heads' halves: decode the whole (attention-sized) tensor, then place rows.
    const all = dequantize(src.type, await readTensorBytes(file, src, undefined, fh), n, src.name);
    const rows = t.shape[0]!;
    const cols = n / rows;
    const dim = rows / t.fix.heads / 2;
    for (let r = 0; r < rows; r++) {
      // llama.cpp's permute sent HF row (h, j, i) to (h, i, j); send it back.
      const h = Math.floor(r / (2 * dim));
      const w = r % (2 * dim);
      const dest = h * 2 * dim + (w & 1) * dim + (w >> 1);
      store(all.subarray(r * cols, (r + 1) * cols), out.subarray(dest * cols, (dest + 1) * cols), dtype);
    }
    return out;
  }

  // Storage rows (ne0 values each) are whole blocks, so any run of rows decodes on its own.
  const cols = src.shape[0] ?? 1;
  const rows = n / cols;
  const rowBytes = (cols / info.blockSize) * info.typeSize;
  const chunkRows = Math.max(1, Math.floor(CHUNK_VALUES / cols));
  const direct = dtype === 'float32' && t.fix.kind === 'none';
  const scratch = direct ? undefined : new Float32Array(Math.min(rows, chunkRows) * cols);
  for (let r0 = 0; r0 < rows; r0 += chunkRows) {
    checkAborted(signal, file.path);
    const nr = Math.min(chunkRows, rows - r0);
    const raw = await readTensorBytes(file, src, { start: r0 * rowBytes, length: nr * rowBytes }, fh);
    const values = scratch ? scratch.subarray(0, nr * cols) : (out as Float32Array).subarray(r0 * cols, (r0 + nr) * cols);
    dequantizeInto(src.type, raw, values, src.name);
    if (t.fix.kind === 'subtract-one') {
      // transformers' Gemma2TensorProcessor: weights - 1 in float32.
      for (let i = 0; i < values.length; i++) values[i] = values[i]! - 1;
    }
    if (scratch) store(values, out.subarray(r0 * cols, (r0 + nr) * cols), dtype);
  }
  return out;
}

export interface ConvertProgress {
  /** HF name of the tensor just written to memory. */
  tensor: string;
  /** Tensors done, of `count`. */
  done: number;
  count: number;
  /** Output bytes done, of `totalBytes`. */
  bytes: number;
  totalBytes: number;
}

export interface WriteOptions {
  onProgress?: (progress: ConvertProgress) => void;
  signal?: AbortSignal;
  /** Largest shard before the checkpoint is split (HF's model-0000k-of-0000n layout). Default 2 GiB. */
  maxShardBytes?: number;
}

export interface WrittenWeights {
  files: string[];
  tensors: number;
  bytes: number;
}

const WEIGHT_FILE = /^model(-\d{5}-of-\d{5})?\.safetensors(\.index\.json)?$/;

/** Splits tensors into consecutive groups of at most maxBytes (a bigger tensor gets its own). */
function shardGroups(tensors: PlannedTensor[], maxBytes: number): PlannedTensor[][] {
  const groups: PlannedTensor[][] = [];
  let cur: PlannedTensor[] = [];
  let size = 0;
  for (const t of tensors) {
    if (cur.length > 0 && size + t.outBytes > maxBytes) {
      groups.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(t);
    size += t.outBytes;
  }
  if (cur.length > 0) groups.push(cur);
  return groups;
}

/** Writes the plan's weights into outDir (model.safetensors, or shards + index). */
export async function writeWeights(plan: ConversionPlan, outDir: string, options: WriteOptions = {}): Promise<WrittenWeights> {
  const { onProgress, signal } = options;
  const groups = shardGroups(plan.tensors, options.maxShardBytes ?? 2 * 1024 ** 3);
  const names = groups.length === 1 ? ['model.safetensors'] : groups.map((_, i) => `model-${String(i + 1).padStart(5, '0')}-of-${String(groups.length).padStart(5, '0')}.safetensors`);
  await mkdir(outDir, { recursive: true });
  const st = native().safetensors;
  const fh = await open(plan.file.path, 'r');
  let done = 0;
  let bytes = 0;
  const weightMap: Record<string, string> = {};
  try {
    for (const [g, group] of groups.entries()) {
      const record: Record<string, { dtype: StDtype; shape: number[]; data: OutArray }> = {};
      for (const t of group) {
        checkAborted(signal, plan.file.path);
        record[t.hfName] = { dtype: ST_DTYPE[plan.dtype], shape: t.shape, data: await convertTensor(plan.file, t, plan.dtype, fh, signal) };
        weightMap[t.hfName] = names[g]!;
        done++;
        bytes += t.outBytes;
        onProgress?.({ tensor: t.hfName, done, count: plan.tensors.length, bytes, totalBytes: plan.totalBytes });
      }
      // Off the event loop: a shard may hold gigabytes.
      await st.write(join(outDir, names[g]!), record, { format: 'pt' });
    }
  } finally {
    await fh.close();
  }
  const files = [...names];
  if (groups.length > 1) {
    const index = { metadata: { total_size: plan.totalBytes }, weight_map: sortedKeys(weightMap) };
    await writeFile(join(outDir, 'model.safetensors.index.json'), `${JSON.stringify(index, null, 2)}\n`);
    files.push('model.safetensors.index.json');
  }
  // Weights of an earlier conversion into this folder (another shard count) would be loaded too.
  for (const f of await readdir(outDir)) {
    if (WEIGHT_FILE.test(f) && !files.includes(f)) await rm(join(outDir, f));
  }
  return { files, tensors: done, bytes };
}

/** Writes config.json and generation_config.json. */
export async function writeConfigs(plan: ConversionPlan, outDir: string): Promise<void> {
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'config.json'), `${JSON.stringify(plan.config, null, 2)}\n`);
  await writeFile(join(outDir, 'generation_config.json'), `${JSON.stringify(plan.generationConfig, null, 2)}\n`);
}
