// One zod schema and one builder per model_type: config.json -> ArchConfig.
// Defaults for absent keys are the transformers 5 config class defaults of that model_type
// (models/<family>/configuration_<family>.py); semantics follow its modeling_<family>.py.
// A key given as null means what None means there (e.g. sliding_window: null = no window),
// which differs from an absent key (the class default) where transformers differs too.
// Not here: rope math (rope.ts), reading files and error policy for unknown types (hf-config.ts).

import { z } from 'zod';
import type { ArchConfig, Family, LayerConfig, RopeConfig } from './arch.js';
import { configInvalid, unsupported } from './config-error.js';
import { isGiven, normalizeRope, ropeParamsSchema, type RopeParams } from './rope.js';

// ---------------------------------------------------------------------------------- schemas

const posInt = z.number().int().positive();
const tokenId = z.number().int().nonnegative();
const tokenIds = z.union([tokenId, z.array(tokenId)]);

/** Sizes without which a stand-alone config.json describes no model (no silent 4096s). */
const sizeKeys = {
  vocab_size: posInt,
  hidden_size: posInt,
  intermediate_size: posInt,
  num_hidden_layers: posInt,
  num_attention_heads: posInt,
};

/** Keys shared by every decoder family; absent or null = the family default. */
const sharedKeys = {
  num_key_value_heads: posInt.nullish(),
  head_dim: posInt.nullish(),
  max_position_embeddings: posInt.nullish(),
  rms_norm_eps: z.number().positive().nullish(),
  tie_word_embeddings: z.boolean().nullish(),
  rope_theta: z.number().positive().nullish(),
  rope_scaling: ropeParamsSchema.nullish(),
  partial_rotary_factor: z.number().positive().max(1).nullish(),
  layer_types: z.array(z.string()).nullish(),
  torch_dtype: z.string().nullish(),
  dtype: z.string().nullish(),
  eos_token_id: tokenIds.nullish(),
  bos_token_id: tokenId.nullish(),
  pad_token_id: tokenId.nullish(),
  quantization_config: z.looseObject({}).nullish(),
};

const flatRope = { rope_parameters: ropeParamsSchema.nullish() };
const slidingWindow = posInt.nullable().optional(); // null = no window; absent = class default
const softcap = z.number().positive().nullable().optional();

export const llamaSchema = z.looseObject({
  model_type: z.literal('llama'),
  ...sizeKeys,
  ...sharedKeys,
  ...flatRope,
  hidden_act: z.string().nullish(),
  attention_bias: z.boolean().nullish(),
  mlp_bias: z.boolean().nullish(),
});

export const mistralSchema = z.looseObject({
  model_type: z.literal('mistral'),
  ...sizeKeys,
  ...sharedKeys,
  ...flatRope,
  hidden_act: z.string().nullish(),
  sliding_window: slidingWindow,
});

const qwenKeys = {
  ...sizeKeys,
  ...sharedKeys,
  ...flatRope,
  hidden_act: z.string().nullish(),
  use_sliding_window: z.boolean().nullish(),
  sliding_window: slidingWindow,
  max_window_layers: z.number().int().nonnegative().nullish(),
};
export const qwen2Schema = z.looseObject({ model_type: z.literal('qwen2'), ...qwenKeys });
export const qwen3Schema = z.looseObject({
  model_type: z.literal('qwen3'),
  ...qwenKeys,
  attention_bias: z.boolean().nullish(),
});

export const gemmaSchema = z.looseObject({
  model_type: z.literal('gemma'),
  ...sizeKeys,
  ...sharedKeys,
  ...flatRope,
  hidden_act: z.string().nullish(),
  attention_bias: z.boolean().nullish(),
  use_bidirectional_attention: z.boolean().nullish(),
});

export const gemma2Schema = z.looseObject({
  model_type: z.literal('gemma2'),
  ...sizeKeys,
  ...sharedKeys,
  ...flatRope,
  hidden_activation: z.string().nullish(),
  attention_bias: z.boolean().nullish(),
  use_bidirectional_attention: z.boolean().nullish(),
  query_pre_attn_scalar: z.number().positive().nullish(),
  sliding_window: slidingWindow,
  attn_logit_softcapping: softcap,
  final_logit_softcapping: softcap,
});

