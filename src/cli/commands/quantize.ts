// sft quantize: write a 4-bit (bitsandbytes layout) copy of a 16-bit checkpoint.
import type { Command } from 'commander';
import { quantizeCheckpoint } from '../../api/quantize.js';
import { resolveModelForRun } from '../../api/model-source.js';
import { QUANTIZE_DEFAULTS } from '../../config/defaults.js';
import { progressView } from '../progress-view.js';

interface QuantizeFlags {
  model: string;
  out: string;
  quant: 'nf4' | 'fp4';
  doubleQuant: boolean;
  device: 'cpu' | 'cuda';
  json?: boolean;
}

export function registerQuantize(program: Command): void {
  program
    .command('quantize')
    .description("store a checkpoint's decoder linear weights 4-bit (bitsandbytes' layout, loadable by transformers + bitsandbytes)")
    .requiredOption('--model <name>', "16-bit checkpoint: folder, Hub repo id (org/name), or 'demo'")
    .requiredOption('--out <dir>', 'folder to write (model.safetensors, config.json with quantization_config, tokenizer files)')
    .option('--quant <type>', 'nf4 or fp4', QUANTIZE_DEFAULTS.quant)
    .option('--no-double-quant', 'keep the per-block absmax in fp32 (no double quantization)')
    .option('--device <device>', 'cpu or cuda: where the quantization runs', QUANTIZE_DEFAULTS.device)
    .option('--json', 'print the result as JSON')
    .action(async (flags: QuantizeFlags) => {
      const view = progressView();
      const { dir } = await resolveModelForRun(flags.model, { onProgress: (e) => e.phase === 'download' && view(e) });
      const result = await quantizeCheckpoint(dir, flags.out, {
        quant: flags.quant,
        doubleQuant: flags.doubleQuant,
        device: flags.device,
      });
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(result)}\n`);
      } else {
        const mib = (result.bytesOut / 2 ** 20).toFixed(1);
        process.stdout.write(
          `wrote ${result.outDir}: ${result.quantized} weights stored ${flags.quant}${flags.doubleQuant ? ' (double quant)' : ''}, ${result.copied} tensors copied, ${mib} MiB\n`,
        );
      }
    });
}
