// The architecture metadata of an exported GGUF file (`general.*` and `<arch>.*`, the keys
// llama.cpp's convert_hf_to_gguf.py writes), from the checkpoint's normalized ArchConfig, and
// the check that it says what the model is: the metadata is read back through the importer's
// own config builder (arch.ts) and normalized again; every field where the two ArchConfigs
// differ is something llama.cpp's format cannot express for that architecture (a Gemma
// query_pre_attn_scalar other than head_dim, a Gemma 3 sliding pattern other than 6, ...),
// and the export is refused naming it rather than writing a file that computes another model.
// Not here: tokenizer keys (tokenizer-to-gguf.ts), tensors (tensor-plan.ts).

import type { ArchConfig, RopeConfig } from '../../config/arch.js';
import { archConfigFromHf } from '../../config/hf-config.js';
import { SftError } from '../../errors.js';
import { archSpecNamed, llama3RopeFactors, Meta, type ArchSpec } from '../arch.js';
import { GgufErrorCode } from '../errors.js';
import type { GgufValue } from '../reader.js';
import type { GgufMetaValue } from './gguf-writer.js';

/** ArchConfig family -> general.architecture (Mistral checkpoints are llama files in llama.cpp). */
const GGUF_ARCH: Partial<Record<ArchConfig['family'], string>> = {
  llama: 'llama',
  mistral: 'llama',
  qwen2: 'qwen2',
  qwen3: 'qwen3',
  gemma: 'gemma',
  gemma2: 'gemma2',
  gemma3_text: 'gemma3',
  gemma3: 'gemma3',
};

export type MetaEntry = readonly [string, GgufMetaValue];

export function exportArchSpec(arch: ArchConfig, source: string): ArchSpec {
  const name = GGUF_ARCH[arch.family];
  const spec = name === undefined ? undefined : archSpecNamed(name);
  if (!spec) {
    throw new SftError(
      `${source}: model family ${arch.family} has no GGUF export; exported families: ${Object.keys(GGUF_ARCH).join(', ')} (those the GGUF importer reads back)`,
      GgufErrorCode.Unsupported,
    );
  }
  return spec;
}

const u32 = (value: number): GgufMetaValue => ({ type: 'u32', value });
const f32 = (value: number): GgufMetaValue => ({ type: 'f32', value });

/** The rope of the model's full-attention layers (Gemma 3's sliding layers use their local base). */
function globalRope(arch: ArchConfig): RopeConfig {
  return (arch.layers.find((l) => l.slidingWindow === null) ?? arch.layers[0]!).rope;
}

/** The llama 3 rope_freqs tensor's values, when the model uses llama 3 rope scaling. */
export function ropeFreqs(arch: ArchConfig): Float32Array | undefined {
  const rope = globalRope(arch);
  if (rope.type !== 'llama3') return undefined;
  return Float32Array.from(llama3RopeFactors(rope.rotaryDim, rope.theta, rope.factor, rope.lowFreqFactor, rope.highFreqFactor, rope.originalMaxPositionEmbeddings));
}

/** `general.*` and `<arch>.*` keys for the model. */
export function archMetadata(spec: ArchSpec, arch: ArchConfig, name: string, fileType: number): MetaEntry[] {
  const a = spec.gguf;
  const rope = globalRope(arch);
  const window = arch.layers.find((l) => l.slidingWindow !== null)?.slidingWindow ?? null;
  const out: MetaEntry[] = [
    ['general.architecture', { type: 'string', value: a }],
    ['general.name', { type: 'string', value: name }],
    ['general.file_type', u32(fileType)],
    ['general.quantization_version', u32(2)],
    [`${a}.vocab_size`, u32(arch.vocabSize)],
    [`${a}.context_length`, u32(arch.maxPositionEmbeddings)],
    [`${a}.embedding_length`, u32(arch.hiddenSize)],
    [`${a}.block_count`, u32(arch.numLayers)],
    [`${a}.feed_forward_length`, u32(arch.intermediateSize)],
    [`${a}.attention.head_count`, u32(arch.numHeads)],
    [`${a}.attention.head_count_kv`, u32(arch.numKvHeads)],
    [`${a}.attention.key_length`, u32(arch.headDim)],
    [`${a}.attention.value_length`, u32(arch.headDim)],
    [`${a}.attention.layer_norm_rms_epsilon`, f32(arch.rmsNormEps)],
    [`${a}.rope.freq_base`, f32(rope.theta)],
    [`${a}.rope.dimension_count`, u32(rope.rotaryDim)],
  ];
  if (rope.type === 'linear') {
    out.push([`${a}.rope.scaling.type`, { type: 'string', value: 'linear' }], [`${a}.rope.scaling.factor`, f32(rope.factor)]);
  }
  if (a === 'gemma2' || a === 'gemma3') {
    if (window !== null) out.push([`${a}.attention.sliding_window`, u32(window)]);
    if (arch.attnLogitSoftcap !== null) out.push([`${a}.attn_logit_softcapping`, f32(arch.attnLogitSoftcap)]);
    if (arch.finalLogitSoftcap !== null) out.push([`${a}.final_logit_softcapping`, f32(arch.finalLogitSoftcap)]);
  }
  return out;
}

