// evaluate() with task 'classify' (sft eval --task classify): the score head's class
// probabilities for each row's prompt (the training prompt: template + text, no answer), scored
// by accuracy, log loss, macro F1 and the confusion matrix. The head's size is the adapter's
// (a SEQ_CLS adapter from sft train --task classify); without an adapter, or for the base side of
// --compare, the head is the untrained one loadModel draws from the seed (normal, std =
// initializer_range), so the before-training numbers are those of a random head.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ResolvedEvalOptions } from '../config/run-options.js';
import { loadArchConfig } from '../config/hf-config.js';
import { SCORE_HEAD_KEY } from '../engine/adapter-config.js';
import { ADAPTER_WEIGHTS_FILE, checkAdapterFits, readSafetensorsShapes } from '../engine/adapter-fit.js';
import { scoreClassifier } from '../eval/classify-task.js';
import type { ClassifyPredictionLine, EvalReport } from '../eval/report-types.js';
import { readRunRecord } from '../eval/run-dir.js';
import { ErrorCode, SftError } from '../errors.js';
import { checkOutputPath } from '../io/output-path.js';
import { loadLabelledData, resolveDataPath } from './dataset.js';
import { labelDataSettings } from './eval-settings.js';
import { buildPrompts, writeEvalFiles, type EvalResult } from './evaluate.js';
import { resolveModelForRun } from './model-source.js';
import { autoEvalBatch } from './plan.js';
import { scoreBeforeAfter } from './score-states.js';
import type { RunControl } from './progress.js';
import { loadRunModel, promptSetup } from './task-setup.js';

/** The split options that decide which rows a k-fold run held out. */
const FOLD_SPLIT_KEYS = ['folds', 'fold', 'seed', 'limit', 'testSplit', 'valSplit'] as const;

/**
 * An evaluation of a run trained with --folds, given no --folds itself, scores that run's
 * held-out fold: the run's split options (run.json in the adapter folder) are taken when the
 * data is the run's. Anything else is evaluated as given.
 */
export async function withRunFolds<T extends ResolvedEvalOptions>(o: T, control: RunControl = {}): Promise<T> {
  if (o.adapter === undefined || o.folds !== undefined) return o;
  const file = join(o.adapter, 'run.json');
  if (!existsSync(file)) return o;
  const run = await readRunRecord(file);
  const config = run.config as Partial<Record<(typeof FOLD_SPLIT_KEYS)[number], number>>;
  if (typeof config.folds !== 'number') return o;
  if (resolve(resolveDataPath(o.data, 'eval')) !== resolve(run.data.source)) {
    control.onProgress?.({ phase: 'data', message: `the run in ${o.adapter} held out fold ${config.fold ?? 0} of ${config.folds} of ${run.data.source}; ${o.data} is other data, evaluated as given` });
    return o;
  }
  const taken = Object.fromEntries(FOLD_SPLIT_KEYS.filter((k) => config[k] !== undefined).map((k) => [k, config[k]]));
  control.onProgress?.({ phase: 'data', message: `scoring the fold the run held out: ${FOLD_SPLIT_KEYS.filter((k) => k in taken).map((k) => `${k} ${taken[k]}`).join(', ')} (from ${file})` });
  const out = { ...o, ...taken };
  if (config.limit === undefined) delete out.limit;
  return out;
}

/** The default split: test when there is one, else the held-out fold with --folds, else all rows. */
export function evalSplitOf(o: Pick<ResolvedEvalOptions, 'split' | 'testSplit' | 'folds'>): 'all' | 'train' | 'val' | 'test' {
  return o.split ?? (o.testSplit > 0 ? 'test' : o.folds !== undefined ? 'val' : 'all');
}

/** Classes of the adapter's score head (a SEQ_CLS adapter), or undefined when it has none. */
export async function adapterHeadSize(adapter: string): Promise<number | undefined> {
  const shape = (await readSafetensorsShapes(join(adapter, ADAPTER_WEIGHTS_FILE))).get(SCORE_HEAD_KEY);
  return shape?.length === 2 ? (shape[0] as number) : undefined;
}

