// sft export: a checkpoint (optionally with a LoRA adapter merged in) as one GGUF file for
// llama.cpp / Ollama, written in TypeScript (no llama.cpp build needed).
import type { Command } from 'commander';
import { exportGguf } from '../../api/export-gguf.js';
import { resolveModelForRun } from '../../api/model-source.js';
import { EXPORT_DEFAULTS } from '../../config/defaults.js';
import { ErrorCode, SftError } from '../../errors.js';
import { EXPORT_QUANTS, type ExportQuant } from '../../gguf/export/tensor-plan.js';
import { abortOnInterrupt } from '../interrupt.js';
import { progressView } from '../progress-view.js';

interface ExportFlags {
  model: string;
  adapter?: string;
  format: string;
  quant: string;
  out: string;
  device?: 'cpu' | 'cuda';
  name?: string;
  json?: boolean;
}

export function registerExport(program: Command): void {
  program
    .command('export')
    .description('write a model (with its LoRA adapter merged in) as a GGUF file for llama.cpp and Ollama')
    .requiredOption('--model <name>', "base model: preset, Hub repo id (org/name), checkpoint folder, .gguf file, or 'demo'")
    .option('--adapter <dir>', 'peft adapter folder to merge first (a train run folder)')
    .option('--format <format>', 'output format (gguf)', EXPORT_DEFAULTS.format)
    .option('--quant <type>', `tensor types: ${EXPORT_QUANTS.join(', ')} (norms stay F32)`, EXPORT_DEFAULTS.quant)
    .requiredOption('--out <file>', 'the .gguf file to write')
    .option('--device <device>', 'cpu or cuda: where the merge runs (default: cuda when available)')
    .option('--name <text>', "general.name in the file (default: the model folder's name)")
    .option('--json', 'print the result as JSON')
    .action(async (flags: ExportFlags) => {
      if (flags.format !== 'gguf') throw new SftError(`Expected gguf for --format but received '${flags.format}'`, ErrorCode.InvalidArgument);
      if (!(EXPORT_QUANTS as readonly string[]).includes(flags.quant)) {
        throw new SftError(`Expected one of ${EXPORT_QUANTS.join(', ')} for --quant but received '${flags.quant}'`, ErrorCode.InvalidArgument);
      }
      const interrupt = abortOnInterrupt(); // stops between tensors, leaving no file
      const view = progressView();
      const onProgress = flags.json ? undefined : view;
      try {
        const { dir } = await resolveModelForRun(flags.model, onProgress ? { onProgress } : {});
        const result = await exportGguf(dir, flags.out, {
          quant: flags.quant as ExportQuant,
          signal: interrupt.signal,
          ...(flags.adapter ? { adapter: flags.adapter } : {}),
          ...(flags.device ? { device: flags.device } : {}),
          ...(flags.name ? { name: flags.name } : {}),
          ...(onProgress ? { onProgress } : {}),
        });
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(result)}\n`);
        } else {
          const mib = (result.bytes / 2 ** 20).toFixed(1);
          const types = Object.entries(result.types).map(([k, v]) => `${v} ${k}`).join(', ');
          process.stdout.write(`wrote ${result.file}: GGUF ${result.architecture} ${result.quant}, ${result.tensors} tensors (${types}), ${mib} MiB\n`);
        }
      } finally {
        interrupt.release();
      }
    });
}