/** Gemma 3 rope_parameters (transformers 5): one dict per layer type. */
const gemma3RopeParameters = z.looseObject({
  full_attention: ropeParamsSchema.nullish(),
  sliding_attention: ropeParamsSchema.nullish(),
});

/** Gemma3TextConfig's keys, every one optional (the multimodal text_config lists only a few). */
const gemma3TextKeys = {
  vocab_size: posInt.nullish(),
  hidden_size: posInt.nullish(),
  intermediate_size: posInt.nullish(),
  num_hidden_layers: posInt.nullish(),
  num_attention_heads: posInt.nullish(),
  ...sharedKeys,
  rope_parameters: gemma3RopeParameters.nullish(),
  rope_local_base_freq: z.number().positive().nullish(),
  sliding_window_pattern: posInt.nullish(),
  hidden_activation: z.string().nullish(),
  attention_bias: z.boolean().nullish(),
  use_bidirectional_attention: z.boolean().nullish(),
  query_pre_attn_scalar: z.number().positive().nullish(),
  sliding_window: slidingWindow,
  attn_logit_softcapping: softcap,
  final_logit_softcapping: softcap,
};

export const gemma3TextSchema = z.looseObject({
  model_type: z.literal('gemma3_text'),
  ...gemma3TextKeys,
  ...sizeKeys,
});

export const gemma3Schema = z.looseObject({
  model_type: z.literal('gemma3'),
  text_config: z
    .looseObject({ ...gemma3TextKeys, model_type: z.literal('gemma3_text').nullish() })
    .nullish(),
  tie_word_embeddings: z.boolean().nullish(),
  eos_token_id: tokenIds.nullish(),
  bos_token_id: tokenId.nullish(),
  pad_token_id: tokenId.nullish(),
  torch_dtype: z.string().nullish(),
  dtype: z.string().nullish(),
  quantization_config: z.looseObject({}).nullish(),
});

export const phi3Schema = z.looseObject({
  model_type: z.literal('phi3'),
  ...sizeKeys,
  ...sharedKeys,
  ...flatRope,
  hidden_act: z.string().nullish(),
  original_max_position_embeddings: posInt.nullish(),
  sliding_window: posInt.nullish(), // class default is None: absent and null agree
});

/** config.json of every supported model_type, discriminated by model_type. */
export const hfConfigSchema = z.discriminatedUnion('model_type', [
  llamaSchema,
  mistralSchema,
  qwen2Schema,
  qwen3Schema,
  gemmaSchema,
  gemma2Schema,
  gemma3TextSchema,
  gemma3Schema,
  phi3Schema,
]);
export type HfConfig = z.infer<typeof hfConfigSchema>;

// --------------------------------------------------------------------------------- helpers

/** transformers' `x: T | None = default`: absent -> default, explicit null -> None. */
function orDefault<T>(value: T | null | undefined, fallback: T | null): T | null {
  return value === undefined ? fallback : value;
}

const ACTIVATIONS: Record<string, ArchConfig['hiddenAct']> = {
  silu: 'silu',
  swish: 'silu',
  gelu_pytorch_tanh: 'gelu_tanh',
  gelu_python_tanh: 'gelu_tanh',
  gelu_new: 'gelu_tanh', // same tanh formula as gelu_pytorch_tanh
  gelu: 'gelu',
  gelu_python: 'gelu',
};

function activation(source: string, path: string, name: string): ArchConfig['hiddenAct'] {
  const act = ACTIVATIONS[name];
  if (act === undefined) throw unsupported(source, path, name, Object.keys(ACTIVATIONS));
  return act;
}

type LayerKind = 'full_attention' | 'sliding_attention';
const LAYER_KINDS: Record<string, LayerKind> = {
  full_attention: 'full_attention',
  sliding_attention: 'sliding_attention',
  attention: 'full_attention', // transformers' legacy name
};

/** layer_types from the file (validated) or from the family's rule. */
function resolveLayerTypes(
  source: string,
  path: string,
  given: readonly string[] | null | undefined,
  numLayers: number,
  rule: (layer: number) => LayerKind,
): LayerKind[] {
  if (given == null) return Array.from({ length: numLayers }, (_, i) => rule(i));
  if (given.length !== numLayers) {
    throw configInvalid(source, path, `a list of num_hidden_layers = ${numLayers} entries`, given);
  }
  return given.map((name, i) => {
    const kind = LAYER_KINDS[name];
    if (kind === undefined) throw unsupported(source, `${path}.${i}`, name, Object.keys(LAYER_KINDS));
    return kind;
  });
}