/** A metadata value as reader.ts returns it (float32 keys come back rounded to float32). */
function asRead(v: GgufMetaValue): GgufValue {
  if (v.type === 'f32') return Math.fround(v.value);
  if (v.type === 'array') return Array.from(v.value as ArrayLike<number | string>) as GgufValue[];
  return v.value;
}

/** The fields compared: what the engine computes with (names and prefixes aside). */
function comparable(arch: ArchConfig): Record<string, unknown> {
  const { family: _f, weightPrefixes: _w, lmHeadNames: _l, layers, ...rest } = arch;
  const round = (v: unknown): unknown => (typeof v === 'number' && !Number.isInteger(v) ? Number(Math.fround(v).toPrecision(6)) : v);
  const fields: Record<string, unknown> = Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, round(v)]));
  layers.forEach((l, i) => {
    fields[`layers[${i}].slidingWindow`] = l.slidingWindow;
    for (const [k, v] of Object.entries(l.rope)) fields[`layers[${i}].rope.${k}`] = Array.isArray(v) ? JSON.stringify(v.map(round)) : round(v);
  });
  return fields;
}

export interface MetadataCheck {
  /** Differences llama.cpp's own converter also drops (a Mistral sliding window on the llama arch). */
  notes: string[];
}

/**
 * Reads `metadata` back the way the importer does and refuses (GGUF_UNSUPPORTED) when the model
 * it describes computes differently from `arch`.
 */
export function checkMetadataRoundTrip(spec: ArchSpec, arch: ArchConfig, metadata: readonly MetaEntry[], tied: boolean, hasQkvBias: boolean, source: string): MetadataCheck {
  const file = { path: source, metadata: Object.fromEntries(metadata.map(([k, v]) => [k, asRead(v)])) };
  const meta = new Meta(file, spec.gguf);
  const ctx = { vocabSize: arch.vocabSize, tied, hasQkvBias, ropeFreqs: ropeFreqs(arch) };
  let config: Record<string, unknown>;
  let ropeNote: string | undefined;
  try {
    config = spec.config(meta, ctx);
  } catch (err) {
    // llama.cpp applies any rope_freqs tensor as it is; only config.json (sft import) knows just Llama 3.1's parameters.
    if (!(err instanceof SftError && err.message.includes('rope_freqs.weight'))) throw err;
    ropeNote = `llama.cpp reads the rope_freqs tensor as written, but sft import cannot turn these llama3 rope parameters back into config.json (${err.message})`;
    config = spec.config(meta, { ...ctx, ropeFreqs: undefined });
  }
  const back = archConfigFromHf({ architectures: spec.architectures, model_type: spec.modelType, ...config }, `${source} (as GGUF metadata)`);
  const want = comparable(arch);
  const got = comparable(back);
  const notes: string[] = [];
  const problems: string[] = [];
  for (const key of Object.keys(want)) {
    if (JSON.stringify(want[key]) === JSON.stringify(got[key])) continue;
    if (ropeNote !== undefined && /\.rope\./.test(key)) continue; // carried by the rope_freqs tensor
    const line = `${key}: the model has ${JSON.stringify(want[key])}, the GGUF file would say ${JSON.stringify(got[key])}`;
    if (spec.gguf === 'llama' && /^layers\[\d+\]\.slidingWindow$/.test(key)) notes.push(line);
    else problems.push(line);
  }
  if (notes.length > 0) {
    notes.splice(0, notes.length, `llama.cpp's llama architecture has no sliding window: the GGUF file attends to the whole context (as llama.cpp's converter writes Mistral models); ${notes[0]}`);
  }
  if (ropeNote !== undefined) notes.push(ropeNote);
  if (problems.length > 0) {
    throw new SftError(
      `${source}: GGUF ${spec.gguf} metadata cannot express this model: read back (llama.cpp's keys, the values llama.cpp and sft import derive from the architecture) it would describe another one: ${problems.slice(0, 4).join('; ')}${problems.length > 4 ? `; and ${problems.length - 4} more` : ''}`,
      GgufErrorCode.Unsupported,
    );
  }
  return { notes };
}
