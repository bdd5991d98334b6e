// evaluate(): the seed's scoring. Prompts built exactly as in training, greedy generation of a
// few new tokens in left-padded batches, each output parsed into a label; acc counts invalid
// outputs as wrong, resp_acc is the share of outputs holding a valid label. With an adapter
// and `compare`, the base model is scored first (before training), then the adapter (after).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LabelClass } from '../data/examples.js';
import type { PromptBuilder } from '../data/prompt-builder.js';
import { evalOptionsSchema, type EvalOptions, type ResolvedEvalOptions } from '../config/run-options.js';
import { generateBatched } from '../eval/batch-generate.js';
import { createLabelParser } from '../eval/label-parser.js';
import { computeMetrics } from '../eval/metrics.js';
import { evalReportMarkdown } from '../eval/report-md.js';
import type { EvalMetrics, EvalReport, PredictionLine } from '../eval/report-types.js';
import { ErrorCode, SftError } from '../errors.js';
import type { Tokenizer } from '../tokenize/tokenizer.js';
import { loadLabelledData, type LabelledExample } from './dataset.js';
import { promptSetup, loadRunModel } from './task-setup.js';
import type { Model } from './model.js';
import { resolveModelForRun } from './model-source.js';
import { parseOptions } from '../config/parse-options.js';
import { loadArchConfig } from '../config/hf-config.js';
import { checkAdapterFits } from '../engine/adapter-fit.js';
import type { RunControl } from './progress.js';
import { checkOutputPath } from '../io/output-path.js';
import { autoEvalBatch } from './plan.js';
import type { ClassifyPredictionLine } from '../eval/report-types.js';
import { adapterHeadSize, evalSplitOf, evaluateClassifier, withRunFolds } from './evaluate-classify.js';
import { scoreBeforeAfter } from './score-states.js';
import { labelDataSettings } from './eval-settings.js';

export interface EvalResult {
  report: EvalReport;
  /** Task 'classify': ClassifyPredictionLine (class probabilities); otherwise PredictionLine (generated text). */
  predictions: (PredictionLine | ClassifyPredictionLine)[];
  /** Files written (with `out`). */
  files: string[];
}

/** Scores one model state (base or with adapter) on prepared prompts. */
export async function scoreExamples(
  model: Model,
  tokenizer: Tokenizer,
  prompts: number[][],
  examples: readonly LabelledExample[],
  classes: LabelClass[],
  o: { batchSize: number; maxNewTokens: number; which: 'base' | 'adapter' },
  control: RunControl = {},
): Promise<{ metrics: EvalMetrics; predictions: PredictionLine[] }> {
  const started = performance.now();
  const outputs = await generateBatched(model, tokenizer, prompts, {
    batchSize: o.batchSize,
    maxNewTokens: o.maxNewTokens,
    onBatch: (done, total) => control.onProgress?.({ phase: 'eval', which: o.which, done, total }),
    ...(control.signal ? { signal: control.signal } : {}),
  });
  const seconds = (performance.now() - started) / 1000;
  const parseLabel = createLabelParser(classes);
  const predictions: PredictionLine[] = examples.map((e, i) => {
    const output = (outputs[i] as { text: string }).text;
    const prediction = parseLabel(output);
    return { which: o.which, file: e.file, row: e.row, label: e.label, output, prediction, correct: prediction === e.label };
  });
  return { metrics: computeMetrics(predictions, classes, seconds), predictions };
}

/** Prompt ids for examples, leaving room for `reserve` new tokens within maxSeqLen. */
export async function buildPrompts(builder: PromptBuilder, examples: readonly LabelledExample[], reserve: number): Promise<number[][]> {
  return (await builder.prompts(examples.map((e) => e.text), reserve)).map((p) => p.ids);
}

export function chooseSplit(o: Pick<ResolvedEvalOptions, 'split' | 'testSplit'>): 'all' | 'train' | 'val' | 'test' {
  return o.split ?? (o.testSplit > 0 ? 'test' : 'all');
}

