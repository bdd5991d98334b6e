// train(): the seed's job. Rows -> prompts (cut to fit) + answers -> LoRA SFT on a (4-bit)
// base -> a PEFT adapter in `out`, with run.json (every option, data counts, versions),
// log.jsonl and resumable checkpoints. An aborted run saves a checkpoint first, so
// `resume: true` continues where it stopped. worldSize > 1: data parallel over that many
// processes (train/distributed.ts); rank 0, this process, writes everything.
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { EVAL_DEFAULTS } from '../config/defaults.js';
import { trainOptionsSchema, type ResolvedTrainOptions, type TrainOptions } from '../config/run-options.js';
import { collate, type Batch, type TokenizedExample } from '../data/collate.js';
import { seededShuffle } from '../data/shuffle.js';
import type { EvalMetrics, RunRecord, TrainLogLine } from '../eval/report-types.js';
import { ErrorCode, SftError } from '../errors.js';
import { native } from '../native.js';
import { packageVersion } from '../package-info.js';
import { runDataParallel, workerEntryNear, type LocalRank, type RankContext } from '../train/distributed.js';
import { runTraining, stepsPerEpoch, type EvaluationOptions } from '../train/loop.js';
import { BestTracker } from '../train/early-stopping.js';
import { checkValidationOptions, classifyValidationRows, validationRunner } from '../train/eval-during-training.js';
import { TENSORBOARD_DIR, TensorBoardWriter } from '../train/tensorboard.js';
import { createTrainer, TRAINER_STATE_FILE, type Trainer } from '../train/trainer.js';
import { writeFileAtomic, writeJsonAtomic } from '../engine/atomic-write.js';
import { ADAPTER_WEIGHTS_FILE } from '../engine/adapter-fit.js';
import { readRunRecord } from '../eval/run-dir.js';
import { loadTrainData } from './train-data.js';
import { classifyTrainRows } from './classify-train.js';
import { collateClassify } from '../engine/classify-batch.js';
import { buildPrompts, scoreExamples } from './evaluate.js';
import { checkTrainMemory, loadRunModel } from './task-setup.js';
import { autoTrainBatch } from './plan.js';
import { nativeHandle } from './model.js';
import { resolveModelForRun } from './model-source.js';
import { parseOptions } from '../config/parse-options.js';
import type { RunControl } from './progress.js';
import { checkOutputPath } from '../io/output-path.js';

export interface TrainResult {
  out: string;
  steps: number;
  finalLoss: number | null;
  trainSeconds: number;
  /** Accuracy on the validation split after training (when valSplit > 0). */
  val?: EvalMetrics;
  record: RunRecord;
}

const CHECKPOINTS = 'checkpoints';
/** --save-best keeps the best evaluation's checkpoint here (a resumable checkpoint folder). */
const BEST_DIR = 'best';

/** An ABORTED run of train() that can be continued with `resume: true` (from `checkpoint`, or from step 0 when none was saved). */
export class TrainingStopped extends SftError {
  readonly checkpoint: string | undefined;

  constructor(message: string, checkpoint: string | undefined) {
    super(message, ErrorCode.Aborted);
    this.checkpoint = checkpoint;
  }
}

/** The newest step-N folder under out/checkpoints that holds a complete trainer state. */
export function latestCheckpoint(out: string): string | undefined {
  const dir = join(out, CHECKPOINTS);
  if (!existsSync(dir)) return undefined;
  const steps = readdirSync(dir)
    .map((name) => /^step-(\d+)$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null && existsSync(join(dir, m[0], TRAINER_STATE_FILE)))
    .map((m) => Number(m[1]))
    .sort((a, b) => b - a);
  return steps.length ? join(dir, `step-${steps[0]}`) : undefined;
}

/** A log line's step, or undefined for a line that is not one (the half-written last line of a killed run). */
function loggedStep(line: string): TrainLogLine | undefined {
  try {
    const entry = JSON.parse(line) as TrainLogLine;
    return Number.isInteger(entry?.step) ? entry : undefined;
  } catch {
    return undefined;
  }
}

/** Keeps the log lines of steps up to `step` (a resumed run rewrites what came after; a restarted one, all). */
async function truncateLog(file: string, step: number): Promise<void> {
  if (!existsSync(file)) return;
  const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => (loggedStep(l)?.step ?? Infinity) <= step);
  await writeFileAtomic(file, lines.map((l) => `${l}\n`).join(''));
}