/** adapterHeadSize(), or an error saying the adapter is not a classifier's. */
async function requireHeadSize(adapter: string): Promise<number> {
  const size = await adapterHeadSize(adapter);
  if (size === undefined) {
    throw new SftError(
      `adapter ${adapter} has no classification head (${SCORE_HEAD_KEY}): --task classify scores the SEQ_CLS adapter of sft train --task classify; a generation adapter is scored with --task generate`,
      ErrorCode.AdapterMismatch,
    );
  }
  return size;
}

export async function evaluateClassifier(options: ResolvedEvalOptions, control: RunControl = {}): Promise<EvalResult> {
  if (options.out !== undefined) checkOutputPath(options.out, 'folder');
  const o = await withRunFolds(options, control);
  const { dir: modelDir } = await resolveModelForRun(o.model, control);
  if (o.adapter !== undefined) await checkAdapterFits(o.adapter, { dir: modelDir, arch: await loadArchConfig(modelDir) });
  const data = await loadLabelledData(o, 'eval');
  const headSize = o.adapter !== undefined ? await requireHeadSize(o.adapter) : undefined;
  if (headSize !== undefined && o.numLabels !== undefined && o.numLabels !== headSize) {
    throw new SftError(`--num-labels ${o.numLabels} but the adapter ${o.adapter} holds a ${headSize}-class head; drop --num-labels`, ErrorCode.AdapterMismatch);
  }
  const numLabels = headSize ?? o.numLabels ?? data.classes.length;
  if (numLabels < data.classes.length) {
    throw new SftError(
      `the score head has ${numLabels} classes but the label map has ${data.classes.length} (${data.classes.map((c) => c.name).join(', ')}); pass the --label-map the classifier was trained with`,
      ErrorCode.InvalidArgument,
    );
  }
  const split = evalSplitOf(o);
  const examples = split === 'all' ? [...data.train, ...data.val, ...data.test] : data[split];
  if (examples.length === 0) {
    throw new SftError(`no rows to evaluate in ${data.source} (split '${split}', ${data.skipped.length} rows skipped)`, ErrorCode.InvalidArgument);
  }
  control.onProgress?.({ phase: 'data', message: `${examples.length} rows from ${data.source} (split ${split}; ${data.skipped.length} skipped); ${numLabels}-class head` });

  const { template, builder } = await promptSetup(modelDir, o, control);
  const prompts = await buildPrompts(builder, examples, 0);
  // --batch-size auto: the largest batch of the longest prompt that fits (api/plan.ts); a
  // classifier runs one forward pass per prompt, so no room for new tokens is planned.
  const batchSize = o.autoBatch ? await autoEvalBatch(modelDir, { ...o, maxNewTokens: 0 }, prompts, control) : o.batchSize;
  const model = await loadRunModel(modelDir, o, { numLabels, seed: o.seed });
  const classNames = data.classes.map((c) => c.name);
  const report: EvalReport = {
    kind: 'sft-eval',
    task: 'classify',
    model: o.model,
    modelDir,
    data: data.source,
    settings: {
      task: 'classify',
      numLabels,
      split,
      batchSize,
      ...labelDataSettings(o, template.name, data.classes),
      device: model.info().device,
    },
    skipped_rows: data.skipped.length,
    skipped: data.skipped,
    created: new Date().toISOString(),
  };
  const scored = await scoreBeforeAfter(model, o, (which) =>
    scoreClassifier(model, prompts, examples, classNames, {
      batchSize,
      which,
      onBatch: (done, total) => control.onProgress?.({ phase: 'eval', which, done, total }),
      ...(control.signal ? { signal: control.signal } : {}),
    }),
  );
  if (scored.base) report.base = scored.base;
  if (scored.adapter) report.adapter = scored.adapter;
  const predictions: ClassifyPredictionLine[] = scored.predictions;
  const files = o.out ? await writeEvalFiles(o.out, report, predictions) : [];
  return { report, predictions, files };
}
