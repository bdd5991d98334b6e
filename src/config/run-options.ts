// Options of the seed's job (train, eval), as zod schemas: one gate for the CLI and the API.
// Defaults come from config/defaults.ts (the seed experiment's recipe), the one place they are
// defined. Every failure names the option and what it accepts (see config/parse-options.ts).
import { z } from 'zod';
import { DATA_DEFAULTS as D, EVAL_DEFAULTS, LOOP_DEFAULTS, LORA_DEFAULTS, OPTIMIZER_DEFAULTS as O } from './defaults.js';

const LORA_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj', 'qkv_proj', 'gate_up_proj'] as const;

/** Where the data is and how a row becomes (text, label). Shared by train and eval. */
const dataFields = {
  /** A csv / jsonl / parquet file (optionally .gz), a directory of them, or 'demo'. */
  data: z.string().min(1),
  /** Column holding the input text. Default 'review' (the IMDB CSV). */
  textColumn: z.string().min(1).default(D.textColumn),
  /** Column holding the label. Default 'sentiment'. */
  labelColumn: z.string().min(1).default(D.labelColumn),
  /** Data label = answer the model writes, comma-separated. Default the seed's 'positive=1,negative=0'. */
  labelMap: z.string().min(1).default(D.labelMap),
  /** Builtin prompt template name ('imdb', the seed's; 'demo') or a file with one {text} placeholder. */
  template: z.string().min(1).default(D.template),
  /** Wrap the prompt in the model's chat template as a user turn (Qwen3: thinking off). */
  chat: z.boolean().default(D.chat),
  /** Longest example in tokens; the input text is cut to fit, never the instruction or the answer. */
  maxSeqLen: z.number().int().min(8).default(D.maxSeqLen),
  /** Rows held out for validation / test after the seeded shuffle: a fraction in [0, 1) or a row count >= 1. */
  valSplit: z.number().min(0).default(D.valSplit),
  testSplit: z.number().min(0).default(D.testSplit),
  /** Use at most this many rows (taken after the seeded shuffle). */
  limit: z.number().int().positive().optional(),
  /** Seed of the data shuffle, the LoRA init and dropout. Default 3407 (the seed's). */
  seed: z.number().int().min(0).default(D.seed),
};

const engineFields = {
  device: z.enum(['cpu', 'cuda']).optional(),
  dtype: z.enum(['float32', 'bfloat16', 'float16']).optional(),
  /** 4-bit base weights: nf4 (default on CUDA) or fp4; 'none' keeps 16-bit (default on CPU). */
  quant: z.enum(['none', 'nf4', 'fp4']).optional(),
};

/** AdamW, the learning-rate schedule and checkpointing: train()'s and createTrainer's, one definition. */
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
};

export const trainOptionsSchema = z
  .object({
    /** Preset name, Hub repo id, local checkpoint folder, or 'demo'. */
    model: z.string().min(1),
    ...dataFields,
    ...engineFields,
    /** Output folder: adapter, run.json, log.jsonl, checkpoints/. */
    out: z.string().min(1),
    loraR: z.number().int().positive().default(LORA_DEFAULTS.r),
    loraAlpha: z.number().positive().default(LORA_DEFAULTS.alpha),
    loraDropout: z.number().min(0).lt(1).default(LORA_DEFAULTS.dropout),
    /** Default q_proj, k_proj, v_proj (Phi-3: qkv_proj). */
    loraTargets: z.array(z.enum(LORA_TARGETS)).nonempty().optional(),
    useRslora: z.boolean().default(LORA_DEFAULTS.useRslora),
    ...optimizerFields,
    /** Rows per optimizer step (micro-batch x accumulation). Default 16. */
    batchSize: z.number().int().positive().default(LOOP_DEFAULTS.batchSize),
    /** Micro-batches per optimizer step; batchSize must divide evenly. Default 1. */
    gradAccum: z.number().int().positive().default(LOOP_DEFAULTS.gradAccum),
    epochs: z.number().int().positive().default(LOOP_DEFAULTS.epochs),
    /** Stop after this many optimizer steps (the schedule spans them). */
    maxSteps: z.number().int().positive().optional(),
    logEvery: z.number().int().positive().default(LOOP_DEFAULTS.logEvery),
    /** Also checkpoint every N steps (always at each epoch's end). */
    saveEvery: z.number().int().positive().optional(),
    /** Continue from the newest checkpoint in out/checkpoints (or a given checkpoint folder). */
    resume: z.union([z.boolean(), z.string().min(1)]).default(false),
    /** Data-parallel processes (one per GPU on CUDA); batchSize stays the rows of one optimizer step. Default 1. */
    worldSize: z.number().int().min(1).default(LOOP_DEFAULTS.worldSize),
  })
  .strict()
  .refine((o) => o.batchSize % o.gradAccum === 0, { message: 'batch size must be a multiple of it', path: ['gradAccum'] })
  .refine((o) => o.batchSize % (o.gradAccum * o.worldSize) === 0, {
    message: 'batch size must be a multiple of grad-accum x world-size (each rank runs grad-accum micro-batches per step)',
    path: ['worldSize'],
  });
export type TrainOptions = z.input<typeof trainOptionsSchema>;
export type ResolvedTrainOptions = z.output<typeof trainOptionsSchema>;

export const evalOptionsSchema = z
  .object({
    model: z.string().min(1),
    /** A PEFT adapter folder (e.g. a `sft train` --out). None: the base model, i.e. the before-training numbers. */
    adapter: z.string().min(1).optional(),
    /** Evaluate the base model and the adapter in one run (the seed's before/after table). */
    compare: z.boolean().default(false),
    ...dataFields,
    ...engineFields,
    /** Which part of the seeded split to evaluate: default 'test' when testSplit > 0, else 'all'. */
    split: z.enum(['all', 'train', 'val', 'test']).optional(),
    batchSize: z.number().int().positive().default(EVAL_DEFAULTS.batchSize),
    maxNewTokens: z.number().int().positive().default(EVAL_DEFAULTS.maxNewTokens),
    /** Write eval.json, eval.md and predictions.jsonl here. */
    out: z.string().min(1).optional(),
  })
  .strict()
  .refine((o) => !o.compare || o.adapter !== undefined, { message: 'needs an adapter to compare with', path: ['compare'] });
export type EvalOptions = z.input<typeof evalOptionsSchema>;
export type ResolvedEvalOptions = z.output<typeof evalOptionsSchema>;