function divide(source: string, hidden: number, heads: number): number {
  if (hidden % heads !== 0) {
    throw configInvalid(source, 'hidden_size', `a multiple of num_attention_heads (${heads}) when head_dim is not given`, hidden);
  }
  return hidden / heads;
}

type Dims = Pick<
  ArchConfig,
  'vocabSize' | 'hiddenSize' | 'intermediateSize' | 'numLayers' | 'numHeads' | 'numKvHeads' | 'headDim' | 'maxPositionEmbeddings' | 'rmsNormEps'
>;

function checkHeads(source: string, path: string, dims: Dims): void {
  if (dims.numHeads % dims.numKvHeads !== 0) {
    throw configInvalid(source, `${path}num_key_value_heads`, `a divisor of num_attention_heads (${dims.numHeads})`, dims.numKvHeads);
  }
}

/** The switches every family starts from (Llama's); builders override what differs. */
function plainArch(family: Family, dims: Dims, tie: boolean, layers: LayerConfig[]): ArchConfig {
  return {
    family,
    ...dims,
    normWeightOffset: 0,
    hiddenAct: 'silu',
    embedScale: 1,
    qkvBias: false,
    oBias: false,
    mlpBias: false,
    qkNorm: false,
    fusedQkv: false,
    fusedGateUp: false,
    sandwichNorms: false,
    attnScale: dims.headDim ** -0.5,
    attnLogitSoftcap: null,
    finalLogitSoftcap: null,
    tieWordEmbeddings: tie,
    layers,
    weightPrefixes: ['model.'],
    lmHeadNames: ['lm_head.weight'],
  };
}

type FlatConfig = z.infer<typeof llamaSchema> | z.infer<typeof mistralSchema> | z.infer<typeof qwen2Schema>
  | z.infer<typeof qwen3Schema> | z.infer<typeof gemmaSchema> | z.infer<typeof gemma2Schema> | z.infer<typeof phi3Schema>;

/** The single rope dict of a non-gemma3 family (transformers: `rope_scaling or rope_parameters`). */
function flatRopeOf(
  source: string,
  cfg: FlatConfig,
  dims: Dims,
  extra: { originalMaxOverride?: number; phi3?: boolean } = {},
): RopeConfig {
  const fromScaling = isGiven(cfg.rope_scaling);
  const params: RopeParams = (fromScaling ? cfg.rope_scaling : cfg.rope_parameters) ?? {};
  return normalizeRope(params, {
    source,
    path: fromScaling ? 'rope_scaling' : 'rope_parameters',
    headDim: dims.headDim,
    maxPositionEmbeddings: dims.maxPositionEmbeddings,
    fallbackTheta: cfg.rope_theta ?? 10_000,
    fallbackPartialRotaryFactor: cfg.partial_rotary_factor ?? 1,
    ...(extra.originalMaxOverride !== undefined ? { originalMaxOverride: extra.originalMaxOverride } : {}),
    ...(extra.phi3 ? { aliases: { su: 'longrope', yarn: 'longrope' }, allowedTypes: ['default', 'longrope'] } : {}),
  });
}

interface DimDefaults {
  numKvHeads: number | null; // null: same as num_attention_heads
  headDim: number | null; // null: hidden_size / num_attention_heads
  maxPositionEmbeddings: number;
  rmsNormEps: number;
}

function flatDims(source: string, cfg: FlatConfig, d: DimDefaults): Dims {
  const heads = cfg.num_attention_heads;
  const dims: Dims = {
    vocabSize: cfg.vocab_size,
    hiddenSize: cfg.hidden_size,
    intermediateSize: cfg.intermediate_size,
    numLayers: cfg.num_hidden_layers,
    numHeads: heads,
    numKvHeads: orDefault(cfg.num_key_value_heads, d.numKvHeads) ?? heads,
    headDim: orDefault(cfg.head_dim, d.headDim) ?? divide(source, cfg.hidden_size, heads),
    maxPositionEmbeddings: cfg.max_position_embeddings ?? d.maxPositionEmbeddings,
    rmsNormEps: cfg.rms_norm_eps ?? d.rmsNormEps,
  };
  checkHeads(source, '', dims);
  return dims;
}

