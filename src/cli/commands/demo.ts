// sft demo: the seed job end to end on the bundled tiny model and synthetic reviews (CPU,
// a few minutes): before/after table of acc and resp_acc.
import type { Command } from 'commander';
import { demoOptionsSchema, runDemo } from '../../api/demo.js';
import { CLASSIFY_DEFAULTS, DEMO_DEFAULTS } from '../../config/defaults.js';
import { flagName, parseOptions } from '../../config/parse-options.js';
import { abortOnInterrupt } from '../interrupt.js';
import { progressView } from '../progress-view.js';
import { flagDefault, toApiOptions, type RawFlags } from '../run-flags.js';
import { formatEvalSummary } from '../../eval/report-md.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('train and evaluate on the bundled demo model and data: the before/after table')
    .option('--out <dir>', 'run folder (an earlier demo run there is replaced)', DEMO_DEFAULTS.out)
    .option('--device <device>', 'cpu or cuda (default: cuda when available)')
    .option('--epochs <n>', 'passes over the 2,000 training reviews', flagDefault(DEMO_DEFAULTS.epochs))
    .option('--lr <x>', 'peak learning rate (a 1M-parameter model needs more than the seed\'s)', flagDefault(DEMO_DEFAULTS.lr))
    .option('--seed <n>', 'seed of the shuffle, the LoRA init and dropout', flagDefault(DEMO_DEFAULTS.seed))
    .option('--task <name>', 'generate (the model learns to write the label, the seed) or classify (a score head learns the classes: acc, log loss, macro F1)', CLASSIFY_DEFAULTS.task)
    .option('--json', 'print one JSON object: acc, resp_acc, acc_bf_train, resp_acc_bf_train (+ log_loss, macro_f1 and their *_bf_train with --task classify)')
    .action(async (flags: RawFlags) => {
      const options = parseOptions(demoOptionsSchema, toApiOptions(flags), 'sft demo options', flagName);
      const interrupt = abortOnInterrupt();
      try {
        const r = await runDemo(options, { ...(flags.json ? {} : { onProgress: progressView() }), signal: interrupt.signal });
        if (flags.json) {
          process.stdout.write(`${JSON.stringify({ ...r.table, n: r.eval.adapter?.n ?? 0, out: r.out })}\n`);
          return;
        }
        process.stdout.write(`\n${formatEvalSummary(r.eval)}\nrun folder: ${r.out} (sft report ${r.out} draws it)\n`);
      } finally {
        interrupt.release();
      }
    });
}