export async function evaluate(options: EvalOptions, control: RunControl = {}): Promise<EvalResult> {
  const parsed = parseOptions(evalOptionsSchema, options, 'eval options');
  if (parsed.task === 'classify') return evaluateClassifier(parsed, control);
  const o = await withRunFolds(parsed, control);
  if (o.out !== undefined) checkOutputPath(o.out, 'folder');
  const { dir: modelDir } = await resolveModelForRun(o.model, control);
  // A missing or mismatched adapter fails here, not after the model loaded and the base pass ran.
  if (o.adapter !== undefined) await checkAdapterFits(o.adapter, { dir: modelDir, arch: await loadArchConfig(modelDir) });
  const classifierHead = o.adapter !== undefined ? await adapterHeadSize(o.adapter) : undefined;
  if (classifierHead !== undefined) {
    throw new SftError(`adapter ${o.adapter} is a sequence classifier's (SEQ_CLS, a ${classifierHead}-class score head): score it with --task classify (evaluate({task: 'classify'}))`, ErrorCode.AdapterMismatch);
  }
  const data = await loadLabelledData(o, 'eval');
  const split = evalSplitOf(o);
  const examples = split === 'all' ? [...data.train, ...data.val, ...data.test] : data[split];
  if (examples.length === 0) {
    throw new SftError(`no rows to evaluate in ${data.source} (split '${split}', ${data.skipped.length} rows skipped)`, ErrorCode.InvalidArgument);
  }
  control.onProgress?.({ phase: 'data', message: `${examples.length} rows from ${data.source} (split ${split}; ${data.skipped.length} skipped)` });

  const { tokenizer, template, builder } = await promptSetup(modelDir, o, control);
  const prompts = await buildPrompts(builder, examples, o.maxNewTokens);
  // --batch-size auto: the largest generation batch for the longest prompt that fits (api/plan.ts).
  const batchSize = o.autoBatch ? await autoEvalBatch(modelDir, o, prompts, control) : o.batchSize;

  const model = await loadRunModel(modelDir, o);
  const report: EvalReport = {
    kind: 'sft-eval',
    model: o.model,
    modelDir,
    data: data.source,
    settings: {
      split,
      batchSize,
      maxNewTokens: o.maxNewTokens,
      ...labelDataSettings(o, template.name, data.classes),
      device: model.info().device,
    },
    skipped_rows: data.skipped.length,
    skipped: data.skipped,
    created: new Date().toISOString(),
  };
  const scored = await scoreBeforeAfter(model, o, (which) =>
    scoreExamples(model, tokenizer, prompts, examples, data.classes, { batchSize, maxNewTokens: o.maxNewTokens, which }, control),
  );
  if (scored.base) report.base = scored.base;
  if (scored.adapter) report.adapter = scored.adapter;
  const predictions: PredictionLine[] = scored.predictions;
  const files = o.out ? await writeEvalFiles(o.out, report, predictions) : [];
  return { report, predictions, files };
}

/** eval.json, eval.md and predictions.jsonl in `out`. */
export async function writeEvalFiles(out: string, report: EvalReport, predictions: readonly (PredictionLine | ClassifyPredictionLine)[]): Promise<string[]> {
  return writeReportFiles(out, report, evalReportMarkdown(report), predictions);
}

/** Any evaluation's eval.json (the report), eval.md (its markdown) and predictions.jsonl (one line each) in `out`. */
export async function writeReportFiles(out: string, report: object, markdown: string, predictions: readonly object[]): Promise<string[]> {
  await mkdir(out, { recursive: true });
  const files = [join(out, 'eval.json'), join(out, 'eval.md'), join(out, 'predictions.jsonl')];
  await writeFile(files[0] as string, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(files[1] as string, markdown);
  await writeFile(files[2] as string, predictions.map((p) => JSON.stringify(p)).join('\n') + (predictions.length ? '\n' : ''));
  return files;
}
