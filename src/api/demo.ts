// runDemo(): the whole seed job on the bundled tiny model and synthetic reviews, small enough
// for a CPU in a few minutes: score the base model, train a LoRA adapter, score it again, and
// return the seed's before/after table. The recipe differs from the seed's only where a
// 1M-parameter model needs it (lr 1e-3, 10 warmup steps, 1 epoch, 128-token rows, chat prompt
// with word answers), and says so in run.json.
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { CLASSIFY_DEFAULTS, DEMO_DEFAULTS } from '../config/defaults.js';
import { numberIn, OPTION_RANGES as R } from '../config/option-ranges.js';
import type { SameShape } from '../config/same-shape.js';
import type { EvalReport } from '../eval/report-types.js';
import { ErrorCode, SftError } from '../errors.js';
import { evaluate } from './evaluate.js';
import { parseOptions } from '../config/parse-options.js';
import type { RunControl } from './progress.js';
import { checkOutputPath } from '../io/output-path.js';
import { train, type TrainResult } from './train.js';

/** runDemo(options) (`sft demo`). */
export interface DemoOptions {
  /** Run folder (replaced when it holds an earlier demo run). @default 'runs/demo' */
  out?: string;
  /** @default 'cuda' when this build has CUDA and a GPU is visible, else 'cpu' */
  device?: 'cpu' | 'cuda';
  /** Passes over the 2,000 training reviews. @default 1 */
  epochs?: number;
  /** Peak learning rate (a 1M-parameter model needs more than the seed's 2e-5). @default 1e-3 */
  lr?: number;
  /** Seed of the shuffle, the LoRA init and dropout. @default 3407 */
  seed?: number;
  /**
   * 'generate': the model learns to write the label (the seed's job). 'classify': a score head
   * learns the classes (sequence classification; accuracy, log loss, macro F1). @default 'generate'
   */
  task?: 'generate' | 'classify';
}

export const demoOptionsSchema = z
  .object({
    out: z.string().min(1).default(DEMO_DEFAULTS.out),
    device: z.enum(['cpu', 'cuda']).optional(),
    epochs: numberIn(R.epochs).default(DEMO_DEFAULTS.epochs),
    lr: numberIn(R.lr).default(DEMO_DEFAULTS.lr),
    seed: numberIn(R.seed).default(DEMO_DEFAULTS.seed),
    task: z.enum(['generate', 'classify']).default(CLASSIFY_DEFAULTS.task),
  })
  .strict();
const demoSchemaMatches: SameShape<DemoOptions, z.input<typeof demoOptionsSchema>> = true;
void demoSchemaMatches;

/** The seed's table row. */
export interface SeedTableRow {
  model: string;
  acc: number;
  resp_acc: number;
  acc_bf_train: number;
  resp_acc_bf_train: number;
  /** Task 'classify': log loss and macro F1 after and before training (the untrained head's). */
  log_loss?: number;
  macro_f1?: number;
  log_loss_bf_train?: number;
  macro_f1_bf_train?: number;
}

export interface DemoResult {
  out: string;
  table: SeedTableRow;
  train: TrainResult;
  eval: EvalReport;
}

/** The data and prompt settings the demo trains and evaluates with. */
export const DEMO_TASK = {
  data: 'demo',
  template: 'demo',
  chat: true,
  labelMap: 'positive=positive,negative=negative',
  maxSeqLen: 128,
} as const;

async function clearEarlierDemo(out: string): Promise<void> {
  if (!existsSync(out)) return;
  const runFile = join(out, 'run.json');
  const earlier = existsSync(runFile) ? (JSON.parse(readFileSync(runFile, 'utf8')) as { config?: { demo?: boolean } }) : undefined;
  if (earlier?.config?.demo !== true) {
    throw new SftError(`${out} exists and is not an earlier demo run; choose another --out`, ErrorCode.InvalidArgument);
  }
  await rm(out, { recursive: true, force: true });
}

export async function runDemo(options: DemoOptions = {}, control: RunControl = {}): Promise<DemoResult> {
  const o = parseOptions(demoOptionsSchema, options, 'demo options');
  const out = resolve(o.out);
  checkOutputPath(out, 'folder');
  await clearEarlierDemo(out);
  const device = o.device ? { device: o.device } : {};
  const trained = await train(
    {
      model: 'demo',
      ...DEMO_TASK,
      ...device,
      task: o.task,
      out,
      lr: o.lr,
      warmupSteps: DEMO_DEFAULTS.warmupSteps,
      epochs: o.epochs,
      batchSize: DEMO_DEFAULTS.batchSize,
      seed: o.seed,
      gradientCheckpointing: false,
      logEvery: 1,
    },
    control,
    { demo: true, demoRecipe: `${o.task === 'classify' ? 'sequence classification (score head); ' : ''}seed recipe except lr ${o.lr}, warmup ${DEMO_DEFAULTS.warmupSteps}, ${o.epochs} epoch(s), max-seq-len ${DEMO_TASK.maxSeqLen}, chat prompt with word answers (a 1M-parameter model)` },
  );
  const { report } = await evaluate(
    { model: 'demo', adapter: out, compare: true, ...DEMO_TASK, ...device, task: o.task, batchSize: DEMO_DEFAULTS.evalBatchSize, out },
    control,
  );
  const base = report.base;
  const tuned = report.adapter;
  if (!base || !tuned) throw new SftError('demo: the evaluation did not score both the base model and the adapter', ErrorCode.InvalidArgument);
  return {
    out,
    table: {
      model: 'demo',
      acc: tuned.acc,
      resp_acc: tuned.resp_acc,
      acc_bf_train: base.acc,
      resp_acc_bf_train: base.resp_acc,
      ...(o.task === 'classify' ? { log_loss: tuned.log_loss, macro_f1: tuned.macro_f1, log_loss_bf_train: base.log_loss, macro_f1_bf_train: base.macro_f1 } : {}),
    },
    train: trained,
    eval: report,
  };
}
