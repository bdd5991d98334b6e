// PEFT's adapter_config.json for LoRA: what we write next to adapter_model.safetensors so
// peft (and vLLM) load our adapters, and the gate for adapters peft wrote. Anything in a peft
// config that this engine would otherwise silently ignore (DoRA, per-module ranks, extra saved
// modules, LoRA biases, regex targets) is refused with a message naming the key.
import { z } from 'zod';
import { readJsonFile } from '../config/hf-config.js';
import { ErrorCode, SftError } from '../errors.js';

/** LoRA hyper-parameters as the engine uses them. */
export interface LoraSpec {
  r: number;
  alpha: number;
  dropout: number;
  /** Module names, e.g. q_proj, k_proj, v_proj (phi3: qkv_proj). */
  targets: string[];
  /** Decoder layers that carry adapters; null = all. */
  layersToTransform: number[] | null;
  /** scaling = alpha / sqrt(r) instead of alpha / r. */
  useRslora: boolean;
  /**
   * peft's task_type: 'SEQ_CLS' adapters carry the classification head (modules_to_save
   * ["score"], saved as base_model.model.score.weight). Absent: 'CAUSAL_LM'.
   */
  taskType?: 'CAUSAL_LM' | 'SEQ_CLS';
}

/** Where peft's SEQ_CLS adapter_model.safetensors holds the score head (modules_to_save). */
export const SCORE_HEAD_KEY = 'base_model.model.score.weight';
/** The modules peft's sequence-classification model saves whole (PeftModelForSequenceClassification). */
const SEQ_CLS_HEADS = ['score', 'classifier'];

export function loraScaling(spec: LoraSpec): number {
  return spec.useRslora ? spec.alpha / Math.sqrt(spec.r) : spec.alpha / spec.r;
}

/** The adapter_config.json peft writes for such an adapter (peft_type LORA, task CAUSAL_LM or SEQ_CLS). */
export function peftAdapterConfig(spec: LoraSpec, baseModel: string | null): Record<string, unknown> {
  const classify = spec.taskType === 'SEQ_CLS';
  return {
    task_type: classify ? 'SEQ_CLS' : 'CAUSAL_LM',
    peft_type: 'LORA',
    base_model_name_or_path: baseModel,
    revision: null,
    inference_mode: true,
    r: spec.r,
    target_modules: [...spec.targets].sort(),
    exclude_modules: null,
    lora_alpha: spec.alpha,
    lora_dropout: spec.dropout,
    fan_in_fan_out: false,
    bias: 'none',
    use_rslora: spec.useRslora,
    modules_to_save: classify ? ['score'] : null,
    init_lora_weights: true,
    layers_to_transform: spec.layersToTransform,
    layers_pattern: null,
    rank_pattern: {},
    alpha_pattern: {},
    use_dora: false,
    lora_bias: false,
  };
}

const emptyRecord = z.union([z.null(), z.record(z.string(), z.unknown()).refine((r) => Object.keys(r).length === 0, 'per-module patterns are not supported')]);

const peftLoraSchema = z.looseObject({
  peft_type: z.literal('LORA'),
  task_type: z.string().nullish(),
  r: z.number().int().positive(),
  lora_alpha: z.number().positive(),
  lora_dropout: z.number().min(0).max(1).nullish(),
  target_modules: z.union([z.array(z.string()).nonempty(), z.string()]),
  layers_to_transform: z.union([z.number().int().nonnegative(), z.array(z.number().int().nonnegative())]).nullish(),
  use_rslora: z.boolean().nullish(),
  bias: z.literal('none').nullish(),
  use_dora: z.literal(false).nullish(),
  lora_bias: z.literal(false).nullish(),
  fan_in_fan_out: z.literal(false).nullish(),
  modules_to_save: z.union([z.null(), z.array(z.string())]).optional(),
  rank_pattern: emptyRecord.optional(),
  alpha_pattern: emptyRecord.optional(),
  base_model_name_or_path: z.string().nullish(),
});

/** Reads and checks a peft LoRA adapter_config.json. */
export async function readPeftAdapterConfig(file: string): Promise<{ spec: LoraSpec; baseModel: string | null }> {
  const json = await readJsonFile(file);
  const parsed = peftLoraSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new SftError(`${file}: not a LoRA adapter config this engine can load exactly: ${problems}`, ErrorCode.ConfigInvalid);
  }
  const c = parsed.data;
  if (typeof c.target_modules === 'string') {
    throw new SftError(
      `${file}: target_modules is a regular expression ('${c.target_modules}'); list the module names instead (e.g. ["q_proj","k_proj","v_proj"])`,
      ErrorCode.ConfigInvalid,
    );
  }
  const classify = c.task_type === 'SEQ_CLS';
  // Whole modules saved beside the adapters: only a SEQ_CLS adapter's head loads here.
  const saved = (c.modules_to_save ?? []).filter((m) => !(classify && SEQ_CLS_HEADS.includes(m)));
  if (saved.length > 0) {
    throw new SftError(
      `${file}: modules_to_save ${JSON.stringify(c.modules_to_save)} holds modules this engine does not train (${saved.join(', ')}); ` +
        (classify ? "a SEQ_CLS adapter may save only its head ('score')" : "only a task_type 'SEQ_CLS' adapter may save a module (its 'score' head)"),
      ErrorCode.ConfigInvalid,
    );
  }
  const layers = c.layers_to_transform;
  return {
    spec: {
      r: c.r,
      alpha: c.lora_alpha,
      dropout: c.lora_dropout ?? 0,
      targets: [...c.target_modules],
      layersToTransform: layers === null || layers === undefined ? null : Array.isArray(layers) ? layers : [layers],
      useRslora: c.use_rslora ?? false,
      ...(classify ? { taskType: 'SEQ_CLS' as const } : {}),
    },
    baseModel: c.base_model_name_or_path ?? null,
  };
}