/** The loss logged for `step`: the final loss of a resumed run that had no step left to take. */
async function loggedLoss(file: string, step: number): Promise<number | null> {
  if (!existsSync(file)) return null;
  const entries = (await readFile(file, 'utf8')).split('\n').map(loggedStep);
  // An evaluation's line (--eval-every) follows its step's and holds no loss.
  return entries.filter((e) => e?.step === step && 'loss' in e).at(-1)?.loss ?? null;
}

/** Micro-batches of one epoch: a seeded shuffle per epoch, so data order depends only on (seed, epoch). */
function epochBatchesFor<T, B>(examples: readonly T[], microBatch: number, seed: number, collateRows: (rows: T[]) => B): (epoch: number) => B[] {
  let current: { epoch: number; batches: B[] } | undefined; // only the current epoch is needed
  return (epoch) => {
    if (current?.epoch !== epoch) {
      const order = seededShuffle(examples, seed + 1000 * (epoch + 1));
      const batches: B[] = [];
      for (let i = 0; i < order.length; i += microBatch) batches.push(collateRows(order.slice(i, i + microBatch)));
      current = { epoch, batches };
    }
    return current.batches;
  };
}

/** How a run starts in its folder: from a checkpoint, from step 0 (`restart` says why), or not at all (`finished`). */
interface RunStart {
  resumeFrom?: string;
  restart?: string;
  finished?: RunRecord;
}

/**
 * Reads the run folder: `resume` continues from the newest (or the given) checkpoint, and a run
 * that stopped before its first checkpoint starts again from step 0, with or without `resume`,
 * as it has nothing to lose; a finished run is not touched; a fresh run overwrites no other run.
 */
async function planRunStart(o: ResolvedTrainOptions, out: string): Promise<RunStart> {
  const runFile = join(out, 'run.json');
  const hasRun = existsSync(runFile);
  if (o.resume !== false && hasRun) {
    const record = await readRunRecord(runFile);
    if (record.finished !== undefined && record.result !== undefined) return { finished: record };
  }
  if (typeof o.resume === 'string') return { resumeFrom: resolve(o.resume) };
  const latest = latestCheckpoint(out);
  if (o.resume === true && latest !== undefined) return { resumeFrom: latest };
  if (!hasRun) {
    if (o.resume === false) return {};
    throw new SftError(`resume: nothing to resume in ${out}: no run.json and no checkpoint in ${join(out, CHECKPOINTS)}; start without --resume`, ErrorCode.FileNotFound);
  }
  if (latest === undefined && !existsSync(join(out, ADAPTER_WEIGHTS_FILE))) {
    return { restart: `${out} holds run.json but no checkpoint (its run stopped before the first one); starting it again from step 0` };
  }
  throw new SftError(`${out} already holds a run (run.json); pass --resume to continue it or choose another --out`, ErrorCode.InvalidArgument);
}

/** train()'s answer for a run that already finished: its record, unchanged. */
function finishedRun(out: string, record: RunRecord, control: RunControl): TrainResult {
  const r = record.result as NonNullable<RunRecord['result']>;
  control.onProgress?.({ phase: 'model', message: `${out} is a finished run (${r.steps} steps, finished ${record.finished}); nothing to resume, nothing was changed` });
  return { out, steps: r.steps, finalLoss: r.finalLoss, trainSeconds: r.trainSeconds, ...(r.val ? { val: r.val } : {}), record };
}

/**
 * The error a stopped run ends with: the checkpoint of its last step is saved first (unless the
 * loop already saved it), and the message says where and how to continue.
 */
async function stoppedRun(err: SftError, trainer: Trainer, out: string, stepsPerEpoch: number): Promise<TrainingStopped> {
  const step = trainer.stepCount;
  if (step === 0) return new TrainingStopped(`${err.message}; no step was taken, so there is no checkpoint: --resume starts the run over`, undefined);
  const dir = join(out, CHECKPOINTS, `step-${step}`);
  if (!existsSync(join(dir, TRAINER_STATE_FILE))) await trainer.save(dir, { epoch: Math.floor((step - 1) / stepsPerEpoch), stepsPerEpoch });
  return new TrainingStopped(`${err.message}; checkpoint saved to ${dir} (step ${step}), continue with --resume`, dir);
}

/** `recordExtras` are added to run.json's config (e.g. the demo marks its runs). */
export async function train(options: TrainOptions, control: RunControl = {}, recordExtras: Record<string, unknown> = {}): Promise<TrainResult> {
  return trainWithWorkers(options, () => workerEntryNear(import.meta.url, 'rank-worker.js'), control, recordExtras);
}

/**
 * train() whose data-parallel worker processes run `workerEntry()` (a .js file that calls
 * serveRank, api/rank-serve.ts; asked for only when worldSize > 1). @internal
 */
