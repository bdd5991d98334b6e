// Rotary embedding parameters: the zod schema of one rope dict (Hub `rope_scaling` or
// transformers-5 `rope_parameters`) and its reduction to RopeConfig, following
// transformers' modeling_rope_utils (standardize_rope_params + the per-type init functions),
// so the engine can recompute inv_freq and the cos/sin scaling exactly.
// Not here: which dict applies to which layer (families.ts decides that per family).

import { z } from 'zod';
import type { RopeConfig } from './arch.js';
import { configInvalid, unsupported } from './config-error.js';

export const SUPPORTED_ROPE_TYPES = ['default', 'linear', 'llama3', 'longrope'] as const;
type SupportedRopeType = (typeof SUPPORTED_ROPE_TYPES)[number];

const factorList = z.array(z.number().positive());

/** One rope dict. Every key may be absent or null (transformers writes nulls for unset keys). */
export const ropeParamsSchema = z.looseObject({
  rope_type: z.string().nullish(),
  type: z.string().nullish(),
  rope_theta: z.number().positive().nullish(),
  factor: z.number().positive().nullish(),
  low_freq_factor: z.number().positive().nullish(),
  high_freq_factor: z.number().positive().nullish(),
  original_max_position_embeddings: z.number().int().positive().nullish(),
  short_factor: factorList.nullish(),
  long_factor: factorList.nullish(),
  attention_factor: z.number().positive().nullish(),
  partial_rotary_factor: z.number().positive().max(1).nullish(),
});
export type RopeParams = z.infer<typeof ropeParamsSchema>;

/** What a rope dict is resolved against (the layer's model, not the dict itself). */
export interface RopeContext {
  source: string;
  /** Key path of the dict in the file, for messages ("rope_scaling", "text_config.rope_parameters.full_attention"). */
  path: string;
  headDim: number;
  maxPositionEmbeddings: number;
  /** Used when the dict has no rope_theta (transformers: top-level rope_theta, else the class default). */
  fallbackTheta: number;
  /** Used when the dict has no partial_rotary_factor (top-level key, else 1). */
  fallbackPartialRotaryFactor: number;
  /** Phi-3 keeps original_max_position_embeddings at the top level and it overrides the dict's. */
  originalMaxOverride?: number;
  /** Phi-3 reads the legacy names 'su' and 'yarn' as 'longrope'. */
  aliases?: Readonly<Record<string, SupportedRopeType>>;
  /** Types the family accepts (Phi-3: default and longrope only). */
  allowedTypes?: readonly SupportedRopeType[];
}

/** True when a rope_scaling value counts as given (Python's truthiness: null and {} do not). */
export function isGiven(params: RopeParams | null | undefined): params is RopeParams {
  return params != null && Object.keys(params).length > 0;
}

function required(params: RopeParams, key: keyof RopeParams & string, ctx: RopeContext, type: string): number {
  const value = params[key];
  if (typeof value !== 'number') {
    throw configInvalid(ctx.source, `${ctx.path}.${key}`, `a number (required by rope type '${type}')`, value);
  }
  return value;
}

/** The rope type as transformers standardizes it: rope_type, else type, else 'default'. */
export function ropeTypeOf(params: RopeParams): string {
  return params.rope_type ?? params.type ?? 'default';
}

export function normalizeRope(params: RopeParams, ctx: RopeContext): RopeConfig {
  const rawType = ropeTypeOf(params);
  const type = ctx.aliases?.[rawType] ?? rawType;
  const allowed = ctx.allowedTypes ?? SUPPORTED_ROPE_TYPES;
  if (!(allowed as readonly string[]).includes(type)) {
    const key = params.rope_type != null ? 'rope_type' : 'type';
    throw unsupported(ctx.source, `${ctx.path}.${key}`, rawType, allowed);
  }
  const ropeType = type as SupportedRopeType;

  const theta = params.rope_theta ?? ctx.fallbackTheta;
  const partial = params.partial_rotary_factor ?? ctx.fallbackPartialRotaryFactor;
  // transformers: dim = int(head_dim * partial); inv_freq has ceil(dim / 2) entries and
  // cos/sin (hence the rotated slice) are twice that long.
  const dim = Math.trunc(ctx.headDim * partial);
  const rotaryDim = 2 * Math.ceil(dim / 2);
  if (rotaryDim <= 0 || rotaryDim > ctx.headDim) {
    throw configInvalid(ctx.source, `${ctx.path}.partial_rotary_factor`, `a factor giving 0 < rotary dims <= head_dim ${ctx.headDim}`, partial);
  }

  const rope: RopeConfig = {
    type: ropeType,
    theta,
    rotaryDim,
    factor: 1,
    lowFreqFactor: 0,
    highFreqFactor: 0,
    originalMaxPositionEmbeddings: 0,
    shortFactor: [],
    longFactor: [],
    attentionScaling: 1,
  };

  // Scaled types record the pre-extension length; Phi-3's top-level value wins over the dict's.
  const originalMax = ctx.originalMaxOverride ?? params.original_max_position_embeddings ?? ctx.maxPositionEmbeddings;

  switch (ropeType) {
    case 'default':
      break;
    case 'linear':
      rope.factor = required(params, 'factor', ctx, ropeType);
      break;
    case 'llama3': {
      rope.factor = required(params, 'factor', ctx, ropeType);
      rope.lowFreqFactor = required(params, 'low_freq_factor', ctx, ropeType);
      rope.highFreqFactor = required(params, 'high_freq_factor', ctx, ropeType);
      rope.originalMaxPositionEmbeddings = originalMax;
      if (rope.highFreqFactor <= rope.lowFreqFactor) {
        throw configInvalid(ctx.source, `${ctx.path}.high_freq_factor`, `a value > low_freq_factor ${rope.lowFreqFactor}`, rope.highFreqFactor);
      }
      break;
    }
    case 'longrope': {
      const pairs = rotaryDim / 2;
      for (const key of ['short_factor', 'long_factor'] as const) {
        const list = params[key];
        if (!Array.isArray(list) || list.length !== pairs) {
          throw configInvalid(ctx.source, `${ctx.path}.${key}`, `a list of ${pairs} numbers (rotary dims ${rotaryDim} / 2)`, list);
        }
      }
      rope.shortFactor = [...(params.short_factor ?? [])];
      rope.longFactor = [...(params.long_factor ?? [])];
      rope.originalMaxPositionEmbeddings = originalMax;
      // Phi-3 leaves `factor` out and scales by the context extension ratio instead.
      // It only sets attentionScaling; RopeConfig.factor stays 1 (the engine does not use it here).
      const factor = params.factor ?? ctx.maxPositionEmbeddings / originalMax;
      rope.attentionScaling =
        params.attention_factor ?? (factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(originalMax)));
      break;
    }
  }
  return rope;
}
