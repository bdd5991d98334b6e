// What llama.cpp's converter (convert_hf_to_gguf.py) did to a Hugging Face checkpoint, per
// GGUF architecture, so that it can be undone: tensor names (blk.N.attn_q -> model.layers.N.
// self_attn.q_proj), the Q/K row permutation of the llama arch, the +1 llama.cpp adds to Gemma
// norm weights, and the config.json the metadata stands for.
// Not here: reading the file (reader.ts), decoding blocks (dequant.ts), writing (convert.ts).
//
// Config values follow what the original HF configs hold where the metadata is silent, the way
// llama.cpp itself fills them in at load time (llama-model.cpp): Gemma 3's sliding pattern 6 and
// local rope base 10000, its query scale from head_dim (hidden/heads for the 27B), Gemma 2's
// alternating windows. transformers' GGUF loader reaches the same values through its config
// class defaults.

import { SftError } from '../errors.js';
import { GgufErrorCode } from './errors.js';
import type { GgufFile, GgufTensorInfo, GgufValue } from './reader.js';

/** How a tensor's values change on the way back to the HF layout. */
export type TensorFix =
  | { kind: 'none' }
  /** Undo llama.cpp's permute(): rows (head, i, pair) -> (head, pair, i), heads = n_head or n_head_kv. */
  | { kind: 'unpermute'; heads: number }
  /** llama.cpp stores Gemma's RMSNorm weight as 1 + w; transformers' Gemma norm computes (1 + w). */
  | { kind: 'subtract-one' };

export interface ArchSpec {
  /** general.architecture value. */
  gguf: string;
  modelType: string;
  architectures: string[];
  /** blk.N.<gguf name> -> model.layers.N.<hf name> (without .weight / .bias). */
  layerNames: Readonly<Record<string, string>>;
  /** The Q/K permutation llama.cpp applies to the llama arch (LlamaModel.permute). */
  permutesQK: boolean;
  /** Gemma: every *norm.weight holds 1 + w. */
  normPlusOne: boolean;
  config(meta: Meta, ctx: ConfigContext): Record<string, unknown>;
}

export interface ConfigContext {
  vocabSize: number;
  tied: boolean;
  hasQkvBias: boolean;
  /** Values of rope_freqs.weight (llama 3.1+ frequency factors), when the file has it. */
  ropeFreqs: Float32Array | undefined;
}

const ATTENTION = {
  attn_norm: 'input_layernorm',
  attn_q: 'self_attn.q_proj',
  attn_k: 'self_attn.k_proj',
  attn_v: 'self_attn.v_proj',
  attn_output: 'self_attn.o_proj',
  ffn_gate: 'mlp.gate_proj',
  ffn_up: 'mlp.up_proj',
  ffn_down: 'mlp.down_proj',
};
const LLAMA_LAYER = { ...ATTENTION, ffn_norm: 'post_attention_layernorm' };
const QK_NORM = { attn_q_norm: 'self_attn.q_norm', attn_k_norm: 'self_attn.k_norm' };
const GEMMA2_LAYER = {
  ...ATTENTION,
  post_attention_norm: 'post_attention_layernorm',
  ffn_norm: 'pre_feedforward_layernorm',
  post_ffw_norm: 'post_feedforward_layernorm',
};

/** Typed access to `<arch>.<key>` metadata, with errors that name the key. */
export class Meta {
  constructor(
    readonly file: Pick<GgufFile, 'path' | 'metadata'>,
    readonly arch: string,
  ) {}

  raw(key: string): GgufValue | undefined {
    return this.file.metadata[key];
  }

  /** A number at `key` (full key), or undefined. Float32 values come back as the shortest decimal with that float32 value (1e-6, not 9.99999997e-7). */
  number(key: string): number | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v === 'bigint' || typeof v !== 'number') {
      throw new SftError(`${this.file.path}: metadata ${key} should be a number but is ${JSON.stringify(String(v))}`, GgufErrorCode.Invalid);
    }
    return shortestFloat32(v);
  }

  int(key: string): number | undefined {
    const v = this.number(key);
    if (v !== undefined && !Number.isInteger(v)) {
      throw new SftError(`${this.file.path}: metadata ${key} should be an integer but is ${v}`, GgufErrorCode.Invalid);
    }
    return v;
  }

  /** `<arch>.<key>`, required. */
  need(key: string): number {
    const v = this.int(`${this.arch}.${key}`);
    if (v === undefined) throw new SftError(`${this.file.path}: metadata ${this.arch}.${key} is missing; the file cannot be converted without it`, GgufErrorCode.Invalid);
    return v;
  }

  /** `<arch>.<key>` or undefined. */
  opt(key: string): number | undefined {
    return this.number(`${this.arch}.${key}`);
  }

  string(key: string): string | undefined {
    const v = this.raw(key);
    return typeof v === 'string' ? v : undefined;
  }
}

