// Every recipe default, defined once. The zod schemas of train(), evaluate(), createTrainer,
// generateText and runDemo read their defaults from here, the CLI's flags take theirs from the
// same constants, and test/unit/defaults.test.ts checks that the README's table says the same.
// The native engine has no defaults of its own for these: it takes each value as an argument.
//
// The seed experiment's recipe (IMDB sentiment, QLoRA): r 16 / alpha 32 on q, k, v, AdamW
// lr 2e-5 with 100 warmup steps and a linear decay, weight decay 0.01, batch 16, 3 epochs,
// max_seq_length 2048, seed 3407; its eval generates 3 greedy tokens per prompt.

/** Modules that get LoRA adapters unless told otherwise (the seed's q, k, v). */
export const DEFAULT_LORA_TARGETS = ['q_proj', 'k_proj', 'v_proj'] as const;
/** The same for models with a fused q/k/v projection (Phi-3). */
export const DEFAULT_FUSED_LORA_TARGETS = ['qkv_proj'] as const;

/** Where the data is and how a row becomes a prompt (train and eval). */
export const DATA_DEFAULTS = {
  textColumn: 'review',
  labelColumn: 'sentiment',
  labelMap: 'positive=1,negative=0',
  template: 'imdb',
  chat: false,
  maxSeqLen: 2048,
  valSplit: 0,
  testSplit: 0,
  seed: 3407,
} as const;

/** The LoRA adapter (train(), model.addLora()). */
export const LORA_DEFAULTS = {
  r: 16,
  alpha: 32,
  dropout: 0,
  useRslora: false,
  /** Seed of lora_A's init and of the dropout masks. */
  seed: DATA_DEFAULTS.seed,
} as const;

/** AdamW and the learning-rate schedule (train(), createTrainer). */
export const OPTIMIZER_DEFAULTS = {
  lr: 2e-5,
  schedule: 'linear',
  warmupSteps: 100,
  weightDecay: 0.01,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  maxGradNorm: 1,
  gradientCheckpointing: true,
  /** A NaN / Inf loss or gradient norm stops the run (the alternative, 'skip', drops that step's update). */
  onNonfinite: 'stop',
} as const;

/**
 * Sequence-classification mode (train() / createTrainer with task 'classify'): the optional
 * losses of the seeds' classifiers are off unless asked for; SupCon's temperature is the seed's.
 */
export const CLASSIFY_DEFAULTS = {
  task: 'generate',
  /** R-Drop: weight of the symmetric KL between two dropout passes (0: one pass, plain cross-entropy). */
  rdropAlpha: 0,
  /** Supervised contrastive loss: total = (1 - w) x CE + w x SupCon (0: off). */
  supconWeight: 0,
  supconTemperature: 0.07,
} as const;

/** The training loop (train(), runTraining). */
export const LOOP_DEFAULTS = {
  batchSize: 16,
  gradAccum: 1,
  epochs: 3,
  logEvery: 1,
  worldSize: 1,
  /** What --save-best and early stopping rank by: the one figure every task has. */
  bestMetric: 'eval_loss',
} as const;

/** The seed's scoring (evaluate(), and the validation pass after train()). */
export const EVAL_DEFAULTS = {
  batchSize: 16,
  /** The seed's eval reads the label from the first few tokens. */
  maxNewTokens: 3,
} as const;

/** Open-ended generation (generateText, `sft generate`, model.generate). */
export const GENERATE_DEFAULTS = {
  maxNewTokens: 32,
  minNewTokens: 0,
  /** Seeds sampling (temperature / top-k / top-p); greedy decoding uses none. */
  seed: 0,
} as const;

/**
 * The bundled demo (runDemo, `sft demo`): the seed's recipe except where a 1M-parameter model
 * needs other values; run.json records that it differs.
 */
export const DEMO_DEFAULTS = {
  out: 'runs/demo',
  epochs: 1,
  lr: 1e-3,
  warmupSteps: 10,
  batchSize: 16,
  evalBatchSize: 64,
  seed: DATA_DEFAULTS.seed,
} as const;

/**
 * 4-bit storage, bitsandbytes' own defaults for load_in_4bit: `sft quantize` /
 * quantizeCheckpoint, and loadModel's quantization on load (doubleQuant, blocksize).
 */
export const QUANTIZE_DEFAULTS = {
  quant: 'nf4',
  doubleQuant: true,
  /** Elements per absmax block (bitsandbytes fixes 64 for 4-bit; not a user option). */
  blocksize: 64,
  device: 'cpu',
} as const;

/** `sft import` / importGguf: bfloat16 is what CUDA computes in (float32 keeps every dequantized value exactly). */
export const IMPORT_DEFAULTS = {
  dtype: 'bfloat16',
} as const;

/** sft merge / mergeAdapterCheckpoint(): the merged checkpoint's dtype. */
export const MERGE_DEFAULTS = {
  dtype: 'bfloat16',
} as const;

/** sft export / exportGguf(): GGUF tensor types (f16: matrices in float16, as llama.cpp's converter writes). */
export const EXPORT_DEFAULTS = {
  format: 'gguf',
  quant: 'f16',
} as const;
