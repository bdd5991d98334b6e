// How a failed `sft` command is reported: the exit status, and with --json one object
// {"error": {"code", "message", "hint"}} on stdout instead of text on stderr. The codes, their
// exit statuses and these hints are listed in docs/errors.md (test/unit/errors-table.test.ts
// keeps the two equal).
import { CommanderError } from 'commander';
import { ErrorCode, SftError } from '../errors.js';

export interface ErrorReport {
  code: string;
  message: string;
  hint: string;
}

/** What to do about each code; the message already names the input at fault. */
export const ERROR_HINTS: Readonly<Record<string, string>> = {
  // src/errors.ts
  INVALID_ARGUMENT: 'fix the option or argument the message names; `sft <command> --help` lists the accepted ones',
  CONFIG_INVALID: "fix the field the message names in the model's config.json or in the options",
  UNSUPPORTED_MODEL: 'use a model of a supported family (`sft models` lists the presets)',
  FILE_NOT_FOUND: 'check the path the message names',
  INVALID_DATA: 'fix the row or line the message names in the data file',
  TOKENIZER_INVALID: "replace the model's tokenizer.json / tokenizer_config.json with the ones from its repo",
  CHAT_TEMPLATE: "fix the chat template (tokenizer_config.json's chat_template) or the messages it was given",
  ADDON_LOAD: 'run `sft doctor` to see what is wrong (addon, libtorch, CUDA), then `sft setup` and follow what it says is missing',
  DISPOSED: 'load the model again; a disposed model cannot be used',
  ABORTED: 'the command was stopped; a stopped training run continues with the same command and --resume',
  CHECKPOINT_INVALID: 'resume from another checkpoint, or start the run again in a new --out folder',
  ADAPTER_MISMATCH: 'load the adapter on the base model it was trained for, with its rank and target modules',
  DISK_FULL: 'free some space on the disk the message names and run the command again',
  OUTPUT_NOT_WRITABLE: 'choose an --out in a folder you can write to',
  NONFINITE_LOSS: 'lower --lr or raise --warmup-steps; --on-nonfinite skip steps over such batches',
  NONFINITE_GRAD_NORM: 'lower --lr, set --max-grad-norm, or raise --warmup-steps; --on-nonfinite skip steps over such batches',
  MERGE_NONFINITE: 'merge in a wider --dtype (bfloat16 or float32), or use an adapter checkpoint saved before training diverged',
  INTERNAL_ERROR: 'this is a bug in sft: report it with the message and the command line',
  // src/gguf/errors.ts
  GGUF_INVALID: 'the file is not a whole GGUF file: download it again',
  GGUF_UNSUPPORTED: 'convert another quantization of the model, or use its Hugging Face checkpoint',
  // src/hub/hub-errors.ts
  HUB_AUTH: 'set HF_TOKEN to a token that can read the repo (and accept a gated repo\'s license on its page)',
  HUB_NOT_FOUND: 'check the repo id, revision and file name, or use a preset (`sft models`)',
  HUB_OFFLINE: 'download the model once with HF_HUB_OFFLINE unset, or point HF_HUB_CACHE at a cache that holds it',
  HUB_NETWORK: 'check the network connection or HF_ENDPOINT and try again',
  HUB_INTEGRITY: 'delete the partial download from the Hugging Face cache and run again',
  HUB_TOKEN_MISSING: 'set HF_TOKEN to a token with write access (https://huggingface.co/settings/tokens)',
  HUB_REPO_CONFLICT: 'push to a new `--repo`, or delete those files on the Hub first; a repo holding only an earlier push of the same files is updated',
  // src/train/distributed.ts
  DIST_RANK_FAILED: 'read the failing rank\'s message; run with --world-size 1 to see the failure on its own',
  // native/core and native/addon
  LORA_INVALID: 'check --lora-r, --lora-alpha and --lora-targets, or the adapter files the message names',
  ST_IO: 'check that the safetensors file or folder the message names exists, is readable and that its disk has space',
  ST_HEADER_JSON: 'the safetensors file is damaged: download or save it again',
  ST_HEADER_LENGTH: 'the safetensors file is truncated or not a safetensors file: download or save it again',
  ST_INDEX: "fix or download again the checkpoint's model.safetensors.index.json",
  ST_OUT_OF_RANGE: 'the safetensors file is truncated or damaged: download or save it again',
  ST_DTYPE: 'the tensor has a dtype the engine does not read: convert the checkpoint to F32, F16, BF16 or a bitsandbytes 4-bit export',
  ST_SHAPE: 'the safetensors file is damaged: download or save it again',
  ST_MISSING: 'the checkpoint lacks a tensor the model needs: download it again or check that it belongs to this model',
  ST_SIZE_MISMATCH: 'the safetensors file is damaged: download or save it again',
  ST_HOLE: 'the safetensors file is damaged: download or save it again',
  ST_OVERLAP: 'the safetensors file is damaged: download or save it again',
  WEIGHT_MISSING: "the checkpoint lacks a weight its config.json needs: check that the files belong to one model",
  WEIGHT_SHAPE: "a weight's shape disagrees with config.json: check that the files belong to one model",
  QUANT_INVALID: "the checkpoint's quantization_config or 4-bit tensors are inconsistent: download it again or quantize it again with `sft quantize`",
  JSON_INVALID: 'fix the JSON file the message names',
  JSON_TYPE: 'fix the field the message names in the JSON file',
  CUDA_UNAVAILABLE: 'run on the CPU (--device cpu), or install a CUDA build of libtorch and `sft setup`',
  OUT_OF_MEMORY: 'lower --batch-size or --max-seq-len, use a smaller model, or free memory on the device',
  TORCH_ERROR: 'a libtorch operation failed: check the inputs the message names; report it if they are valid',
  NATIVE_ERROR: 'the engine failed unexpectedly: report it with the message and the command line',
  NO_GRADIENTS: 'run trainStep on a batch with at least one labelled token before optimizerStep (the rows\' responses may be cut off: check --max-seq-len)',
  WEIGHT_NONFINITE: 'the tensor the message names holds NaN or Inf: load in a wider --dtype, or use a checkpoint saved before training diverged',
  NONFINITE_LOGITS: 'the model computed NaN or Inf: check its weights (a diverged adapter?) or use a wider --dtype',
  DIST_INIT: 'data-parallel processes could not connect: check that the GPUs are visible and the port is free, or use --world-size 1',
  DIST_UNAVAILABLE: 'this libtorch has no distributed backend for the device: use --world-size 1',
  DIST_NOT_INITIALIZED: 'a bug in the data-parallel setup: report it, and use --world-size 1 meanwhile',
  DIST_COLLECTIVE: 'a data-parallel process failed or went away: read the other ranks\' messages and run again',
  DIST_ABORTED: 'another data-parallel process stopped the run: read its message',
};