/**
 * The shortest decimal that rounds to the same float32 (GGUF stores eps and theta as f32:
 * 1e-5 arrives as 9.999999747378752e-6). Integers and non-float32 values pass unchanged.
 */
export function shortestFloat32(v: number): number {
  if (Number.isInteger(v) || Math.fround(v) !== v) return v;
  for (let p = 1; p <= 9; p++) {
    const s = Number(v.toPrecision(p));
    if (Math.fround(s) === v) return s;
  }
  return v;
}

/** Sizes every decoder config has. */
function dims(meta: Meta, ctx: ConfigContext): Record<string, unknown> {
  const hidden = meta.need('embedding_length');
  const heads = meta.need('attention.head_count');
  return {
    vocab_size: ctx.vocabSize,
    hidden_size: hidden,
    intermediate_size: meta.need('feed_forward_length'),
    num_hidden_layers: meta.need('block_count'),
    num_attention_heads: heads,
    num_key_value_heads: meta.opt('attention.head_count_kv') ?? heads,
    head_dim: meta.opt('attention.key_length') ?? hidden / heads,
    max_position_embeddings: meta.need('context_length'),
    rms_norm_eps: meta.opt('attention.layer_norm_rms_epsilon') ?? 1e-6,
  };
}

/**
 * Rope scaling as config.json writes it. llama.cpp keeps linear and YaRN scaling in metadata,
 * but Llama 3.1+'s banded scaling only as a tensor of per-frequency divisors (rope_freqs), from
 * which the four llama3 parameters are recovered here and checked against every divisor.
 */
function ropeScaling(meta: Meta, ctx: ConfigContext, headDim: number, theta: number): Record<string, unknown> | undefined {
  const type = meta.string(`${meta.arch}.rope.scaling.type`);
  const factor = meta.opt('rope.scaling.factor') ?? meta.opt('rope.scale_linear');
  if (ctx.ropeFreqs) return llama3Scaling(meta, ctx.ropeFreqs, headDim, theta);
  if (type === undefined || type === 'none') {
    return factor !== undefined && factor !== 1 && type === undefined ? { rope_type: 'linear', factor } : undefined;
  }
  if (type === 'linear') return factor === undefined || factor === 1 ? undefined : { rope_type: 'linear', factor };
  if (type === 'yarn') {
    const original = meta.opt('rope.scaling.original_context_length');
    return { rope_type: 'yarn', factor, ...(original !== undefined ? { original_max_position_embeddings: original } : {}) };
  }
  throw new SftError(
    `${meta.file.path}: rope scaling type '${type}' (${meta.arch}.rope.scaling.type) is not converted; supported: none, linear, yarn, and llama 3 frequency factors (rope_freqs)`,
    GgufErrorCode.Unsupported,
  );
}

/** llama3 rope divisors as llama.cpp's converter computes them (LlamaModel.generate_extra_tensors). */
export function llama3RopeFactors(headDim: number, theta: number, factor: number, low: number, high: number, original: number): number[] {
  const lowWavelen = original / low;
  const highWavelen = original / high;
  const out: number[] = [];
  for (let i = 0; i < headDim; i += 2) {
    const freq = 1 / theta ** (i / headDim);
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < highWavelen) out.push(1);
    else if (wavelen > lowWavelen) out.push(factor);
    else {
      const smooth = (original / wavelen - low) / (high - low);
      out.push(1 / ((1 - smooth) / factor + smooth));
    }
  }
  return out;
}

function llama3Scaling(meta: Meta, freqs: Float32Array, headDim: number, theta: number): Record<string, unknown> {
  const factor = shortestFloat32(Math.max(...freqs));
  // Every Llama 3.1 / 3.2 / 3.3 release uses these three; the factor (8 or 32) varies.
  const candidates = [{ low: 1, high: 4, original: 8192 }];
  for (const { low, high, original } of candidates) {
    const want = llama3RopeFactors(headDim, theta, factor, low, high, original);
    if (want.length === freqs.length && want.every((w, i) => Math.abs(w - freqs[i]!) <= 1e-4 * w)) {
      return { rope_type: 'llama3', factor, low_freq_factor: low, high_freq_factor: high, original_max_position_embeddings: original };
    }
  }
  throw new SftError(
    `${meta.file.path}: rope_freqs.weight holds frequency factors that are not llama 3's (factor ${factor}, low 1, high 4, original 8192); this file's rope scaling cannot be expressed in config.json`,
    GgufErrorCode.Unsupported,
  );
}

