// The files an `sft` run directory holds, as types: what `sft train` / `sft eval` / `sft demo`
// write and what `sft report` reads. One place, so writers and readers cannot drift.
//
//   RUN_DIR/run.json                 RunRecord (sft train, sft demo)
//   RUN_DIR/log.jsonl                one TrainLogLine per logged optimizer step
//   RUN_DIR/adapter_config.json      the PEFT adapter (+ adapter_model.safetensors)
//   RUN_DIR/eval.json                EvalReport (sft eval --out RUN_DIR, sft demo)
//   RUN_DIR/eval.md                  the same report as markdown
//   RUN_DIR/predictions.jsonl        one PredictionLine per evaluated row and model

/** Rows: true class (in `labels` order). Columns: predicted class (in `labels` order), then one column for invalid outputs. */
export interface ConfusionMatrix {
  labels: string[];
  counts: number[][];
}

export interface EvalMetrics {
  /** Rows evaluated. */
  n: number;
  /** Correct predictions / n (invalid outputs count as wrong). */
  acc: number;
  /** Outputs from which a valid label was parsed / n. */
  resp_acc: number;
  correct: number;
  valid: number;
  confusion: ConfusionMatrix;
  /** Wall time of the generation pass, seconds. */
  seconds: number;
  /** Task 'classify': log loss of the class probabilities (natural log, mean over rows, sklearn's log_loss). */
  log_loss?: number;
  /** Task 'classify': macro F1 of the predicted classes (sklearn's f1_score, average='macro'). */
  macro_f1?: number;
}

/** A data row that was not used, with where it came from and why. */
export interface SkippedRow {
  file: string;
  /** 1-based data row number within that file (the CSV header is row 0). */
  row: number;
  reason: string;
}

export interface EvalReport {
  kind: 'sft-eval';
  /** 'classify': scored by the score head's class probabilities (sft eval --task classify); absent: labels parsed from generated text. */
  task?: 'classify';
  /** What the user passed as --model, and the folder it resolved to. */
  model: string;
  modelDir: string;
  data: string;
  /** Options the evaluation ran with (batch size, max new tokens, template, labels, split, ...). */
  settings: Record<string, unknown>;
  /** Base model without adapter: the before-training numbers (present with no --adapter, or with --compare). */
  base?: EvalMetrics;
  /** With the adapter: the after-training numbers. */
  adapter?: EvalMetrics & { path: string };
  /** Rows of the data that could not be evaluated. */
  skipped_rows: number;
  skipped: SkippedRow[];
  created: string;
}

export interface PredictionLine {
  which: 'base' | 'adapter';
  file: string;
  row: number;
  label: string;
  output: string;
  /** Parsed class, or null when no valid label was found. */
  prediction: string | null;
  correct: boolean;
}

/** One line of predictions.jsonl of sft eval --task classify. */
export interface ClassifyPredictionLine {
  which: 'base' | 'adapter';
  file: string;
  row: number;
  label: string;
  /** The class of highest probability. */
  prediction: string;
  correct: boolean;
  /** Each class of the head with its probability (softmax of the head's logits). */
  probabilities: Record<string, number>;
}

/** One line of log.jsonl: the trainer's StepLog plus the epoch (0-based). */
export interface TrainLogLine {
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokens: number;
  /** Processed (non-padding) tokens; absent in logs written before it existed. */
  inputTokens?: number;
  seconds: number;
  tokensPerSecond: number;
  inputTokensPerSecond?: number;
  peakMemoryGiB?: number;
}

export interface RunRecord {
  kind: 'sft-train';
  /** The full resolved run configuration (every option with its value, defaults included). */
  config: Record<string, unknown>;
  model: { input: string; dir: string; family: string };
  data: { source: string; train: number; val: number; test: number; skipped_rows: number; skipped: SkippedRow[] };
  versions: Record<string, string>;
  started: string;
  finished?: string;
  result?: {
    steps: number;
    finalLoss: number | null;
    trainSeconds: number;
    /** Target tokens per second of step time. */
    tokensPerSecond: number;
    /** Processed (non-padding) tokens per second of step time. */
    inputTokensPerSecond?: number;
    /** Highest per-step peak of CUDA memory (GiB); absent on CPU. */
    peakMemoryGiB?: number;
    val?: EvalMetrics;
    /** The best evaluation during training (--eval-every) by its metric; dir: its checkpoint (--save-best). */
    best?: { metric: string; value: number; step: number; dir?: string };
    /** Early stopping ended the run at `step` after `patience` evaluations without improvement. */
    stoppedEarly?: { step: number; patience: number };
  };
}
