// Options of the seed's job (train, eval, createTrainer), as zod schemas: one gate for the CLI
// and the API. Defaults come from config/defaults.ts, the one place they are defined; what
// each option means is documented once, on the interfaces users see (option-types.ts), which
// the SameShape checks below hold equal to these schemas. Every failure names the option and
// what it accepts (config/parse-options.ts).
import { z } from 'zod';
import { DATA_DEFAULTS as D, EVAL_DEFAULTS, LOOP_DEFAULTS, LORA_DEFAULTS, OPTIMIZER_DEFAULTS as O } from './defaults.js';
import type { EvalOptions, TrainerOptions, TrainOptions } from './option-types.js';
import type { SameShape } from './same-shape.js';

export type { EvalOptions, TrainerOptions, TrainOptions };

const LORA_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj', 'qkv_proj', 'gate_up_proj'] as const;
const dataFields = {
  data: z.string().min(1),
  textColumn: z.string().min(1).default(D.textColumn),
  labelColumn: z.string().min(1).default(D.labelColumn),
  labelMap: z.string().min(1).default(D.labelMap),
  template: z.string().min(1).default(D.template),
  chat: z.boolean().default(D.chat),
  maxSeqLen: z.number().int().min(8).default(D.maxSeqLen),
  valSplit: z.number().min(0).default(D.valSplit),
  testSplit: z.number().min(0).default(D.testSplit),
  limit: z.number().int().positive().optional(),
  seed: z.number().int().min(0).default(D.seed),
};

const engineFields = {
  device: z.enum(['cpu', 'cuda']).optional(),
  dtype: z.enum(['float32', 'bfloat16', 'float16']).optional(),
  quant: z.enum(['none', 'nf4', 'fp4']).optional(),
};
export const optimizerFields = {
  lr: z.number().positive().default(O.lr),
  schedule: z.enum(['linear', 'cosine', 'constant', 'constant_with_warmup']).default(O.schedule),
  warmupSteps: z.number().int().min(0).default(O.warmupSteps),
  weightDecay: z.number().min(0).default(O.weightDecay),
  beta1: z.number().min(0).lt(1).default(O.beta1),
  beta2: z.number().min(0).lt(1).default(O.beta2),
  eps: z.number().positive().default(O.eps),
  maxGradNorm: z.number().min(0).default(O.maxGradNorm),
  gradientCheckpointing: z.boolean().default(O.gradientCheckpointing),
  onNonfinite: z.enum(['stop', 'skip']).default(O.onNonfinite),
};

export const trainOptionsSchema = z
  .object({
    model: z.string().min(1),
    ...dataFields,
    ...engineFields,
    out: z.string().min(1),
    loraR: z.number().int().positive().default(LORA_DEFAULTS.r),
    loraAlpha: z.number().positive().default(LORA_DEFAULTS.alpha),
    loraDropout: z.number().min(0).lt(1).default(LORA_DEFAULTS.dropout),
    loraTargets: z.array(z.enum(LORA_TARGETS)).nonempty().optional(),
    useRslora: z.boolean().default(LORA_DEFAULTS.useRslora),
    ...optimizerFields,
    batchSize: z.number().int().positive().default(LOOP_DEFAULTS.batchSize),
    gradAccum: z.number().int().positive().default(LOOP_DEFAULTS.gradAccum),
    epochs: z.number().int().positive().default(LOOP_DEFAULTS.epochs),
    maxSteps: z.number().int().positive().optional(),
    logEvery: z.number().int().positive().default(LOOP_DEFAULTS.logEvery),
    saveEvery: z.number().int().positive().optional(),
    resume: z.union([z.boolean(), z.string().min(1)]).default(false),
    worldSize: z.number().int().min(1).default(LOOP_DEFAULTS.worldSize),
  })
  .strict()
  .refine((o) => o.batchSize % o.gradAccum === 0, { message: 'batch size must be a multiple of it', path: ['gradAccum'] })
  .refine((o) => o.batchSize % (o.gradAccum * o.worldSize) === 0, {
    message: 'batch size must be a multiple of grad-accum x world-size (each rank runs grad-accum micro-batches per step)',
    path: ['worldSize'],
  });
export type ResolvedTrainOptions = z.output<typeof trainOptionsSchema>;

export const evalOptionsSchema = z
  .object({
    model: z.string().min(1),
    adapter: z.string().min(1).optional(),
    compare: z.boolean().default(false),
    ...dataFields,
    ...engineFields,
    split: z.enum(['all', 'train', 'val', 'test']).optional(),
    batchSize: z.number().int().positive().default(EVAL_DEFAULTS.batchSize),
    maxNewTokens: z.number().int().positive().default(EVAL_DEFAULTS.maxNewTokens),
    out: z.string().min(1).optional(),
  })
  .strict()
  .refine((o) => !o.compare || o.adapter !== undefined, { message: 'needs an adapter to compare with', path: ['compare'] });
export type ResolvedEvalOptions = z.output<typeof evalOptionsSchema>;

/** createTrainer's options: the optimizer fields of train() plus the steps the schedule spans. */
export const trainerOptionsSchema = z.object({ ...optimizerFields, totalSteps: z.number().int().positive() }).strict();

// Compile-time: the documented interfaces and the schemas accept the same options.
export type SchemasMatchTheirInterfaces = [
  SameShape<TrainOptions, z.input<typeof trainOptionsSchema>>,
  SameShape<EvalOptions, z.input<typeof evalOptionsSchema>>,
  SameShape<TrainerOptions, z.input<typeof trainerOptionsSchema>>,
] extends [true, true, true] ? true : never;
const schemasMatch: SchemasMatchTheirInterfaces = true;
void schemasMatch;