function uniformLayers(n: number, rope: RopeConfig, window: number | null): LayerConfig[] {
  return Array.from({ length: n }, () => ({ slidingWindow: window, rope }));
}

function rejectBidirectional(source: string, path: string, value: boolean | null | undefined): void {
  if (value === true) throw unsupported(source, path, value, ['false (causal decoder)']);
}

// -------------------------------------------------------------------------------- builders

function buildLlama(cfg: z.infer<typeof llamaSchema>, source: string): ArchConfig {
  const dims = flatDims(source, cfg, { numKvHeads: null, headDim: null, maxPositionEmbeddings: 2048, rmsNormEps: 1e-6 });
  const rope = flatRopeOf(source, cfg, dims);
  const bias = cfg.attention_bias ?? false;
  return {
    ...plainArch('llama', dims, cfg.tie_word_embeddings ?? false, uniformLayers(dims.numLayers, rope, null)),
    hiddenAct: activation(source, 'hidden_act', cfg.hidden_act ?? 'silu'),
    qkvBias: bias,
    oBias: bias,
    mlpBias: cfg.mlp_bias ?? false,
  };
}

function buildMistral(cfg: z.infer<typeof mistralSchema>, source: string): ArchConfig {
  const dims = flatDims(source, cfg, { numKvHeads: 8, headDim: null, maxPositionEmbeddings: 4096 * 32, rmsNormEps: 1e-6 });
  const rope = flatRopeOf(source, cfg, dims);
  // modeling_mistral applies config.sliding_window to every layer.
  const window = orDefault(cfg.sliding_window, 4096);
  return {
    ...plainArch('mistral', dims, cfg.tie_word_embeddings ?? false, uniformLayers(dims.numLayers, rope, window)),
    hiddenAct: activation(source, 'hidden_act', cfg.hidden_act ?? 'silu'),
  };
}

function qwenLayers(source: string, cfg: z.infer<typeof qwen2Schema> | z.infer<typeof qwen3Schema>, dims: Dims): LayerConfig[] {
  const rope = flatRopeOf(source, cfg, dims);
  // Qwen2Config.__post_init__: the window exists only with use_sliding_window; layers from
  // max_window_layers on slide unless layer_types says otherwise.
  const window = cfg.use_sliding_window ?? false ? orDefault(cfg.sliding_window, 4096) : null;
  const firstSliding = cfg.max_window_layers ?? 28;
  const kinds = resolveLayerTypes(source, 'layer_types', cfg.layer_types, dims.numLayers, (i) =>
    window !== null && i >= firstSliding ? 'sliding_attention' : 'full_attention',
  );
  return kinds.map((kind) => ({ slidingWindow: kind === 'sliding_attention' ? window : null, rope }));
}

function buildQwen2(cfg: z.infer<typeof qwen2Schema>, source: string): ArchConfig {
  const dims = flatDims(source, cfg, { numKvHeads: 32, headDim: null, maxPositionEmbeddings: 32768, rmsNormEps: 1e-6 });
  return {
    ...plainArch('qwen2', dims, cfg.tie_word_embeddings ?? false, qwenLayers(source, cfg, dims)),
    hiddenAct: activation(source, 'hidden_act', cfg.hidden_act ?? 'silu'),
    qkvBias: true, // modeling_qwen2: q/k/v always biased, o never
  };
}

function buildQwen3(cfg: z.infer<typeof qwen3Schema>, source: string): ArchConfig {
  const dims = flatDims(source, cfg, { numKvHeads: 32, headDim: 128, maxPositionEmbeddings: 32768, rmsNormEps: 1e-6 });
  const bias = cfg.attention_bias ?? false;
  return {
    ...plainArch('qwen3', dims, cfg.tie_word_embeddings ?? false, qwenLayers(source, cfg, dims)),
    hiddenAct: activation(source, 'hidden_act', cfg.hidden_act ?? 'silu'),
    qkvBias: bias,
    oBias: bias,
    qkNorm: true,
  };
}

/** What all Gemma generations share: (1 + w) norms, sqrt(hidden) embedding scale, tied default. */
function gemmaCommon(arch: ArchConfig, attentionBias: boolean | null | undefined): ArchConfig {
  const bias = attentionBias ?? false;
  return { ...arch, normWeightOffset: 1, embedScale: Math.sqrt(arch.hiddenSize), qkvBias: bias, oBias: bias };
}

