// sft import: a llama.cpp GGUF file -> a Hugging Face checkpoint folder (config.json,
// model.safetensors, tokenizer files) that every other command, and transformers, load.
import { IMPORT_DEFAULTS } from '../../config/defaults.js';
import type { Command } from 'commander';
import { importGguf } from '../../api/import-gguf.js';
import { ErrorCode, SftError } from '../../errors.js';
import { abortOnInterrupt } from '../interrupt.js';
import { progressView } from '../progress-view.js';

interface ImportFlags {
  gguf: string;
  out: string;
  dtype: string;
  json?: boolean;
}

const DTYPES = ['float32', 'bfloat16', 'float16'] as const;
type Dtype = (typeof DTYPES)[number];

export function registerImport(program: Command): void {
  program
    .command('import')
    .description('convert a GGUF file (llama.cpp) into a Hugging Face checkpoint folder')
    .requiredOption('--gguf <file>', 'the .gguf file (architectures llama, qwen2, qwen3, gemma, gemma2, gemma3; F32/F16/BF16, Q4_0..Q8_0, Q2_K..Q6_K tensors)')
    .requiredOption('--out <dir>', 'folder to write: config.json, generation_config.json, model.safetensors, tokenizer.json, tokenizer_config.json')
    .option('--dtype <dtype>', 'float32, bfloat16 or float16: dtype of the written weights', IMPORT_DEFAULTS.dtype)
    .option('--json', 'print the result as JSON')
    .action(async (flags: ImportFlags) => {
      if (!(DTYPES as readonly string[]).includes(flags.dtype)) {
        throw new SftError(`Expected one of ${DTYPES.join(', ')} for --dtype but received '${flags.dtype}'`, ErrorCode.InvalidArgument);
      }
      const interrupt = abortOnInterrupt(); // stops between tensors
      const view = progressView();
      try {
        const result = await importGguf(flags.gguf, flags.out, {
          dtype: flags.dtype as Dtype,
          signal: interrupt.signal,
          ...(flags.json ? {} : { onProgress: (p) => view({ phase: 'import', file: flags.gguf, ...p }) }),
        });
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(result)}\n`);
        } else {
          const mib = (result.bytes / 2 ** 20).toFixed(1);
          process.stdout.write(
            `wrote ${result.outDir}: ${result.modelType} (GGUF ${result.architecture}), ${result.tensors} tensors in ${result.dtype}, ${mib} MiB\n`,
          );
        }
      } finally {
        interrupt.release();
      }
    });
}
