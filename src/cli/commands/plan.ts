// sft plan: what a training run and an eval of a model need in memory, part by part, and the
// micro-batch / accumulation / generation batch that fit the free memory (reads config.json only).
import type { Command } from 'commander';
import { planMemory } from '../../api/plan.js';
import { DATA_DEFAULTS as D, EVAL_DEFAULTS, LOOP_DEFAULTS as L, LORA_DEFAULTS } from '../../config/defaults.js';
import { formatEvalPlan, formatTrainPlan } from '../../config/memory-plan.js';
import { flagName, parseOptions } from '../../config/parse-options.js';
import { planOptionsSchema } from '../../api/plan.js';
import { progressView } from '../progress-view.js';
import { addModelFlags, flagDefault as d, toApiOptions, type RawFlags } from '../run-flags.js';

export function registerPlan(program: Command): void {
  const cmd = program
    .command('plan')
    .description('memory plan of a run: weights, LoRA + optimizer state, activations (with and without checkpointing), loss chunks, KV cache; the micro-batch and grad-accum that fit');
  addModelFlags(cmd);
  cmd
    .option('--max-seq-len <n>', 'tokens per row (every row planned as this long)', d(D.maxSeqLen))
    .option('--batch-size <n>', 'rows per optimizer step, kept by the gradient accumulation', d(L.batchSize))
    .option('--world-size <n>', 'data-parallel ranks', d(L.worldSize))
    .option('--lora-r <n>', 'LoRA rank', d(LORA_DEFAULTS.r))
    .option('--lora-targets <list>', 'comma-separated linear modules (default q_proj,k_proj,v_proj; Phi-3: qkv_proj)')
    .option('--lora-dropout <x>', 'dropout on the adapter input (its masks are kept for backward)', d(LORA_DEFAULTS.dropout))
    .option('--freeze-layers <n>', 'no adapters on the first N decoder layers', '0')
    .option('--no-gradient-checkpointing', 'plan without gradient checkpointing')
    .option('--max-new-tokens <n>', 'new tokens per prompt when generating (eval)', d(EVAL_DEFAULTS.maxNewTokens))
    .option('--json', 'print the plan as one JSON object')
    .action(async (flags: RawFlags) => {
      const options = parseOptions(planOptionsSchema, toApiOptions(flags), 'sft plan options', flagName);
      const plan = await planMemory(options, { onProgress: progressView() });
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(plan)}\n`);
        return;
      }
      const lines = [
        `${plan.model} (${plan.family}), ${plan.device} ${plan.dtype}, ${plan.quantized ? '4-bit' : '16/32-bit'} base weights, rows of ${plan.seqLen} tokens`,
        ...formatTrainPlan(plan.train, options.gradientCheckpointing),
        ...formatEvalPlan(plan.eval),
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