function buildGemma(cfg: z.infer<typeof gemmaSchema>, source: string): ArchConfig {
  rejectBidirectional(source, 'use_bidirectional_attention', cfg.use_bidirectional_attention);
  const dims = flatDims(source, cfg, { numKvHeads: 16, headDim: 256, maxPositionEmbeddings: 8192, rmsNormEps: 1e-6 });
  const rope = flatRopeOf(source, cfg, dims);
  // GemmaConfig: the legacy "gelu" of the original releases means the tanh approximation.
  const act = cfg.hidden_act ?? 'gelu_pytorch_tanh';
  const arch = plainArch('gemma', dims, cfg.tie_word_embeddings ?? true, uniformLayers(dims.numLayers, rope, null));
  return {
    ...gemmaCommon(arch, cfg.attention_bias),
    hiddenAct: activation(source, 'hidden_act', act === 'gelu' ? 'gelu_pytorch_tanh' : act),
  };
}

function buildGemma2(cfg: z.infer<typeof gemma2Schema>, source: string): ArchConfig {
  rejectBidirectional(source, 'use_bidirectional_attention', cfg.use_bidirectional_attention);
  const dims = flatDims(source, cfg, { numKvHeads: 4, headDim: 256, maxPositionEmbeddings: 8192, rmsNormEps: 1e-6 });
  const rope = flatRopeOf(source, cfg, dims);
  const window = orDefault(cfg.sliding_window, 4096);
  const kinds = resolveLayerTypes(source, 'layer_types', cfg.layer_types, dims.numLayers, (i) =>
    (i + 1) % 2 !== 0 ? 'sliding_attention' : 'full_attention',
  );
  const layers = kinds.map((kind) => ({ slidingWindow: kind === 'sliding_attention' ? window : null, rope }));
  const arch = plainArch('gemma2', dims, cfg.tie_word_embeddings ?? true, layers);
  return {
    ...gemmaCommon(arch, cfg.attention_bias),
    hiddenAct: activation(source, 'hidden_activation', cfg.hidden_activation ?? 'gelu_pytorch_tanh'),
    sandwichNorms: true,
    attnScale: (cfg.query_pre_attn_scalar ?? 256) ** -0.5,
    attnLogitSoftcap: orDefault(cfg.attn_logit_softcapping, 50.0),
    finalLogitSoftcap: orDefault(cfg.final_logit_softcapping, 30.0),
  };
}

type Gemma3TextLike = z.infer<typeof gemma3Schema>['text_config'] & {};