/** rope.dimension_count below head_dim: only that many leading dims rotate. */
function partialRotary(meta: Meta, headDim: number): Record<string, unknown> {
  const rotary = meta.opt('rope.dimension_count');
  return rotary !== undefined && rotary !== headDim ? { partial_rotary_factor: rotary / headDim } : {};
}

/** rope_theta, rope_scaling and partial rotary of the llama-like (llama, qwen2) configs. */
function llamaLikeRope(meta: Meta, ctx: ConfigContext, headDim: number): Record<string, unknown> {
  const theta = meta.opt('rope.freq_base') ?? 10_000;
  const scaling = ropeScaling(meta, ctx, headDim, theta);
  return { rope_theta: theta, ...(scaling ? { rope_scaling: scaling } : {}), ...partialRotary(meta, headDim) };
}

function llamaConfig(meta: Meta, ctx: ConfigContext): Record<string, unknown> {
  const d = dims(meta, ctx);
  return {
    ...d,
    hidden_act: 'silu',
    ...llamaLikeRope(meta, ctx, d.head_dim as number),
    attention_bias: ctx.hasQkvBias,
    mlp_bias: false,
    tie_word_embeddings: ctx.tied,
  };
}

function qwen2Config(meta: Meta, ctx: ConfigContext): Record<string, unknown> {
  const d = dims(meta, ctx);
  return {
    ...d,
    hidden_act: 'silu',
    ...llamaLikeRope(meta, ctx, d.head_dim as number),
    use_sliding_window: false,
    sliding_window: null,
    max_window_layers: d.num_hidden_layers,
    tie_word_embeddings: ctx.tied,
  };
}

function qwen3Config(meta: Meta, ctx: ConfigContext): Record<string, unknown> {
  return { ...qwen2Config(meta, ctx), attention_bias: ctx.hasQkvBias };
}

function gemmaConfig(meta: Meta, ctx: ConfigContext): Record<string, unknown> {
  return {
    ...dims(meta, ctx),
    hidden_act: 'gelu_pytorch_tanh',
    hidden_activation: 'gelu_pytorch_tanh',
    rope_theta: meta.opt('rope.freq_base') ?? 10_000,
    attention_bias: false,
    tie_word_embeddings: ctx.tied,
  };
}

/** Gemma 2 and 3 scale queries by head_dim^-0.5, except the 27B models (hidden / heads); llama.cpp decides by size too. */
function queryPreAttnScalar(d: Record<string, unknown>, is27b: boolean): number {
  return is27b ? (d.hidden_size as number) / (d.num_attention_heads as number) : (d.head_dim as number);
}

function gemma2Config(meta: Meta, ctx: ConfigContext): Record<string, unknown> {
  const d = dims(meta, ctx);
  const n = d.num_hidden_layers as number;
  return {
    ...d,
    hidden_activation: 'gelu_pytorch_tanh',
    rope_theta: meta.opt('rope.freq_base') ?? 10_000,
    attention_bias: false,
    query_pre_attn_scalar: queryPreAttnScalar(d, n === 46),
    sliding_window: meta.opt('attention.sliding_window') ?? 4096,
    layer_types: Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 'sliding_attention' : 'full_attention')),
    attn_logit_softcapping: meta.opt('attn_logit_softcapping') ?? 50.0,
    final_logit_softcapping: meta.opt('final_logit_softcapping') ?? 30.0,
    tie_word_embeddings: ctx.tied,
  };
}

function gemma3Config(meta: Meta, ctx: ConfigContext): Record<string, unknown> {
  const d = dims(meta, ctx);
  const n = d.num_hidden_layers as number;
  const pattern = 6; // llama.cpp: hparams.set_swa_pattern(6) for gemma3
  const theta = meta.opt('rope.freq_base') ?? 1_000_000;
  const scaling = ropeScaling(meta, { ...ctx, ropeFreqs: undefined }, d.head_dim as number, theta);
  return {
    ...d,
    hidden_activation: 'gelu_pytorch_tanh',
    rope_theta: theta,
    rope_local_base_freq: 10_000, // llama.cpp: rope_freq_base_train_swa = 10000 for gemma3
    ...(scaling ? { rope_scaling: scaling } : {}),
    attention_bias: false,
    query_pre_attn_scalar: queryPreAttnScalar(d, n === 62),
    sliding_window: meta.opt('attention.sliding_window') ?? 4096,
    sliding_window_pattern: pattern,
    layer_types: Array.from({ length: n }, (_, i) => ((i + 1) % pattern !== 0 ? 'sliding_attention' : 'full_attention')),
    attn_logit_softcapping: null,
    final_logit_softcapping: meta.opt('final_logit_softcapping') ?? null,
    tie_word_embeddings: ctx.tied,
  };
}

