// train(): the seed's job. Rows -> prompts (cut to fit) + answers -> LoRA SFT on a (4-bit)
// base -> a PEFT adapter in `out`, with run.json (every option, data counts, versions),
// log.jsonl and resumable checkpoints. An aborted run saves a checkpoint first, so
// `resume: true` continues where it stopped. worldSize > 1: data parallel over that many
// processes (train/distributed.ts); rank 0, this process, writes everything.
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
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
import { runTraining, stepsPerEpoch } from '../train/loop.js';
import { createTrainer } from '../train/trainer.js';
import { loadLabelledData, type LabelledData } from './dataset.js';
import { buildPrompts, scoreExamples } from './evaluate.js';
import { promptSetup, loadRunModel } from './task-setup.js';
import { nativeHandle } from './model.js';
import { resolveModelForRun } from './model-source.js';
import { parseOptions } from '../config/parse-options.js';
import type { RunControl } from './progress.js';

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

/** The newest step-N folder under out/checkpoints that holds a complete trainer state. */
export function latestCheckpoint(out: string): string | undefined {
  const dir = join(out, CHECKPOINTS);
  if (!existsSync(dir)) return undefined;
  const steps = readdirSync(dir)
    .map((name) => /^step-(\d+)$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null && existsSync(join(dir, m[0], 'trainer_state.json')))
    .map((m) => Number(m[1]))
    .sort((a, b) => b - a);
  return steps.length ? join(dir, `step-${steps[0]}`) : undefined;
}

async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await writeFile(`${file}.tmp`, `${JSON.stringify(value, null, 2)}\n`);
  await rename(`${file}.tmp`, file);
}

/** Keeps the log lines of steps up to `step` (a resumed run rewrites what came after). */
async function truncateLog(file: string, step: number): Promise<void> {
  if (!existsSync(file)) return;
  const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l.trim() !== '');
  const kept = lines.filter((l) => (JSON.parse(l) as TrainLogLine).step <= step);
  await writeFile(file, kept.map((l) => `${l}\n`).join(''));
}

/** Micro-batches of one epoch: a seeded shuffle per epoch, so data order depends only on (seed, epoch). */
function epochBatchesFor(examples: readonly TokenizedExample[], microBatch: number, seed: number, padId: number): (epoch: number) => Batch[] {
  let current: { epoch: number; batches: Batch[] } | undefined; // only the current epoch is needed
  return (epoch) => {
    if (current?.epoch !== epoch) {
      const order = seededShuffle(examples, seed + 1000 * (epoch + 1));
      const batches: Batch[] = [];
      for (let i = 0; i < order.length; i += microBatch) batches.push(collate(order.slice(i, i + microBatch), padId));
      current = { epoch, batches };
    }
    return current.batches;
  };
}

