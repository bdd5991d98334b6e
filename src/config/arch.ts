// The normalized architecture description every family's config.json is reduced to.
// The native engine reads exactly these fields (native/addon/arch_spec.cpp mirrors them);
// per-family differences are expressed as switches and numbers here, never as family names
// inside the engine. src/config/hf-config.ts builds one from config.json.

export const FAMILIES = [
  'llama',
  'mistral',
  'qwen2',
  'qwen3',
  'gemma',
  'gemma2',
  'gemma3_text',
  'gemma3',
  'phi3',
] as const;
export type Family = (typeof FAMILIES)[number];

/** Rotary embedding of one layer, as transformers computes it (modeling_rope_utils). */
export interface RopeConfig {
  /** 'default' (plain), 'linear' (positions / factor), 'llama3' (banded frequency scaling),
   * 'longrope' (Phi-3: short/long per-dimension factors chosen by sequence length). */
  type: 'default' | 'linear' | 'llama3' | 'longrope';
  /** Base of the inverse frequencies (rope_theta, or rope_local_base_freq on gemma3 sliding layers). */
  theta: number;
  /** Number of leading head dims that rotate (head_dim x partial_rotary_factor, even). */
  rotaryDim: number;
  /** linear / llama3 scaling factor; 1 when unused. */
  factor: number;
  /** llama3 only. */
  lowFreqFactor: number;
  highFreqFactor: number;
  /** llama3 and longrope: the pre-extension context length. */
  originalMaxPositionEmbeddings: number;
  /** longrope only: per-frequency divisors (length rotaryDim / 2); long ones apply when the
   * sequence (max position + 1) exceeds originalMaxPositionEmbeddings. */
  shortFactor: number[];
  longFactor: number[];
  /** Multiplies cos and sin (longrope's attention factor); 1 otherwise. */
  attentionScaling: number;
}

export interface LayerConfig {
  /** Sliding-window size (a query sees itself and the window - 1 keys before it), or null for full causal. */
  slidingWindow: number | null;
  rope: RopeConfig;
}

export interface ArchConfig {
  family: Family;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  maxPositionEmbeddings: number;
  rmsNormEps: number;
  /** Gemma stores RMSNorm weights as w and applies (1 + w); 0 elsewhere. */
  normWeightOffset: 0 | 1;
  /** MLP activation: silu (SwiGLU), gelu_tanh (GeGLU with tanh approximation), gelu (exact). */
  hiddenAct: 'silu' | 'gelu_tanh' | 'gelu';
  /** Embeddings are multiplied by this (gemma: sqrt(hiddenSize), rounded to the compute dtype). */
  embedScale: number;
  /** Bias on q/k/v projections (qwen2 always; others when attention_bias). */
  qkvBias: boolean;
  /** Bias on o_proj (attention_bias on llama/mistral/qwen3/gemma*). */
  oBias: boolean;
  /** Bias on gate/up/down (llama mlp_bias). */
  mlpBias: boolean;
  /** RMSNorm over head_dim on q and k before RoPE (qwen3, gemma3). */
  qkNorm: boolean;
  /** Phi-3: one qkv_proj [q; k; v] and one gate_up_proj [gate; up]. */
  fusedQkv: boolean;
  fusedGateUp: boolean;
  /** Gemma 2/3: post_attention_layernorm on the attention output, then pre_feedforward_layernorm
   * and post_feedforward_layernorm around the MLP. Otherwise post_attention_layernorm is the MLP's pre-norm. */
  sandwichNorms: boolean;
  /** Multiplies q.k (1/sqrt(headDim), or query_pre_attn_scalar^-0.5 on gemma 2/3). */
  attnScale: number;
  /** tanh soft-capping of attention scores (gemma2) and final logits (gemma2/3), or null. */
  attnLogitSoftcap: number | null;
  finalLogitSoftcap: number | null;
  /** lm_head shares embed_tokens' weight. */
  tieWordEmbeddings: boolean;
  /** One entry per decoder layer. */
  layers: LayerConfig[];
  /** Prefixes under which the decoder's weights may be stored ('model.'; gemma3 multimodal:
   * 'language_model.model.' or 'model.language_model.'); the first one present wins. */
  weightPrefixes: string[];
  /** Names the lm_head weight may have; the first one present wins. Ignored when tied. */
  lmHeadNames: string[];
}
