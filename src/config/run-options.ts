// Options of the seed's job (train, eval, createTrainer), as zod schemas: one gate for the CLI
// and the API. Defaults come from config/defaults.ts, the one place they are defined; what
// each option means is documented once, on the interfaces users see (option-types.ts), which
// the SameShape checks below hold equal to these schemas. Every failure names the option and
// what it accepts (config/parse-options.ts).
import { z } from 'zod';
import { CLASSIFY_DEFAULTS as CL, DATA_DEFAULTS as D, EVAL_DEFAULTS, LOOP_DEFAULTS, LORA_DEFAULTS, OPTIMIZER_DEFAULTS as O } from './defaults.js';
import type { EvalOptions, TrainerOptions, TrainOptions } from './option-types.js';
import { numberIn, OPTION_RANGES as R } from './option-ranges.js';
import type { SameShape } from './same-shape.js';
import { DATA_FORMATS } from '../data/instruction-example.js';
import { BEST_METRICS } from '../train/early-stopping.js';

export type { EvalOptions, TrainerOptions, TrainOptions };

const LORA_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj', 'qkv_proj', 'gate_up_proj'] as const;
const dataFields = {
  data: z.string().min(1),
  textColumn: z.string().min(1).default(D.textColumn),
  labelColumn: z.string().min(1).default(D.labelColumn),
  labelMap: z.string().min(1).default(D.labelMap),
  format: z.enum(DATA_FORMATS).optional(),
  template: z.string().min(1).default(D.template),
  chat: z.boolean().default(D.chat),
  maxSeqLen: numberIn(R.maxSeqLen).default(D.maxSeqLen),
  valSplit: numberIn(R.valSplit).default(D.valSplit),
  testSplit: numberIn(R.valSplit).default(D.testSplit),
  limit: numberIn(R.limit).optional(),
  seed: numberIn(R.seed).default(D.seed),
  folds: numberIn(R.folds).optional(),
  fold: numberIn(R.fold).optional(),
};
/** --fold names one of --folds' folds. */
const foldWithinFolds = {
  check: (o: { folds?: number | undefined; fold?: number | undefined }) => (o.fold === undefined ? true : o.folds !== undefined && o.fold < o.folds),
  message: { message: 'needs --folds N with fold < N (the held-out fold, 0-based)', path: ['fold'] },
};

const engineFields = {
  device: z.enum(['cpu', 'cuda']).optional(),
  dtype: z.enum(['float32', 'bfloat16', 'float16']).optional(),
  quant: z.enum(['none', 'nf4', 'fp4']).optional(),
};
export const optimizerFields = {
  lr: numberIn(R.lr).default(O.lr),
  schedule: z.enum(['linear', 'cosine', 'constant', 'constant_with_warmup']).default(O.schedule),
  warmupSteps: numberIn(R.warmupSteps).default(O.warmupSteps),
  weightDecay: numberIn(R.weightDecay).default(O.weightDecay),
  beta1: z.number().min(0).lt(1).default(O.beta1),
  beta2: z.number().min(0).lt(1).default(O.beta2),
  eps: numberIn(R.eps).default(O.eps),
  maxGradNorm: numberIn(R.maxGradNorm).default(O.maxGradNorm),
  gradientCheckpointing: z.boolean().default(O.gradientCheckpointing),
  onNonfinite: z.enum(['stop', 'skip']).default(O.onNonfinite),
};

/** The optional losses of classification training (option-types.ts ClassifyLossOptions). */
export const classifyLossFields = {
  rdropAlpha: numberIn(R.rdropAlpha).default(CL.rdropAlpha),
  supconWeight: numberIn(R.supconWeight).default(CL.supconWeight),
  supconTemperature: numberIn(R.supconTemperature).default(CL.supconTemperature),
};