const FALLBACK_HINT = 'the message says which input is at fault; docs/errors.md describes every code';

/** Whether the command line asks for JSON (`--json` before a `--` that ends the options). */
export function wantsJson(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).includes('--json');
}

/** The command named on the command line, for a usage hint (`sft train --help`). */
function commandName(args: readonly string[], names: readonly string[]): string | undefined {
  return args.find((a) => names.includes(a));
}

/** The report of a failure: its code, its message and what to do. */
export function errorReport(err: unknown, args: readonly string[] = [], commandNames: readonly string[] = []): ErrorReport {
  if (err instanceof CommanderError) {
    const name = commandName(args, commandNames);
    return {
      code: ErrorCode.InvalidArgument,
      message: err.code === 'commander.help' ? 'no command given' : err.message.replace(/^error: /, ''),
      hint: `run \`sft ${name ? `${name} ` : ''}--help\` for the accepted ${name ? 'options' : 'commands'}`,
    };
  }
  if (err instanceof SftError) return { code: err.code, message: err.message, hint: ERROR_HINTS[err.code] ?? FALLBACK_HINT };
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  return { code: ErrorCode.Internal, message: `unexpected error: ${message}`, hint: ERROR_HINTS[ErrorCode.Internal] as string };
}

/** The one line --json prints for a failure. */
export function jsonErrorLine(report: ErrorReport): string {
  return `${JSON.stringify({ error: report })}\n`;
}

/** Commander's own outcomes that are not failures (help and version asked for). */
export function isCommanderSuccess(err: unknown): boolean {
  return err instanceof CommanderError && err.exitCode === 0;
}
