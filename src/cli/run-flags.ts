// Flags shared by `sft train`, `sft eval` and `sft demo`, and their conversion to API options.
// Commander hands over strings; numbers are converted here and every value is then checked by
// the API's zod schema, whose messages name the flag (see api/options.ts flagName).
import type { Command } from 'commander';
import { DATA_DEFAULTS as D } from '../config/defaults.js';

/** A default as commander shows and hands it over: 2e-5 rather than 0.00002. */
export function flagDefault(value: number | string): string {
  if (typeof value === 'string') return value;
  const exponential = value.toExponential();
  return exponential.length < String(value).length ? exponential : String(value);
}

/** Flag values as commander gives them (camelCased keys, string values). */
export type RawFlags = Record<string, string | boolean | string[] | undefined>;

export function addModelFlags(cmd: Command): Command {
  return cmd
    .requiredOption('--model <id>', "preset (see `sft models`), Hub repo id (org/name), local checkpoint folder, or 'demo'")
    .option('--device <device>', 'cpu or cuda (default: cuda when available)')
    .option('--dtype <dtype>', 'float32, bfloat16 or float16 (default: float32 on cpu, bfloat16 on cuda)')
    .option('--quant <type>', 'none, nf4 or fp4 base weights (default: nf4 on cuda, none on cpu; bnb-4bit checkpoints load as stored)');
}

export function addDataFlags(cmd: Command): Command {
  return cmd
    .requiredOption('--data <path>', "csv, jsonl or parquet file (.gz too), a folder of them, or 'demo'")
    .option('--text-column <name>', 'column with the input text', D.textColumn)
    .option('--label-column <name>', 'column with the label', D.labelColumn)
    .option('--label-map <map>', 'data label=answer pairs, comma-separated', D.labelMap)
    .option('--format <name>', 'data format: label, alpaca, sharegpt, messages or prompt-completion (default: detected from the columns)')
    .option('--template <name|file>', "prompt template: builtin 'imdb' (the seed's) or 'demo', or a file with one {text} placeholder; instruction data: 'alpaca' (what imdb stands for there) or a file with {instruction} / {input} / {output} / column placeholders", D.template)
    .option('--chat', "wrap the prompt in the model's chat template (Qwen3: thinking off)")
    .option('--max-seq-len <n>', 'longest example in tokens; the input text is cut to fit', flagDefault(D.maxSeqLen))
    .option('--val-split <x>', 'rows held out for validation: a fraction (0 <= x < 1) or a count', flagDefault(D.valSplit))
    .option('--test-split <x>', 'rows held out for testing: a fraction (0 <= x < 1) or a count', flagDefault(D.testSplit))
    .option('--limit <n>', 'use at most N rows (after the seeded shuffle)')
    .option('--folds <n>', 'stratified k-fold of label rows: the rows left after --test-split in N folds, each class spread evenly; the --fold one is the validation split')
    .option('--fold <i>', 'the held-out fold of --folds, 0-based (default 0)')
    .option('--seed <n>', 'seed of the shuffle, the LoRA init and dropout', flagDefault(D.seed));
}

const NUMERIC = new Set([
  'maxSeqLen', 'valSplit', 'testSplit', 'limit', 'seed', 'loraR', 'loraAlpha', 'loraDropout', 'lr', 'warmupSteps',
  'weightDecay', 'beta1', 'beta2', 'eps', 'maxGradNorm', 'batchSize', 'gradAccum', 'epochs', 'maxSteps', 'logEvery',
  'folds', 'fold', 'numLabels', 'freezeLayers', 'rdropAlpha', 'supconWeight', 'supconTemperature',
  'saveEvery', 'maxNewTokens', 'worldSize', 'evalEvery', 'earlyStoppingPatience',
]);
const LISTS = new Set(['loraTargets']);
/** CLI-only flags that are not API options. */
const CLI_ONLY = new Set(['json', 'config']);

/** Commander's flags -> an API options object: numbers parsed (unparseable values kept, so zod names them), lists split. */
export function toApiOptions(flags: RawFlags): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(flags)) {
    if (value === undefined || CLI_ONLY.has(key)) continue;
    if (key === 'batchSize' && value === 'auto') {
      options.autoBatch = true; // the planner picks the micro-batch (api/plan.ts); the rows per step keep their default
      continue;
    }
    if (NUMERIC.has(key) && typeof value === 'string') {
      const n = Number(value);
      options[key] = value.trim() !== '' && Number.isFinite(n) ? n : value;
    } else if (LISTS.has(key) && typeof value === 'string') {
      options[key] = value.split(',').map((s) => s.trim()).filter(Boolean);
    } else {
      options[key] = value;
    }
  }
  return options;
}