const SPECS: readonly ArchSpec[] = [
  { gguf: 'llama', modelType: 'llama', architectures: ['LlamaForCausalLM'], layerNames: LLAMA_LAYER, permutesQK: true, normPlusOne: false, config: llamaConfig },
  { gguf: 'qwen2', modelType: 'qwen2', architectures: ['Qwen2ForCausalLM'], layerNames: LLAMA_LAYER, permutesQK: false, normPlusOne: false, config: qwen2Config },
  {
    gguf: 'qwen3',
    modelType: 'qwen3',
    architectures: ['Qwen3ForCausalLM'],
    layerNames: { ...LLAMA_LAYER, ...QK_NORM },
    permutesQK: false,
    normPlusOne: false,
    config: qwen3Config,
  },
  { gguf: 'gemma', modelType: 'gemma', architectures: ['GemmaForCausalLM'], layerNames: LLAMA_LAYER, permutesQK: false, normPlusOne: true, config: gemmaConfig },
  { gguf: 'gemma2', modelType: 'gemma2', architectures: ['Gemma2ForCausalLM'], layerNames: GEMMA2_LAYER, permutesQK: false, normPlusOne: true, config: gemma2Config },
  {
    gguf: 'gemma3',
    modelType: 'gemma3_text',
    architectures: ['Gemma3ForCausalLM'],
    layerNames: { ...GEMMA2_LAYER, ...QK_NORM },
    permutesQK: false,
    normPlusOne: true,
    config: gemma3Config,
  },
];

/** general.architecture values we convert. */
export const SUPPORTED_GGUF_ARCHS: readonly string[] = SPECS.map((s) => s.gguf);

/** The spec of a general.architecture value, or undefined (the GGUF exporter names its tensors with it). */
export function archSpecNamed(gguf: string): ArchSpec | undefined {
  return SPECS.find((s) => s.gguf === gguf);
}

export function archSpec(file: Pick<GgufFile, 'path' | 'metadata'>): ArchSpec {
  const arch = file.metadata['general.architecture'];
  const spec = SPECS.find((s) => s.gguf === arch);
  if (!spec) {
    throw new SftError(
      `${file.path}: GGUF architecture ${JSON.stringify(arch ?? null)} is not supported; supported: ${SUPPORTED_GGUF_ARCHS.join(', ')}`,
      GgufErrorCode.Unsupported,
    );
  }
  return spec;
}

/** Tensors llama.cpp adds that have no HF counterpart: their content goes into config.json. */
const CONFIG_ONLY = new Set(['rope_freqs.weight']);

export interface TensorTarget {
  hfName: string;
  fix: TensorFix;
}

/** The HF name and value fix of a GGUF tensor, or null for tensors that only feed the config. */
export function hfTensor(spec: ArchSpec, tensor: Pick<GgufTensorInfo, 'name'>, heads: { q: number; kv: number }): TensorTarget | null {
  const name = tensor.name;
  if (CONFIG_ONLY.has(name)) return null;
  const dot = name.lastIndexOf('.');
  const base = name.slice(0, dot);
  const suffix = name.slice(dot); // .weight / .bias
  let hf: string | undefined;
  let gguf = base;
  if (base === 'token_embd') hf = 'model.embed_tokens';
  else if (base === 'output_norm') hf = 'model.norm';
  else if (base === 'output') hf = 'lm_head';
  else {
    const m = /^blk\.(\d+)\.(.+)$/.exec(base);
    if (m) {
      gguf = m[2]!;
      const layer = spec.layerNames[gguf];
      if (layer !== undefined) hf = `model.layers.${m[1]}.${layer}`;
    }
  }
  if (hf === undefined || (suffix !== '.weight' && suffix !== '.bias')) {
    throw new SftError(
      `tensor ${name} has no Hugging Face counterpart for GGUF architecture ${spec.gguf} (known per-layer tensors: ${Object.keys(spec.layerNames).join(', ')})`,
      GgufErrorCode.Unsupported,
    );
  }
  let fix: TensorFix = { kind: 'none' };
  if (spec.permutesQK && gguf === 'attn_q') fix = { kind: 'unpermute', heads: heads.q };
  else if (spec.permutesQK && gguf === 'attn_k') fix = { kind: 'unpermute', heads: heads.kv };
  else if (spec.normPlusOne && suffix === '.weight' && (gguf.endsWith('_norm') || gguf === 'output_norm')) fix = { kind: 'subtract-one' };
  return { hfName: hf + suffix, fix };
}
