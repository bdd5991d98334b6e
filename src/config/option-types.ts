// The option objects of train(), evaluate() and createTrainer as users see them: plain
// interfaces whose doc comments carry each option's default (`@default`), since the types zod
// infers lose every comment in the emitted .d.ts. Each interface is checked against its zod
// schema at compile time (run-options.ts, SameKeysAndTypes) and its @default tags against the
// schema's defaults by test/unit/option-docs.test.ts, so neither can drift from the schema.

/** Linear modules a LoRA adapter can wrap. */
export type LoraTarget = 'q_proj' | 'k_proj' | 'v_proj' | 'o_proj' | 'gate_proj' | 'up_proj' | 'down_proj' | 'qkv_proj' | 'gate_up_proj';
export type ScheduleName = 'linear' | 'cosine' | 'constant' | 'constant_with_warmup';

/** Where the data is and how a row becomes a prompt; shared by train() and evaluate(). */
export interface DataOptions {
  /**
   * A .csv / .tsv / .jsonl / .json / .parquet file (the text formats also gzipped), a folder of
   * them (read in name order), or 'demo' (the bundled synthetic reviews).
   */
  data: string;
  /** Column holding the input text (the IMDB CSV's). @default 'review' */
  textColumn?: string;
  /** Column holding the label. @default 'sentiment' */
  labelColumn?: string;
  /** Data label = the answer the model writes, comma-separated pairs (the seed's). @default 'positive=1,negative=0' */
  labelMap?: string;
  /**
   * The rows' format: 'label' (text + label columns), 'alpaca' (instruction, input, output),
   * 'sharegpt' (conversations), 'messages' (chat messages) or 'prompt-completion'.
   * @default detected from the columns (label rows when the label column exists)
   */
  format?: 'label' | 'alpaca' | 'sharegpt' | 'messages' | 'prompt-completion';
  /**
   * Builtin prompt template ('imdb', the seed's; 'demo') or a file with one {text} placeholder;
   * for instruction data the builtin 'alpaca' or a file with named placeholders ({instruction},
   * {input}, {output}, any column), and the label default 'imdb' stands for 'alpaca'.
   * @default 'imdb'
   */
  template?: string;
  /** Wrap the prompt in the model's chat template as a user turn (Qwen3: thinking off). @default false */
  chat?: boolean;
  /** Longest example in tokens; the input text is cut to fit, never the instruction or the answer. @default 2048 */
  maxSeqLen?: number;
  /** Rows held out for validation after the seeded shuffle: a fraction in [0, 1) or a row count >= 1. @default 0 */
  valSplit?: number;
  /** Rows held out for testing, as valSplit. @default 0 */
  testSplit?: number;
  /** Use at most this many rows (taken after the seeded shuffle). @default all rows */
  limit?: number;
  /** Seed of the data shuffle, the LoRA init and dropout (the seed's). @default 3407 */
  seed?: number;
  /**
   * Stratified k-fold: the rows left after the test split go into this many folds, each class
   * spread evenly (scikit-learn's StratifiedKFold allocation, our seeded shuffle); the fold
   * `fold` is the validation split. Label rows only; not with valSplit. @default none (no folds)
   */
  folds?: number;
  /** The held-out fold of `folds`, 0-based. @default 0 (with folds) */
  fold?: number;
}

/** Where the model runs and how its base weights are stored. */
export interface EngineOptions {
  /** @default 'cuda' when this build has CUDA and a GPU is visible, else 'cpu' */
  device?: 'cpu' | 'cuda';
  /** Compute dtype. @default 'float32' on CPU, 'bfloat16' on CUDA */
  dtype?: 'float32' | 'bfloat16' | 'float16';
  /**
   * 4-bit base weights (nf4 or fp4; bnb-4bit checkpoints load as stored) or 'none' (16-bit).
   * @default 'nf4' on CUDA, 'none' on CPU
   */
  quant?: 'none' | 'nf4' | 'fp4';
}

/** AdamW and the learning-rate schedule (transformers' schedules), as the seed ran them. */
export interface OptimizerOptions {
  /** Peak learning rate. @default 2e-5 */
  lr?: number;
  /** Learning-rate schedule after warmup. @default 'linear' */
  schedule?: ScheduleName;
  /** Steps of linear warmup from 0 to lr. @default 100 */
  warmupSteps?: number;
  /** AdamW decoupled weight decay. @default 0.01 */
  weightDecay?: number;
  /** @default 0.9 */
  beta1?: number;
  /** @default 0.999 */
  beta2?: number;
  /** @default 1e-8 */
  eps?: number;
  /** Clip the gradient to this global norm; 0 turns clipping off. @default 1 */
  maxGradNorm?: number;
  /** Recompute each decoder layer in backward instead of keeping its activations (less memory). @default true */
  gradientCheckpointing?: boolean;
  /**
   * A NaN / Inf loss or gradient norm: 'stop' fails with NONFINITE_LOSS / NONFINITE_GRAD_NORM
   * naming the step, the lr and the last finite loss; 'skip' drops that step's update (the
   * adapter and optimizer state stay as they were) and counts it in the log (skippedSteps).
   * Either way the non-finite update is never applied. @default 'stop'
   */
  onNonfinite?: 'stop' | 'skip';
}

/**
 * The optional losses of sequence-classification training (a model loaded with task
 * 'classify'); ignored by generation-mode training. Per row, averaged over the rows of a step:
 * CE = cross-entropy of the score head's logits at the row's last token;
 * R-Drop = the row runs twice with independent LoRA dropout: (CE1 + CE2) / 2 + rdropAlpha x
 * (KL(P1 || P2) + KL(P2 || P1)) / 2 (the R-Drop paper's; it needs loraDropout > 0 to differ from CE);
 * SupCon = supervised contrastive loss (Khosla et al.) over the L2-normalized pooled features of
 * the rows of one micro-batch: total = (1 - supconWeight) x CE + supconWeight x SupCon.
 */
