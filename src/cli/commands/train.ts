// sft train: QLoRA SFT of a model on labelled rows or instruction data; the adapter, run.json, log.jsonl and
// checkpoints go to --out.
import type { Command } from 'commander';
import { flagName, parseOptions } from '../../config/parse-options.js';
import { train } from '../../api/train.js';
import { CLASSIFY_DEFAULTS as CL, LOOP_DEFAULTS as L, LORA_DEFAULTS, OPTIMIZER_DEFAULTS as O } from '../../config/defaults.js';
import { trainOptionsSchema } from '../../config/run-options.js';
import { ErrorCode, SftError } from '../../errors.js';
import { addConfigFlag } from '../config-file.js';
import { abortOnInterrupt, withResumeCommand } from '../interrupt.js';
import { progressView } from '../progress-view.js';
import { printPreview } from '../preview-command.js';
import { addDataFlags, addModelFlags, flagDefault as d, toApiOptions, type RawFlags } from '../run-flags.js';

/** --out is required for a run (commander's wording), but not for --preview, which writes nothing. */
function requireOut(flags: RawFlags): void {
  if (flags.out === undefined) {
    throw new SftError("required option '--out <dir>' not specified: the run folder for the adapter, run.json, log.jsonl and checkpoints (only --preview runs without it)", ErrorCode.InvalidArgument);
  }
}

export function registerTrain(program: Command): void {
  const cmd = program.command('train').description('QLoRA instruction tuning on labelled rows (the seed recipe by default) or instruction data (alpaca, ShareGPT, chat messages, prompt/completion)');
  addModelFlags(cmd);
  addDataFlags(cmd);
  addConfigFlag(cmd, Object.keys(trainOptionsSchema.shape));
  cmd
    .option('--out <dir>', 'run folder: adapter (PEFT format), run.json, log.jsonl, checkpoints/ (required, except with --preview)')
    .option('--task <name>', 'generate (the model writes the label as text, the seed) or classify (a score head at the last token, cross-entropy over the classes; peft SEQ_CLS adapter)', CL.task)
    .option('--num-labels <n>', 'classes of the score head with --task classify (default: the label map\'s size)')
    .option('--freeze-layers <n>', 'no adapters on the first N decoder layers (peft layers_to_transform N and up)', '0')
    .option('--rdrop-alpha <x>', 'R-Drop with --task classify: two dropout passes, CE + x * symmetric KL (needs --lora-dropout > 0; 0: off)', d(CL.rdropAlpha))
    .option('--supcon-weight <w>', 'supervised contrastive loss with --task classify: (1 - w) CE + w SupCon (0: off)', d(CL.supconWeight))
    .option('--supcon-temperature <t>', 'temperature of the supervised contrastive loss', d(CL.supconTemperature))
    .option('--lora-r <n>', 'LoRA rank', d(LORA_DEFAULTS.r))
    .option('--lora-alpha <x>', 'LoRA alpha (scaling alpha/r)', d(LORA_DEFAULTS.alpha))
    .option('--lora-dropout <x>', 'dropout on the adapter input', d(LORA_DEFAULTS.dropout))
    .option('--lora-targets <list>', 'comma-separated linear modules (default q_proj,k_proj,v_proj; Phi-3: qkv_proj)')
    .option('--use-rslora', 'scale by alpha/sqrt(r)')
    .option('--lr <x>', 'peak learning rate', d(O.lr))
    .option('--schedule <name>', 'linear, cosine, constant or constant_with_warmup', O.schedule)
    .option('--warmup-steps <n>', 'warmup steps', d(O.warmupSteps))
    .option('--weight-decay <x>', 'AdamW weight decay', d(O.weightDecay))
    .option('--beta1 <x>', 'AdamW beta1', d(O.beta1))
    .option('--beta2 <x>', 'AdamW beta2', d(O.beta2))
    .option('--eps <x>', 'AdamW epsilon', d(O.eps))
    .option('--max-grad-norm <x>', 'gradient clipping (0: off)', d(O.maxGradNorm))
    .option('--batch-size <n>', "rows per optimizer step; 'auto': the largest micro-batch that fits the free memory and the grad-accum that keeps the default rows per step (sft plan)", d(L.batchSize))
    .option('--grad-accum <n>', 'micro-batches per step (batch-size must divide by it)', d(L.gradAccum))
    .option('--epochs <n>', 'passes over the training rows', d(L.epochs))
    .option('--max-steps <n>', 'stop after N optimizer steps')
    .option('--no-gradient-checkpointing', 'keep activations instead of recomputing them (faster, more memory)')
    .option('--on-nonfinite <mode>', 'a NaN / Inf loss or gradient norm: stop (an error naming the step) or skip (drop that update, count it in the log)', O.onNonfinite)
    .option('--log-every <n>', 'log every N steps', d(L.logEvery))
    .option('--report-to <name>', 'tensorboard: also write the logged steps and validation metrics as TensorBoard event files to --out/tensorboard (default: none)')
    .option('--save-every <n>', 'also checkpoint every N steps (always at epoch ends)')
    .option('--eval-every <n>', 'validation loss (and acc / resp_acc for label rows) on the --val-split rows every N steps and at the last, into log.jsonl')
    .option('--save-best', 'keep the checkpoint of the best evaluation in --out/best (needs --eval-every)')
    .option('--best-metric <name>', 'what ranks evaluations: eval_loss (lower is better), acc or resp_acc (higher is better; label rows)', L.bestMetric)
    .option('--early-stopping-patience <n>', 'stop after N evaluations in a row without a better --best-metric (needs --eval-every)')
    .option('--resume [checkpoint]', 'continue from the newest checkpoint in --out (or the one given)')
    .option('--world-size <n>', 'data-parallel processes, one per GPU on CUDA (batch-size stays the rows per step)', d(L.worldSize))
    .option('--preview <n>', 'print the first N training rows as the model sees them (trained part between « and ») and exit; loads no weights')
    .option('--json', 'print the result as one JSON object')
    .action(async (allFlags: RawFlags) => {
      const { preview, ...flags } = allFlags;
      if (preview !== undefined) {
        await printPreview(toApiOptions(flags), preview, flags.json === true);
        return;
      }
      requireOut(flags);
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
          ...(r.record.result?.stoppedEarly ? [`stopped early at step ${r.record.result.stoppedEarly.step}: ${r.record.result.stoppedEarly.patience} evaluations without a better ${options.bestMetric}`] : []),
          ...(r.record.result?.best ? [`best ${r.record.result.best.metric} ${r.record.result.best.value.toFixed(4)} at step ${r.record.result.best.step}${r.record.result.best.dir ? `, checkpoint in ${r.record.result.best.dir}` : ''}`] : []),
          ...(r.val ? [`validation: acc ${r.val.acc.toFixed(4)}, resp_acc ${r.val.resp_acc.toFixed(4)} (n ${r.val.n})`] : []),
          `adapter, run.json and log.jsonl in ${r.out}`,
          `next: sft eval --model ${options.model} --adapter ${r.out} --data ${options.data}${options.task === 'classify' ? ' --task classify' : ''} --compare`,
        ];
        process.stdout.write(`${lines.join('\n')}\n`);
      } catch (err) {
        throw withResumeCommand(err);
      } finally {
        interrupt.release();
      }
    });
}
