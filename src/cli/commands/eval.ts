// sft eval: acc and resp_acc of a model (and/or its adapter) on labelled rows, with the
// confusion matrix; predictions.jsonl + eval.json + eval.md with --out.
import type { Command } from 'commander';
import { evaluate } from '../../api/evaluate.js';
import { flagName, parseOptions } from '../../config/parse-options.js';
import { CLASSIFY_DEFAULTS, EVAL_DEFAULTS } from '../../config/defaults.js';
import { evalOptionsSchema } from '../../config/run-options.js';
import { formatEvalSummary } from '../../eval/report-md.js';
import { addConfigFlag } from '../config-file.js';
import { abortOnInterrupt } from '../interrupt.js';
import { progressView } from '../progress-view.js';
import { addGenerationEvalFlags, runGenerationEval } from './eval-generate.js';
import { addDataFlags, addModelFlags, flagDefault, toApiOptions, type RawFlags } from '../run-flags.js';

export function registerEval(program: Command): void {
  const cmd = program.command('eval').description('score a model (and adapter): label rows (acc, resp_acc, confusion matrix), a classifier (--task classify: acc, log loss, macro F1) or instruction data (ROUGE, BLEU)');
  addModelFlags(cmd);
  addDataFlags(cmd);
  addConfigFlag(cmd, Object.keys(evalOptionsSchema.shape));
  addGenerationEvalFlags(cmd);
  cmd
    .option('--adapter <dir>', 'PEFT adapter folder (e.g. a `sft train` --out); without it: the before-training numbers')
    .option('--task <name>', 'generate (text generated, labels parsed from it) or classify (the score head: accuracy, log loss, macro F1; the SEQ_CLS adapter of sft train --task classify)', CLASSIFY_DEFAULTS.task)
    .option('--num-labels <n>', "classes of the score head with --task classify (default: the adapter's head, else the label map's size)")
    .option('--compare', 'evaluate the base model and the adapter in one run (the before/after table)')
    .option('--split <part>', "all, train, val or test of the seeded split (default: test with --test-split, else all)")
    .option('--batch-size <n>', "prompts per generation batch; 'auto': the largest that fits the free memory (sft plan)", flagDefault(EVAL_DEFAULTS.batchSize))
    .option('--max-new-tokens <n>', 'new tokens per prompt', flagDefault(EVAL_DEFAULTS.maxNewTokens))
    .option('--out <dir>', 'write eval.json, eval.md and predictions.jsonl here')
    .option('--json', 'print one JSON object: n, acc, resp_acc, skipped_rows (+ base/adapter with --compare)')
    .action(async (flags: RawFlags) => {
      if (await runGenerationEval(flags, cmd)) return;
      const options = parseOptions(evalOptionsSchema, toApiOptions(flags), 'sft eval options', flagName);
      const interrupt = abortOnInterrupt();
      try {
        const { report, files } = await evaluate(options, {
          ...(flags.json ? {} : { onProgress: progressView() }),
          signal: interrupt.signal,
        });
        if (flags.json) {
          const main = report.adapter ?? report.base;
          const out = {
            n: main?.n ?? 0,
            acc: main?.acc ?? null,
            resp_acc: main?.resp_acc ?? null,
            skipped_rows: report.skipped_rows,
            ...(report.base && report.adapter ? { acc_bf_train: report.base.acc, resp_acc_bf_train: report.base.resp_acc } : {}),
            ...(report.task === 'classify' ? { task: 'classify', log_loss: main?.log_loss ?? null, macro_f1: main?.macro_f1 ?? null } : {}),
            ...(report.task === 'classify' && report.base && report.adapter ? { log_loss_bf_train: report.base.log_loss, macro_f1_bf_train: report.base.macro_f1 } : {}),
            confusion: main?.confusion ?? null,
            ...(report.base ? { base: report.base } : {}),
            ...(report.adapter ? { adapter: report.adapter } : {}),
            files,
          };
          process.stdout.write(`${JSON.stringify(out)}\n`);
          return;
        }
        process.stdout.write(formatEvalSummary(report));
        if (files.length) process.stdout.write(`wrote ${files.join(', ')}\n`);
      } finally {
        interrupt.release();
      }
    });
}