export interface ClassifyLossOptions {
  /** R-Drop weight of the symmetric KL between two dropout passes; 0 runs one pass. @default 0 */
  rdropAlpha?: number;
  /** Weight of the supervised contrastive loss, in [0, 1]; 0 turns it off. @default 0 */
  supconWeight?: number;
  /** Temperature of the supervised contrastive loss (the seed's). @default 0.07 */
  supconTemperature?: number;
}

/** createTrainer(model, options). */
export interface TrainerOptions extends OptimizerOptions, ClassifyLossOptions {
  /** Optimizer steps the schedule spans. */
  totalSteps: number;
}

/** train(options): the seed's QLoRA SFT job (`sft train`). */
export interface TrainOptions extends DataOptions, EngineOptions, OptimizerOptions, ClassifyLossOptions {
  /** Preset name (`sft models`), Hub repo id (org/name), local checkpoint folder, a .gguf file, or 'demo'. */
  model: string;
  /**
   * 'generate': the model writes the label as text (the IMDB seed). 'classify': a score head
   * reads the last token and the loss is cross-entropy over numLabels classes (peft SEQ_CLS
   * adapters). @default 'generate'
   */
  task?: 'generate' | 'classify';
  /** Classes of the score head (task 'classify'). @default the label map's size */
  numLabels?: number;
  /** No LoRA adapters on the first N decoder layers (peft's layers_to_transform = N and up). @default 0 */
  freezeLayers?: number;
  /** Run folder: adapter (PEFT format), run.json, log.jsonl, checkpoints/. */
  out: string;
  /** LoRA rank. @default 16 */
  loraR?: number;
  /** lora_alpha; scaling = alpha / r (alpha / sqrt(r) with useRslora). @default 32 */
  loraAlpha?: number;
  /** Dropout on the adapter's input while training. @default 0 */
  loraDropout?: number;
  /** Linear modules that get adapters. @default ['q_proj', 'k_proj', 'v_proj'] (Phi-3: ['qkv_proj']) */
  loraTargets?: LoraTarget[];
  /** Scale by alpha / sqrt(r) (rsLoRA) instead of alpha / r. @default false */
  useRslora?: boolean;
  /** Rows per optimizer step (micro-batch x gradAccum x worldSize). @default 16 */
  batchSize?: number;
  /** Pick the largest micro-batch that fits the free memory (api/plan.ts) and the gradAccum that keeps batchSize rows per step; the plan is reported before training. @default false */
  autoBatch?: boolean;
  /** Micro-batches per optimizer step; batchSize must divide by it. @default 1 */
  gradAccum?: number;
  /** Passes over the training rows. @default 3 */
  epochs?: number;
  /** Stop after this many optimizer steps (the schedule spans them). @default epochs x steps per epoch */
  maxSteps?: number;
  /** Log every N steps (and the last). @default 1 */
  logEvery?: number;
  /** Also checkpoint every N steps. @default only at each epoch's end */
  saveEvery?: number;
  /** Continue from the newest checkpoint in out/checkpoints (true) or from the checkpoint folder given. @default false */
  resume?: boolean | string;
  /** 'tensorboard': also write the logged steps and the validation metrics as TensorBoard event files to out/tensorboard. @default none */
  reportTo?: 'none' | 'tensorboard';
  /** Data-parallel processes on this host (one per GPU on CUDA); batchSize stays the rows of one step. @default 1 */
  worldSize?: number;
  /** Validation loss (and acc / resp_acc for label rows) on the val split every N optimizer steps and at the last, into log.jsonl. Needs valSplit > 0. @default none */
  evalEvery?: number;
  /** Keep the checkpoint of the best evaluation (by bestMetric) in out/best. Needs evalEvery. @default false */
  saveBest?: boolean;
  /** What ranks evaluations: eval_loss (lower is better), acc or resp_acc (higher is better; label rows only). @default 'eval_loss' */
  bestMetric?: 'eval_loss' | 'acc' | 'resp_acc';
  /** Stop after this many evaluations in a row without a better bestMetric. Needs evalEvery. @default none (never stop early) */
  earlyStoppingPatience?: number;
}

/** evaluate(options): the seed's scoring (`sft eval`). */
export interface EvalOptions extends DataOptions, EngineOptions {
  /** Preset name, Hub repo id, local checkpoint folder, a .gguf file, or 'demo'. */
  model: string;
  /** A PEFT adapter folder (e.g. a train() out). @default none: the base model, the before-training numbers */
  adapter?: string;
  /** Score the base model and the adapter in one run (the seed's before/after table). @default false */
  compare?: boolean;
  /**
   * 'generate': the model writes the answer as text (labels parsed from it). 'classify': the
   * score head's class probabilities (accuracy, log loss, macro F1); the adapter must be a
   * SEQ_CLS one. @default 'generate'
   */
  task?: 'generate' | 'classify';
  /** Classes of the score head (task 'classify'). @default the adapter's head size, else the label map's size */
  numLabels?: number;
  /** Which part of the seeded split to score. @default 'test' when testSplit > 0, else 'all' */
  split?: 'all' | 'train' | 'val' | 'test';
  /** Prompts per generation batch. @default 16 */
  batchSize?: number;
  /** Pick the largest generation batch that fits the free memory (weights, KV cache, prefill) instead of batchSize. @default false */
  autoBatch?: boolean;
  /** Greedy tokens generated per prompt; the label is parsed from them. @default 3 */
  maxNewTokens?: number;
  /** Write eval.json, eval.md and predictions.jsonl here. @default no files */
  out?: string;
}
