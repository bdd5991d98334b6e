// sft merge: a base checkpoint + a LoRA adapter -> one plain checkpoint folder with the adapter
// merged into the weights (16-bit by default), loadable without peft.
import type { Command } from 'commander';
import { mergeAdapterCheckpoint } from '../../api/merge.js';
import { resolveModelForRun } from '../../api/model-source.js';
import type { MergeDtype } from '../../api/merge-tensors.js';
import { MERGE_DEFAULTS } from '../../config/defaults.js';
import { ErrorCode, SftError } from '../../errors.js';
import { progressView } from '../progress-view.js';

interface MergeFlags {
  model: string;
  adapter: string;
  out: string;
  dtype: string;
  device?: 'cpu' | 'cuda';
  json?: boolean;
}

const DTYPES: readonly MergeDtype[] = ['bfloat16', 'float16', 'float32'];

export function registerMerge(program: Command): void {
  program
    .command('merge')
    .description('merge a LoRA adapter into its base model: a plain checkpoint folder (4-bit bases are dequantized)')
    .requiredOption('--model <name>', "the adapter's base: preset, Hub repo id (org/name), checkpoint folder, .gguf file, or 'demo'")
    .requiredOption('--adapter <dir>', 'peft adapter folder (adapter_config.json + adapter_model.safetensors), e.g. a train run folder')
    .requiredOption('--out <dir>', 'folder to write: model.safetensors, config.json, generation_config.json, tokenizer files')
    .option('--dtype <dtype>', 'bfloat16, float16 or float32: dtype of the merged weights', MERGE_DEFAULTS.dtype)
    .option('--device <device>', 'cpu or cuda: where the base loads and the deltas are computed (default: cuda when available)')
    .option('--json', 'print the result as JSON')
    .action(async (flags: MergeFlags) => {
      if (!(DTYPES as readonly string[]).includes(flags.dtype)) {
        throw new SftError(`Expected one of ${DTYPES.join(', ')} for --dtype but received '${flags.dtype}'`, ErrorCode.InvalidArgument);
      }
      const view = progressView();
      const onProgress = flags.json ? undefined : view;
      const { dir } = await resolveModelForRun(flags.model, onProgress ? { onProgress } : {});
      const result = await mergeAdapterCheckpoint(dir, flags.adapter, flags.out, {
        dtype: flags.dtype as MergeDtype,
        ...(flags.device ? { device: flags.device } : {}),
        ...(onProgress ? { onProgress } : {}),
      });
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(result)}\n`);
      } else {
        const mib = (result.bytes / 2 ** 20).toFixed(1);
        process.stdout.write(`wrote ${result.outDir}: ${result.merged} weights merged, ${result.tensors} tensors in ${result.dtype}, ${mib} MiB\n`);
      }
    });
}
