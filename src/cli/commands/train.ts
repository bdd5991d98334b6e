// sft train: QLoRA SFT of a model on labelled rows; the adapter, run.json, log.jsonl and
// checkpoints go to --out.
import type { Command } from 'commander';
import { flagName, parseOptions } from '../../api/options.js';
import { train } from '../../api/train.js';
import { trainOptionsSchema } from '../../config/run-options.js';
import { abortOnInterrupt } from '../interrupt.js';
import { progressView } from '../progress-view.js';
import { addDataFlags, addModelFlags, toApiOptions, type RawFlags } from '../run-flags.js';

export function registerTrain(program: Command): void {
  const cmd = program.command('train').description('QLoRA instruction tuning on labelled rows (the seed recipe by default)');
  addModelFlags(cmd);
  addDataFlags(cmd);
  cmd
    .requiredOption('--out <dir>', 'run folder: adapter (PEFT format), run.json, log.jsonl, checkpoints/')
    .option('--lora-r <n>', 'LoRA rank', '16')
    .option('--lora-alpha <x>', 'LoRA alpha (scaling alpha/r)', '32')
    .option('--lora-dropout <x>', 'dropout on the adapter input', '0')
    .option('--lora-targets <list>', 'comma-separated linear modules (default q_proj,k_proj,v_proj; Phi-3: qkv_proj)')
    .option('--use-rslora', 'scale by alpha/sqrt(r)')
    .option('--lr <x>', 'peak learning rate', '2e-5')
    .option('--schedule <name>', 'linear, cosine, constant or constant_with_warmup', 'linear')
    .option('--warmup-steps <n>', 'warmup steps', '100')
    .option('--weight-decay <x>', 'AdamW weight decay', '0.01')
    .option('--beta1 <x>', 'AdamW beta1', '0.9')
    .option('--beta2 <x>', 'AdamW beta2', '0.999')
    .option('--eps <x>', 'AdamW epsilon', '1e-8')
    .option('--max-grad-norm <x>', 'gradient clipping (0: off)', '1')
    .option('--batch-size <n>', 'rows per optimizer step', '16')
    .option('--grad-accum <n>', 'micro-batches per step (batch-size must divide by it)', '1')
    .option('--epochs <n>', 'passes over the training rows', '3')
    .option('--max-steps <n>', 'stop after N optimizer steps')
    .option('--no-gradient-checkpointing', 'keep activations instead of recomputing them (faster, more memory)')
    .option('--log-every <n>', 'log every N steps', '1')
    .option('--save-every <n>', 'also checkpoint every N steps (always at epoch ends)')
    .option('--resume [checkpoint]', 'continue from the newest checkpoint in --out (or the one given)')
    .option('--world-size <n>', 'data-parallel processes, one per GPU on CUDA (batch-size stays the rows per step)', '1')
    .option('--json', 'print the result as one JSON object')
    .action(async (flags: RawFlags) => {
      const options = parseOptions(trainOptionsSchema, toApiOptions(flags), 'sft train options', flagName);
      const interrupt = abortOnInterrupt();
      try {
        const r = await train(options, { onProgress: progressView(), signal: interrupt.signal });
        if (flags.json) {
          process.stdout.write(`${JSON.stringify({ out: r.out, steps: r.steps, finalLoss: r.finalLoss, trainSeconds: r.trainSeconds, val: r.val ?? null })}\n`);
          return;
        }
        const tps = r.record.result?.inputTokensPerSecond ?? 0;
        const mem = r.record.result?.peakMemoryGiB;
        const lines = [
          `trained ${r.steps} steps in ${r.trainSeconds.toFixed(1)} s (${Math.round(tps)} tok/s${mem !== undefined ? `, peak ${mem.toFixed(1)} GiB` : ''}), final loss ${r.finalLoss?.toFixed(4) ?? 'n/a'}`,
          ...(r.val ? [`validation: acc ${r.val.acc.toFixed(4)}, resp_acc ${r.val.resp_acc.toFixed(4)} (n ${r.val.n})`] : []),
          `adapter, run.json and log.jsonl in ${r.out}`,
          `next: sft eval --model ${options.model} --adapter ${r.out} --data ${options.data} --compare`,
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
      } finally {
        interrupt.release();
      }
    });
}
