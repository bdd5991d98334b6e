// The one error class users catch. `code` is stable and machine-readable; the message says
// which input was wrong and what to do. Native errors arrive as instances of this class too
// (src/native.ts hands the constructor to the addon).

export class SftError extends Error {
  readonly code: string;

  constructor(message: string, code: string) {
    super(message);
    this.name = 'SftError';
    this.code = code;
  }
}

/** Error codes raised on the TypeScript side (native codes are listed in native/core/*.h). */
export const ErrorCode = {
  InvalidArgument: 'INVALID_ARGUMENT',
  ConfigInvalid: 'CONFIG_INVALID',
  UnsupportedModel: 'UNSUPPORTED_MODEL',
  FileNotFound: 'FILE_NOT_FOUND',
  /** A data file (csv, jsonl, parquet) that cannot be read as rows: malformed syntax, wrong shape. */
  InvalidData: 'INVALID_DATA',
  TokenizerInvalid: 'TOKENIZER_INVALID',
  ChatTemplate: 'CHAT_TEMPLATE',
  AddonLoad: 'ADDON_LOAD',
  Disposed: 'DISPOSED',
  Aborted: 'ABORTED',
  /** A saved checkpoint (trainer_state.json, its adapter or optimizer file) that is unreadable or inconsistent with the run. */
  CheckpointInvalid: 'CHECKPOINT_INVALID',
  /** An adapter that does not fit the base model: another base, another rank, or target modules the model lacks. */
  AdapterMismatch: 'ADAPTER_MISMATCH',
  /** The disk filled up during a save; the previous file is intact. */
  DiskFull: 'DISK_FULL',
  /** An output path (--out, a run folder, a report file) that cannot be written: checked before any work. */
  OutputNotWritable: 'OUTPUT_NOT_WRITABLE',
  /** A training step's loss was NaN / Inf (onNonfinite 'stop'); the update was not applied. */
  NonFiniteLoss: 'NONFINITE_LOSS',
  /** A training step's gradient norm was NaN / Inf (onNonfinite 'stop'); the update was not applied. */
  NonFiniteGradNorm: 'NONFINITE_GRAD_NORM',
  /** A merged weight (base + adapter delta) is NaN / Inf in the output dtype; the message names the adapter tensors. */
  MergeNonFinite: 'MERGE_NONFINITE',
  /** An error that is not an SftError reached the CLI: a bug in sft (with --json, reported under this code). */
  Internal: 'INTERNAL_ERROR',
} as const;
