// Does a PEFT adapter folder fit a base model? Checked before the native load, from
// adapter_config.json and the safetensors header (shapes only, no tensor data), so that a
// mismatch is named for what it is: a missing folder, target modules the model lacks, a rank
// that differs, or an adapter made for another base model (whose layer sizes differ).
import { existsSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { ArchConfig } from '../config/arch.js';
import { ErrorCode, SftError } from '../errors.js';
import { readPeftAdapterConfig, SCORE_HEAD_KEY, type LoraSpec } from './adapter-config.js';

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';

/** The base model an adapter is checked against. */
export interface AdapterBase {
  dir: string;
  arch: ArchConfig;
}

export interface AdapterFolder {
  spec: LoraSpec;
  /** base_model_name_or_path of adapter_config.json. */
  baseModel: string | null;
}

/** The shape of every tensor in a safetensors file, read from its header alone. */
export async function readSafetensorsShapes(file: string): Promise<Map<string, number[]>> {
  const bad = (why: string) => new SftError(`${file} is not a readable safetensors file: ${why}`, ErrorCode.CheckpointInvalid);
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const prefix = Buffer.alloc(8);
    if (size < 8 || (await handle.read(prefix, 0, 8, 0)).bytesRead < 8) throw bad(`${size} bytes, shorter than the 8-byte header length`);
    const length = prefix.readBigUInt64LE(0);
    if (length > BigInt(size - 8) || length > 100_000_000n) throw bad(`its header claims ${length} bytes but the file holds ${size}`);
    const header = Buffer.alloc(Number(length));
    await handle.read(header, 0, header.length, 8);
    let json: unknown;
    try {
      json = JSON.parse(header.toString('utf8'));
    } catch (err) {
      throw bad(`the header is not JSON (${(err as Error).message})`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad('the header is not a JSON object');
    const shapes = new Map<string, number[]>();
    for (const [name, entry] of Object.entries(json)) {
      if (name === '__metadata__') continue;
      const shape = (entry as { shape?: unknown } | null)?.shape;
      if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw bad(`tensor ${name} has no valid shape`);
      shapes.set(name, shape as number[]);
    }
    return shapes;
  } finally {
    await handle.close();
  }
}

/** Checks that `dir` is an adapter folder (config and weights present); reads its config. */
export async function readAdapterFolder(dir: string): Promise<AdapterFolder> {
  const info = await stat(dir).catch(() => undefined);
  if (!info) throw new SftError(`adapter folder ${dir} does not exist`, ErrorCode.FileNotFound);
  if (!info.isDirectory()) {
    throw new SftError(`${dir} is a file, not an adapter folder (a folder holding ${ADAPTER_CONFIG_FILE} and ${ADAPTER_WEIGHTS_FILE})`, ErrorCode.FileNotFound);
  }
  for (const file of [ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE]) {
    if (existsSync(join(dir, file))) continue;
    const stopped = existsSync(join(dir, 'checkpoints'))
      ? `; a training run that stopped before its end keeps its adapter in ${join(dir, 'checkpoints', 'step-N')} (or finish it with sft train --resume)`
      : '';
    throw new SftError(`${dir} is not an adapter folder: it has no ${file}${stopped}`, ErrorCode.FileNotFound);
  }
  return readPeftAdapterConfig(join(dir, ADAPTER_CONFIG_FILE));
}

/** [in, out] features of a decoder linear module of this architecture, or undefined when it has none of that name. */
function linearFeatures(arch: ArchConfig, module: string): [number, number] | undefined {
  const { hiddenSize: h, intermediateSize: m, numHeads: heads, numKvHeads: kv, headDim: d } = arch;
  const fused: Record<string, [number, number]> = { qkv_proj: [h, (heads + 2 * kv) * d], gate_up_proj: [h, 2 * m] };
  const split: Record<string, [number, number]> = { q_proj: [h, heads * d], k_proj: [h, kv * d], v_proj: [h, kv * d], gate_proj: [h, m], up_proj: [h, m] };
  const shared: Record<string, [number, number]> = { o_proj: [heads * d, h], down_proj: [m, h] };
  return (arch.fusedQkv ? fused : split)[module] ?? shared[module];
}

function moduleNames(arch: ArchConfig): string[] {
  return arch.fusedQkv ? ['qkv_proj', 'o_proj', 'gate_up_proj', 'down_proj'] : ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
}

/** A model's name for comparing bases: a hub cache snapshot as its repo, else the last path part. */
export function baseModelName(nameOrPath: string): string {
  const cached = /models--([^/]+?)--([^/]+)\/snapshots\//.exec(nameOrPath);
  if (cached) return `${cached[1]}/${cached[2]}`.toLowerCase();
  return basename(nameOrPath.replace(/\/+$/, '')).toLowerCase();
}

/** Whether the base an adapter names is the model it is loaded on (same folder, or same repo / folder name). */
export function sameBaseModel(named: string | null, base: AdapterBase): boolean {
  if (named === null || named === '') return true; // nothing to compare
  if (resolve(named) === resolve(base.dir)) return true;
  const a = baseModelName(named);
  const b = baseModelName(base.dir);
  return a === b || a.endsWith(`/${b}`) || b.endsWith(`/${a}`);
}

const LORA_TENSOR = /\.layers\.(\d+)\.(?:self_attn|mlp)\.(\w+)\.lora_([AB])\.weight$/;

/**
 * Checks the adapter in `dir` against `base` before any weight is loaded. `expected` (a resumed
 * run's own adapter spec) must match the folder's rank and targets too. Returns the folder's
 * config and whether the base it names differs from `base` in name only (shapes fit).
 */
export async function checkAdapterFits(dir: string, base: AdapterBase, expected?: LoraSpec): Promise<AdapterFolder & { otherBaseName: boolean }> {
  const folder = await readAdapterFolder(dir);
  const { spec, baseModel } = folder;
  const arch = base.arch;
  const thisModel = `this ${arch.family} model (${base.dir}: hidden size ${arch.hiddenSize}, ${arch.numLayers} layers)`;
  const madeFor = baseModel ? ` The adapter was made for ${baseModel}.` : '';
  const otherBase = (what: string) =>
    new SftError(`adapter ${dir} was made for a different base model: ${what}, but ${thisModel}.${madeFor} Load it on its own base model.`, ErrorCode.AdapterMismatch);

  const available = moduleNames(arch);
  const lacking = spec.targets.filter((t) => !available.includes(t));
  if (lacking.length > 0) {
    throw new SftError(
      `adapter ${dir} targets modules ${lacking.join(', ')} that ${thisModel} lacks (its linear modules: ${available.join(', ')}).${madeFor}`,
      ErrorCode.AdapterMismatch,
    );
  }
  const beyond = (spec.layersToTransform ?? []).filter((l) => l >= arch.numLayers);
  if (beyond.length > 0) throw otherBase(`it adapts layers up to ${Math.max(...beyond)}`);

  const file = join(dir, ADAPTER_WEIGHTS_FILE);
  const shapes = await readSafetensorsShapes(file);
  for (const [name, shape] of shapes) {
    const m = LORA_TENSOR.exec(name);
    if (!m) continue; // not a LoRA weight of a decoder linear: the native load names it
    const [layer, module, which] = [Number(m[1]), m[2] as string, m[3] as 'A' | 'B'];
    if (layer >= arch.numLayers) throw otherBase(`it holds ${name} (layer ${layer})`);
    const features = linearFeatures(arch, module);
    if (!features) {
      throw new SftError(`adapter ${dir} holds ${name}, a module ${thisModel} lacks (its linear modules: ${available.join(', ')}).${madeFor}`, ErrorCode.AdapterMismatch);
    }
    if (shape.length !== 2) throw new SftError(`${file}: ${name} has shape [${shape.join(', ')}]; a LoRA weight is 2-D`, ErrorCode.CheckpointInvalid);
    const [rows, cols] = shape as [number, number];
    const rank = which === 'A' ? rows : cols;
    if (rank !== spec.r) {
      throw new SftError(
        `adapter ${dir} has a different rank in its two files: ${ADAPTER_CONFIG_FILE} says r = ${spec.r} but ${ADAPTER_WEIGHTS_FILE} holds ${name} of shape [${shape.join(', ')}] (rank ${rank}); the files come from different adapters`,
        ErrorCode.AdapterMismatch,
      );
    }
    const [inFeatures, outFeatures] = features;
    const [got, want, side] = which === 'A' ? [cols, inFeatures, 'inputs'] : [rows, outFeatures, 'outputs'];
    if (got !== want) throw otherBase(`its ${module} of layer ${layer} has ${got} ${side} (${name}: [${shape.join(', ')}]) where this model's has ${want}`);
  }

  if (expected) {
    if (expected.r !== spec.r) {
      throw new SftError(`adapter ${dir} has rank ${spec.r} but this run's adapter has rank ${expected.r} (--lora-r): a different rank; resume with --lora-r ${spec.r}`, ErrorCode.AdapterMismatch);
    }
    const sorted = (t: string[]) => [...t].sort().join(',');
    if (sorted(expected.targets) !== sorted(spec.targets)) {
      throw new SftError(
        `adapter ${dir} adapts ${sorted(spec.targets)} but this run's adapter adapts ${sorted(expected.targets)} (--lora-targets); resume with --lora-targets ${sorted(spec.targets)}`,
        ErrorCode.AdapterMismatch,
      );
    }
  }
  return { ...folder, otherBaseName: !sameBaseModel(baseModel, base) };
}

/**
 * checkAdapterFits for a user's adapter: an adapter whose sizes fit but which names another
 * base (another fine-tune of the same architecture, or the same weights under another repo)
 * loads with a process warning naming both.
 */
export async function checkUserAdapter(dir: string, base: AdapterBase): Promise<AdapterFolder> {
  const fit = await checkAdapterFits(dir, base);
  if (fit.otherBaseName) {
    process.emitWarning(`adapter ${dir} names ${fit.baseModel} as its base model; it is being loaded on ${base.dir}, whose layer sizes fit it`, 'AdapterBaseWarning');
  }
  return { spec: fit.spec, baseModel: fit.baseModel };
}

/**
 * A SEQ_CLS adapter goes on a model loaded with task 'classify' and a head of the adapter's
 * size, a CAUSAL_LM one on a model without a head: ADAPTER_MISMATCH says which and how to load.
 */
export async function checkScoreHeadFits(dir: string, spec: LoraSpec, base: AdapterBase & { numLabels: number | undefined }): Promise<void> {
  const shape = (await readSafetensorsShapes(join(dir, ADAPTER_WEIGHTS_FILE))).get(SCORE_HEAD_KEY);
  const adapterLabels = shape?.[0];
  if (spec.taskType !== 'SEQ_CLS' || adapterLabels === undefined) {
    if (base.numLabels === undefined) return;
    throw new SftError(
      `adapter ${dir} has no classification head (task_type ${spec.taskType ?? 'CAUSAL_LM'}, no ${SCORE_HEAD_KEY}) but the model was loaded with task 'classify'; load the model without it`,
      ErrorCode.AdapterMismatch,
    );
  }
  if (base.numLabels === undefined) {
    throw new SftError(
      `adapter ${dir} is a sequence-classification adapter (SEQ_CLS, a ${adapterLabels}-label head); load the model with {task: 'classify', numLabels: ${adapterLabels}}`,
      ErrorCode.AdapterMismatch,
    );
  }
  if (shape?.length !== 2 || adapterLabels !== base.numLabels || shape[1] !== base.arch.hiddenSize) {
    throw new SftError(
      `adapter ${dir} holds a score head of shape [${shape?.join(', ')}] but the model's is [${base.numLabels}, ${base.arch.hiddenSize}] (numLabels ${base.numLabels}); load the model with numLabels ${adapterLabels}`,
      ErrorCode.AdapterMismatch,
    );
  }
}