/** The checkpoint to resume from (undefined: a fresh run); checks that a fresh run overwrites nothing. */
function resumeCheckpoint(o: ResolvedTrainOptions, out: string): string | undefined {
  const resumeFrom = o.resume === false ? undefined : o.resume === true ? latestCheckpoint(out) : resolve(o.resume);
  if (o.resume === true && resumeFrom === undefined) {
    throw new SftError(`resume: no checkpoint in ${join(out, CHECKPOINTS)}; start without --resume`, ErrorCode.FileNotFound);
  }
  if (resumeFrom === undefined && existsSync(join(out, 'run.json'))) {
    throw new SftError(`${out} already holds a run (run.json); pass --resume to continue it or choose another --out`, ErrorCode.InvalidArgument);
  }
  return resumeFrom;
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
  if (o.worldSize === 1) return trainRank(o, control, recordExtras);
  const resumeFrom = resumeCheckpoint(o, resolve(o.out));
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
  const resumeFrom = rank ? rank.resumeFrom : resumeCheckpoint(o, out);
  const modelDir = rank ? rank.modelDir : (await resolveModelForRun(o.model, control)).dir;

  const data: LabelledData = await loadLabelledData(o, 'train');
  if (data.train.length === 0) {
    throw new SftError(`no training rows in ${data.source} (${data.skipped.length} skipped)`, ErrorCode.InvalidArgument);
  }
  const { tokenizer, builder } = await promptSetup(modelDir, o);
  const answerOf = new Map(data.classes.map((c) => [c.name, c.answer]));
  const built = await builder.examples(data.train.map((e) => ({ text: e.text, answer: answerOf.get(e.label) as string })));
  const examples: TokenizedExample[] = built.map(({ ids, labels }) => ({ ids, labels }));
  const cut = built.filter((e) => e.cutTokens > 0).length;
  control.onProgress?.({
    phase: 'data',
    message: `${data.train.length} training rows from ${data.source} (val ${data.val.length}, test ${data.test.length}, skipped ${data.skipped.length}; ${cut} texts cut to fit max-seq-len ${o.maxSeqLen})`,
  });

  // A step's micro-batches: gradAccum per rank; rank r runs those with index = r (mod worldSize).
  const accumulation = o.gradAccum * o.worldSize;
  const microBatch = o.batchSize / accumulation;
  const padId = tokenizer.padTokenId ?? tokenizer.eosTokenId ?? 0;
  const epochBatches = epochBatchesFor(examples, microBatch, o.seed, padId);
  const perEpoch = stepsPerEpoch(Math.ceil(examples.length / microBatch), accumulation);
  if (perEpoch === 0) {
    throw new SftError(`${examples.length} training rows make no full optimizer step of batch ${o.batchSize}; lower --batch-size`, ErrorCode.InvalidArgument);
  }
  const totalSteps = Math.min(o.maxSteps ?? Infinity, o.epochs * perEpoch);

  const model = await loadRunModel(modelDir, o);
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
    }, rank ? { rank: rank.rank, worldSize: rank.worldSize } : undefined);
    if (lead) await mkdir(out, { recursive: true });
    const logFile = join(out, 'log.jsonl');
    if (resumeFrom !== undefined) {
      await trainer.resume(resumeFrom);
      if (lead) await truncateLog(logFile, trainer.stepCount);
      control.onProgress?.({ phase: 'model', message: `resumed from ${resumeFrom} at step ${trainer.stepCount}` });
    }
    const build = native().buildInfo();
    const record: RunRecord = {
      kind: 'sft-train',
      config: { ...o, ...recordExtras, out, totalSteps, microBatch, device: info.device, dtype: info.dtype, quantizedLinears: info.quantizedLinears },
      model: { input: o.model, dir: modelDir, family: info.family },
      data: { source: data.source, train: data.train.length, val: data.val.length, test: data.test.length, skipped_rows: data.skipped.length, skipped: data.skipped },
      versions: { 'node-qlora': packageVersion(), node: process.version, libtorch: build.torchVersion },
      started: new Date().toISOString(),
    };
    if (lead) await writeJsonAtomic(join(out, 'run.json'), record);

    const started = performance.now();
    const firstStep = trainer.stepCount;
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
        ...(o.saveEvery !== undefined ? { checkpointEvery: o.saveEvery } : {}),
        onLog: (log) => {
          tokens += log.tokens;
          inputTokens += log.inputTokens;
          stepSeconds += log.seconds;
          if (log.peakMemoryGiB !== undefined) peakMemoryGiB = Math.max(peakMemoryGiB ?? 0, log.peakMemoryGiB);
          control.onProgress?.({ phase: 'train', totalSteps, ...log });
        },
        ...(control.signal ? { signal: control.signal } : {}),
      });
    } catch (err) {
      if (lead && err instanceof SftError && err.code === ErrorCode.Aborted && trainer.stepCount > firstStep) {
        const dir = join(out, CHECKPOINTS, `step-${trainer.stepCount}`);
        await trainer.save(dir);
        throw new SftError(`${err.message}; checkpoint saved to ${dir}, continue with --resume`, ErrorCode.Aborted);
      }
      throw err;
    }
    const trainSeconds = (performance.now() - started) / 1000;
    if (lead) {
      await model.saveAdapter(out);
      control.onProgress?.({ phase: 'save', path: out });
    }

    let val: EvalMetrics | undefined;
    if (lead && data.val.length > 0) {
      // The validation pass scores as evaluate() does by default.
      const prompts = await buildPrompts(builder, data.val, EVAL_DEFAULTS.maxNewTokens);
      val = (await scoreExamples(model, tokenizer, prompts, data.val, data.classes, { batchSize: o.batchSize, maxNewTokens: EVAL_DEFAULTS.maxNewTokens, which: 'adapter' }, control)).metrics;
    }
    record.finished = new Date().toISOString();
    record.result = {
      steps: result.steps,
      finalLoss: result.last?.loss ?? null,
      trainSeconds,
      tokensPerSecond: stepSeconds > 0 ? tokens / stepSeconds : 0,
      inputTokensPerSecond: stepSeconds > 0 ? inputTokens / stepSeconds : 0,
      ...(peakMemoryGiB !== undefined ? { peakMemoryGiB } : {}),
      ...(val ? { val } : {}),
    };
    if (lead) await writeJsonAtomic(join(out, 'run.json'), record);
    return { out, steps: result.steps, finalLoss: result.last?.loss ?? null, trainSeconds, ...(val ? { val } : {}), record };
  } finally {
    await model.dispose();
  }
}