export async function trainWithWorkers(
  options: TrainOptions,
  workerEntry: () => string,
  control: RunControl = {},
  recordExtras: Record<string, unknown> = {},
): Promise<TrainResult> {
  const o: ResolvedTrainOptions = parseOptions(trainOptionsSchema, options, 'train options');
  checkOutputPath(o.out, 'folder');
  if (o.worldSize === 1) return trainRank(o, control, recordExtras);
  const { resumeFrom, finished } = await planRunStart(o, resolve(o.out));
  if (finished) return finishedRun(resolve(o.out), finished, control);
  const { dir: modelDir } = await resolveModelForRun(o.model, control);
  const shared = { modelDir, ...(resumeFrom !== undefined ? { resumeFrom } : {}), ...(o.device ? { device: o.device } : {}) };
  return runDataParallel(workerEntry(), o.worldSize, o, shared, (rank) => trainRank(o, control, recordExtras, rank));
}

/**
 * One rank of a data-parallel run (`rank` given), or the whole run. Only rank 0 writes to the
 * run folder, reports progress to a caller and evaluates. The worker entry
 * (api/rank-worker.ts) calls this; users call train().
 */
export async function trainRank(
  options: unknown,
  control: RunControl,
  recordExtras: Record<string, unknown>,
  rank?: RankContext | LocalRank,
): Promise<TrainResult> {
  const o: ResolvedTrainOptions = parseOptions(trainOptionsSchema, options as TrainOptions, 'train options');
  const lead = rank === undefined || rank.rank === 0;
  const out = resolve(o.out);
  const start: RunStart = rank ? (rank.resumeFrom !== undefined ? { resumeFrom: rank.resumeFrom } : {}) : await planRunStart(o, out);
  if (start.finished) return finishedRun(out, start.finished, control);
  const { resumeFrom } = start;
  if (lead && start.restart) control.onProgress?.({ phase: 'model', message: start.restart });
  const modelDir = rank ? rank.modelDir : (await resolveModelForRun(o.model, control)).dir;

  // Label rows or instruction rows (alpaca, ShareGPT, messages, prompt/completion): api/train-data.ts.
  const trainData = await loadTrainData(modelDir, o, lead ? control : {}, o.evalEvery !== undefined);
  const { data, tokenizer, labelled } = trainData;
  if (trainData.examples.length === 0) {
    const first = trainData.skipped[0];
    throw new SftError(`no training rows in ${data.source} (${trainData.skipped.length} skipped${first ? `; the first: ${first.file} row ${first.row}, ${first.reason}` : ''})`, ErrorCode.InvalidArgument);
  }
  const examples: TokenizedExample[] = trainData.examples.map(({ ids, labels }) => ({ ids, labels }));
  // task 'classify': the prompts alone and one class index per row (the score head's loss).
  const classify = o.task === 'classify' ? await classifyTrainRows(trainData, o.numLabels) : undefined;
  control.onProgress?.({ phase: 'data', message: classify ? `${trainData.summary}; classification over ${classify.numLabels} labels` : trainData.summary });
  const rows: readonly { ids: number[] }[] = classify ? classify.examples : examples;

  // --batch-size auto: the planner's micro-batch for the longest row and the accumulation that keeps batchSize rows per step (api/plan.ts).
  const longest = rows.reduce((n, e) => Math.max(n, e.ids.length), 0);
  const batchPlan = o.autoBatch ? await autoTrainBatch(modelDir, o, longest) : undefined;
  if (batchPlan && lead) control.onProgress?.({ phase: 'model', message: batchPlan.lines.join('\n') });
  // A step's micro-batches: gradAccum per rank; rank r runs those with index = r (mod worldSize).
  const accumulation = (batchPlan?.gradAccum ?? o.gradAccum) * o.worldSize;
  const microBatch = o.batchSize / accumulation;
  const padId = tokenizer.padTokenId ?? tokenizer.eosTokenId ?? 0;
  const epochBatches = classify
    ? epochBatchesFor(classify.examples, microBatch, o.seed, (r) => collateClassify(r, padId))
    : epochBatchesFor(examples, microBatch, o.seed, (r) => collate(r, padId));
  const perEpoch = stepsPerEpoch(Math.ceil(rows.length / microBatch), accumulation);
  if (perEpoch === 0) {
    throw new SftError(`${rows.length} training rows make no full optimizer step of batch ${o.batchSize}; lower --batch-size`, ErrorCode.InvalidArgument);
  }
  const totalSteps = Math.min(o.maxSteps ?? Infinity, o.epochs * perEpoch);
  checkValidationOptions(o, trainData.valExamples?.length ?? 0, classify ? 'classify' : labelled ? 'labels' : 'instructions');

  await checkTrainMemory(modelDir, o, microBatch, longest);
  const model = await loadRunModel(modelDir, o, classify ? { numLabels: classify.numLabels, seed: o.seed } : undefined);
  let tensorboard: TensorBoardWriter | undefined;
  try {
    const info = model.info();
    await model.addLora({
      r: o.loraR,
      alpha: o.loraAlpha,
      dropout: o.loraDropout,
      useRslora: o.useRslora,
      seed: o.seed,
      // Same init on every rank; each rank its own dropout masks (rank 0's = a single process's).
      ...(rank ? { dropoutSeed: o.seed + rank.rank } : {}),
      ...(o.loraTargets ? { targets: o.loraTargets } : {}),
      ...(o.freezeLayers > 0 ? { freezeLayers: o.freezeLayers } : {}),
    });
    if (rank) {
      const handle = nativeHandle(model);
      const backend = info.device === 'cuda' && native().buildInfo().ncclBuilt ? 'nccl' : 'tcpstore';
      if ('abort' in rank) rank.abort = () => handle.abortProcessGroup();
      await handle.initProcessGroup({ rank: rank.rank, worldSize: rank.worldSize, host: rank.host, port: rank.port, backend, timeoutMs: rank.timeoutMs });
    }
    const trainer = createTrainer(model, {
      lr: o.lr,
      schedule: o.schedule,
      warmupSteps: o.warmupSteps,
      totalSteps,
      weightDecay: o.weightDecay,
      beta1: o.beta1,
      beta2: o.beta2,
      eps: o.eps,
      maxGradNorm: o.maxGradNorm,
      gradientCheckpointing: o.gradientCheckpointing,
      onNonfinite: o.onNonfinite,
      rdropAlpha: o.rdropAlpha,
      supconWeight: o.supconWeight,
      supconTemperature: o.supconTemperature,
    }, rank ? { rank: rank.rank, worldSize: rank.worldSize } : undefined);
    if (lead) await mkdir(out, { recursive: true });
    const logFile = join(out, 'log.jsonl');
    // --eval-every: validation during training (rank 0 alone), ranked by --best-metric (train/early-stopping.ts).
    const tracker = new BestTracker(o.bestMetric, o.earlyStoppingPatience);
    let evaluation: EvaluationOptions | undefined;
    if (lead && o.evalEvery !== undefined) {
      const valLabels = labelled && !classify ? labelled.data.val : undefined;
      const valPrompts = valLabels ? await buildPrompts(labelled!.builder, valLabels, EVAL_DEFAULTS.maxNewTokens) : undefined;
      const score = { batchSize: o.batchSize, maxNewTokens: EVAL_DEFAULTS.maxNewTokens, which: 'adapter' as const };
      evaluation = {
        every: o.evalEvery,
        tracker,
        run: validationRunner(model, {
          ...(classify ? { classify: await classifyValidationRows(labelled!.builder, labelled!.data.val, labelled!.data.classes) } : { lm: trainData.valExamples ?? [] }),
          batch: microBatch,
          ...(valLabels && valPrompts
            ? { scoreLabels: async () => (await scoreExamples(model, tokenizer, valPrompts, valLabels, labelled!.data.classes, score, control.signal ? { signal: control.signal } : {})).metrics }
            : {}),
          ...(control.signal ? { signal: control.signal } : {}),
        }),
        ...(o.saveBest ? { onBest: async (p) => trainer.save(join(out, BEST_DIR), { epoch: Math.floor((p.step - 1) / perEpoch), stepsPerEpoch: perEpoch }) } : {}),
        onEval: (line) => control.onProgress?.({ phase: 'validation', totalSteps, ...line }),
      };
    }
    if (resumeFrom !== undefined) {
      await trainer.resume(resumeFrom, { stepsPerEpoch: perEpoch });
      if (trainer.evaluation && o.evalEvery !== undefined) tracker.restore(trainer.evaluation, resumeFrom);
      control.onProgress?.({ phase: 'model', message: `resumed from ${resumeFrom} at step ${trainer.stepCount}` });
    }
    const build = native().buildInfo();
    const record: RunRecord = {
      kind: 'sft-train',
      config: { ...o, ...recordExtras, ...(batchPlan ? { gradAccum: batchPlan.gradAccum } : {}), out, totalSteps, microBatch, device: info.device, dtype: info.dtype, quantizedLinears: info.quantizedLinears },
      model: { input: o.model, dir: modelDir, family: info.family },
      data: { source: data.source, train: data.train.length, val: data.val.length, test: data.test.length, skipped_rows: trainData.skipped.length, skipped: trainData.skipped },
      versions: { 'node-qlora': packageVersion(), node: process.version, libtorch: build.torchVersion },
      started: new Date().toISOString(),
    };
    if (lead) {
      await truncateLog(logFile, trainer.stepCount);
      await writeJsonAtomic(join(out, 'run.json'), record);
    }
    if (lead && o.reportTo === 'tensorboard') tensorboard = TensorBoardWriter.open(join(out, TENSORBOARD_DIR), trainer.stepCount + 1);

    const started = performance.now();
    // Throughput over the logged steps (their tokens over their step time).
    let tokens = 0;
    let inputTokens = 0;
    let stepSeconds = 0;
    let peakMemoryGiB: number | undefined;
    let result;
    try {
      result = await runTraining(trainer, {
        epochBatches,
        epochs: o.epochs,
        accumulation,
        ...(o.maxSteps !== undefined ? { maxSteps: o.maxSteps } : {}),
        ...(lead ? { logFile, checkpointDir: join(out, CHECKPOINTS) } : {}),
        logEvery: o.logEvery,
        ...(tensorboard ? { tensorboard } : {}),
        ...(o.saveEvery !== undefined ? { checkpointEvery: o.saveEvery } : {}),
        onLog: (log) => {
          tokens += log.tokens;
          inputTokens += log.inputTokens;
          stepSeconds += log.seconds;
          if (log.peakMemoryGiB !== undefined) peakMemoryGiB = Math.max(peakMemoryGiB ?? 0, log.peakMemoryGiB);
          control.onProgress?.({ phase: 'train', totalSteps, ...log });
        },
        ...(control.signal ? { signal: control.signal } : {}),
        ...(evaluation ? { evaluation } : {}),
      });
    } catch (err) {
      if (lead && err instanceof SftError && err.code === ErrorCode.Aborted) throw await stoppedRun(err, trainer, out, perEpoch);
      throw err;
    }
    const trainSeconds = (performance.now() - started) / 1000;
    if (lead) {
      await model.saveAdapter(out);
      control.onProgress?.({ phase: 'save', path: out });
    }

    let val: EvalMetrics | undefined;
    // Classification runs are scored by evaluate() with task 'classify' (the head's logits, not generated text).
    if (lead && labelled && !classify && labelled.data.val.length > 0) {
      // The validation pass scores as evaluate() does by default (label rows; instruction rows are scored by sft eval).
      const prompts = await buildPrompts(labelled.builder, labelled.data.val, EVAL_DEFAULTS.maxNewTokens);
      try {
        val = (await scoreExamples(model, tokenizer, prompts, labelled.data.val, labelled.data.classes, { batchSize: o.batchSize, maxNewTokens: EVAL_DEFAULTS.maxNewTokens, which: 'adapter' }, control)).metrics;
      } catch (err) {
        if (!(err instanceof SftError && err.code === ErrorCode.Aborted)) throw err;
        throw new TrainingStopped(`${err.message}; training finished (step ${result.steps}, checkpoint saved), continue with --resume to run the validation and finish the run`, latestCheckpoint(out));
      }
    }
    // With --eval-every the loop already wrote the last step's evaluation (a second point at one step would draw twice).
    if (val && o.evalEvery === undefined) tensorboard?.scalars(result.steps, { 'eval/acc': val.acc, 'eval/resp_acc': val.resp_acc });
    // A resumed run whose checkpoint was its last step took no step now: its final loss is the logged one.
    const finalLoss = result.last?.loss ?? (lead ? await loggedLoss(logFile, result.steps) : null);
    record.finished = new Date().toISOString();
    record.result = {
      steps: result.steps,
      finalLoss,
      trainSeconds,
      tokensPerSecond: stepSeconds > 0 ? tokens / stepSeconds : 0,
      inputTokensPerSecond: stepSeconds > 0 ? inputTokens / stepSeconds : 0,
      ...(peakMemoryGiB !== undefined ? { peakMemoryGiB } : {}),
      ...(val ? { val } : {}),
      ...(evaluation && tracker.best ? { best: { metric: tracker.metric, ...tracker.best, ...(o.saveBest ? { dir: join(out, BEST_DIR) } : {}) } } : {}),
      ...(result.stoppedEarly ? { stoppedEarly: result.stoppedEarly } : {}),
    };
    if (lead) await writeJsonAtomic(join(out, 'run.json'), record);
    return { out, steps: result.steps, finalLoss, trainSeconds, ...(val ? { val } : {}), record };
  } finally {
    tensorboard?.close();
    await model.dispose();
  }
}