export const trainOptionsSchema = z
  .object({
    model: z.string().min(1),
    task: z.enum(['generate', 'classify']).default(CL.task),
    numLabels: numberIn(R.numLabels).optional(),
    freezeLayers: z.number().int().min(0).default(0),
    ...classifyLossFields,
    ...dataFields,
    ...engineFields,
    out: z.string().min(1),
    loraR: numberIn(R.loraR).default(LORA_DEFAULTS.r),
    loraAlpha: numberIn(R.loraAlpha).default(LORA_DEFAULTS.alpha),
    loraDropout: z.number().min(0).lt(1).default(LORA_DEFAULTS.dropout),
    loraTargets: z.array(z.enum(LORA_TARGETS)).nonempty().optional(),
    useRslora: z.boolean().default(LORA_DEFAULTS.useRslora),
    ...optimizerFields,
    batchSize: numberIn(R.batchSize).default(LOOP_DEFAULTS.batchSize),
    autoBatch: z.boolean().default(false),
    gradAccum: numberIn(R.gradAccum).default(LOOP_DEFAULTS.gradAccum),
    epochs: numberIn(R.epochs).default(LOOP_DEFAULTS.epochs),
    maxSteps: numberIn(R.steps).optional(),
    logEvery: numberIn(R.steps).default(LOOP_DEFAULTS.logEvery),
    saveEvery: numberIn(R.steps).optional(),
    resume: z.union([z.boolean(), z.string().min(1)]).default(false),
    reportTo: z.enum(['none', 'tensorboard']).optional(),
    worldSize: numberIn(R.worldSize).default(LOOP_DEFAULTS.worldSize),
    evalEvery: numberIn(R.steps).optional(),
    saveBest: z.boolean().default(false),
    bestMetric: z.enum(BEST_METRICS).default(LOOP_DEFAULTS.bestMetric),
    earlyStoppingPatience: numberIn(R.steps).optional(),
  })
  .strict()
  .refine((o) => !o.autoBatch || o.worldSize === 1, {
    message: 'batch size auto plans one process; with --world-size > 1 run sft plan --world-size N and pass --batch-size and --grad-accum',
    path: ['batchSize'],
  })
  .refine((o) => o.evalEvery === undefined || o.worldSize === 1, {
    message: 'evaluation during training runs in one process; with --world-size > 1 evaluate the checkpoints afterwards (sft eval --adapter OUT/checkpoints/step-N)',
    path: ['evalEvery'],
  })
  .refine((o) => o.evalEvery !== undefined || (!o.saveBest && o.earlyStoppingPatience === undefined), {
    message: 'needs --eval-every N (save-best and early stopping rank the evaluations run during training)',
    path: ['evalEvery'],
  })
  .refine(foldWithinFolds.check, foldWithinFolds.message)
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
    task: z.enum(['generate', 'classify']).default(CL.task),
    numLabels: numberIn(R.numLabels).optional(),
    ...dataFields,
    ...engineFields,
    split: z.enum(['all', 'train', 'val', 'test']).optional(),
    batchSize: numberIn(R.batchSize).default(EVAL_DEFAULTS.batchSize),
    autoBatch: z.boolean().default(false),
    maxNewTokens: numberIn(R.maxNewTokens).default(EVAL_DEFAULTS.maxNewTokens),
    out: z.string().min(1).optional(),
  })
  .strict()
  .refine(foldWithinFolds.check, foldWithinFolds.message)
  .refine((o) => !o.compare || o.adapter !== undefined, { message: 'needs an adapter to compare with', path: ['compare'] });
export type ResolvedEvalOptions = z.output<typeof evalOptionsSchema>;

/** createTrainer's options: the optimizer fields of train() plus the steps the schedule spans. */
export const trainerOptionsSchema = z.object({ ...optimizerFields, ...classifyLossFields, totalSteps: numberIn(R.steps) }).strict();

// Compile-time: the documented interfaces and the schemas accept the same options.
export type SchemasMatchTheirInterfaces = [
  SameShape<TrainOptions, z.input<typeof trainOptionsSchema>>,
  SameShape<EvalOptions, z.input<typeof evalOptionsSchema>>,
  SameShape<TrainerOptions, z.input<typeof trainerOptionsSchema>>,
] extends [true, true, true] ? true : never;
const schemasMatch: SchemasMatchTheirInterfaces = true;
void schemasMatch;