/** Gemma3TextConfig -> ArchConfig; `path` prefixes key names in messages ('' or 'text_config.'). */
function gemma3TextArch(cfg: Gemma3TextLike, source: string, path: string, family: Family, tie: boolean): ArchConfig {
  rejectBidirectional(source, `${path}use_bidirectional_attention`, cfg.use_bidirectional_attention);
  const heads = cfg.num_attention_heads ?? 8;
  const dims: Dims = {
    vocabSize: cfg.vocab_size ?? 262_208,
    hiddenSize: cfg.hidden_size ?? 2304,
    intermediateSize: cfg.intermediate_size ?? 9216,
    numLayers: cfg.num_hidden_layers ?? 26,
    numHeads: heads,
    numKvHeads: orDefault(cfg.num_key_value_heads, 4) ?? heads,
    headDim: cfg.head_dim ?? 256,
    maxPositionEmbeddings: cfg.max_position_embeddings ?? 131_072,
    rmsNormEps: cfg.rms_norm_eps ?? 1e-6,
  };
  checkHeads(source, path, dims);

  // Gemma3TextConfig.convert_rope_params_to_dict: rope_scaling goes to full-attention layers,
  // rope_theta (default 1e6) to full, rope_local_base_freq (default 1e4) to sliding layers.
  const nested = cfg.rope_parameters ?? {};
  const ropePath = cfg.rope_parameters != null ? `${path}rope_parameters.` : path;
  const full: RopeParams = { ...(nested.full_attention ?? {}), ...(cfg.rope_scaling ?? {}) };
  const sliding: RopeParams = { ...(nested.sliding_attention ?? {}) };
  const ropeFor = (params: RopeParams, key: string, theta: number): RopeConfig =>
    normalizeRope(params, {
      source,
      path: cfg.rope_scaling != null && key === 'full_attention' ? `${path}rope_scaling` : `${ropePath}${key}`,
      headDim: dims.headDim,
      maxPositionEmbeddings: dims.maxPositionEmbeddings,
      fallbackTheta: theta,
      fallbackPartialRotaryFactor: 1,
    });
  const fullRope = ropeFor(full, 'full_attention', cfg.rope_theta ?? 1_000_000);
  const slidingRope = ropeFor(sliding, 'sliding_attention', cfg.rope_local_base_freq ?? 10_000);

  const window = orDefault(cfg.sliding_window, 4096);
  const pattern = cfg.sliding_window_pattern ?? 6;
  const kinds = resolveLayerTypes(source, `${path}layer_types`, cfg.layer_types, dims.numLayers, (i) =>
    (i + 1) % pattern !== 0 ? 'sliding_attention' : 'full_attention',
  );
  const layers = kinds.map((kind) =>
    kind === 'sliding_attention' ? { slidingWindow: window, rope: slidingRope } : { slidingWindow: null, rope: fullRope },
  );
  const arch = plainArch(family, dims, tie, layers);
  return {
    ...gemmaCommon(arch, cfg.attention_bias),
    hiddenAct: activation(source, `${path}hidden_activation`, cfg.hidden_activation ?? 'gelu_pytorch_tanh'),
    qkNorm: true,
    sandwichNorms: true,
    attnScale: (cfg.query_pre_attn_scalar ?? 256) ** -0.5,
    attnLogitSoftcap: orDefault(cfg.attn_logit_softcapping, null),
    finalLogitSoftcap: orDefault(cfg.final_logit_softcapping, null),
  };
}

function buildGemma3Text(cfg: z.infer<typeof gemma3TextSchema>, source: string): ArchConfig {
  return gemma3TextArch(cfg, source, '', 'gemma3_text', cfg.tie_word_embeddings ?? true);
}

function buildGemma3(cfg: z.infer<typeof gemma3Schema>, source: string): ArchConfig {
  // Gemma3ForConditionalGeneration ties by the top-level flag; the vision tower is not ours.
  const arch = gemma3TextArch(cfg.text_config ?? {}, source, 'text_config.', 'gemma3', cfg.tie_word_embeddings ?? true);
  return {
    ...arch,
    // transformers >= 4.52 saves 'model.language_model.'; older checkpoints 'language_model.model.'.
    weightPrefixes: ['model.language_model.', 'language_model.model.'],
    lmHeadNames: ['lm_head.weight', 'language_model.lm_head.weight'],
  };
}

function buildPhi3(cfg: z.infer<typeof phi3Schema>, source: string): ArchConfig {
  const dims = flatDims(source, cfg, { numKvHeads: null, headDim: null, maxPositionEmbeddings: 4096, rmsNormEps: 1e-5 });
  // Phi3Config always has original_max_position_embeddings (default 4096) and it overrides the dict's.
  const rope = flatRopeOf(source, cfg, dims, { originalMaxOverride: cfg.original_max_position_embeddings ?? 4096, phi3: true });
  return {
    ...plainArch('phi3', dims, cfg.tie_word_embeddings ?? false, uniformLayers(dims.numLayers, rope, cfg.sliding_window ?? null)),
    hiddenAct: activation(source, 'hidden_act', cfg.hidden_act ?? 'silu'),
    fusedQkv: true,
    fusedGateUp: true,
  };
}

/** The family registry: one builder per model_type (exhaustive; no lookup by name). */
export function buildArch(cfg: HfConfig, source: string): ArchConfig {
  switch (cfg.model_type) {
    case 'llama':
      return buildLlama(cfg, source);
    case 'mistral':
      return buildMistral(cfg, source);
    case 'qwen2':
      return buildQwen2(cfg, source);
    case 'qwen3':
      return buildQwen3(cfg, source);
    case 'gemma':
      return buildGemma(cfg, source);
    case 'gemma2':
      return buildGemma2(cfg, source);
    case 'gemma3_text':
      return buildGemma3Text(cfg, source);
    case 'gemma3':
      return buildGemma3(cfg, source);
    case 'phi3':
      return buildPhi3(cfg, source);
  }
}
