// The training step driver: TS owns the loop (accumulation boundaries, learning-rate
// schedule, logging, checkpoints), the native model owns the math of each step.
//
// One call to step() is one optimizer step over its micro-batches. The loss is normalized
// per token over the whole accumulation window (lossScale = 1 / all target tokens), so
// accumulating k micro-batches gives the gradient of one batch holding them all.
//
// Data parallel (a `rank` in the constructor): every rank is handed the step's micro-batches
// of all ranks, runs those with index = rank (mod worldSize), scales by the target tokens of
// the whole step, and sums the gradients over the ranks before the optimizer step. The ranks
// then hold the gradient of the whole step, bit-identical, so they clip (by the global norm)
// and update identically: N ranks compute what 1 process with the combined batch computes.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { parseOptions } from '../config/parse-options.js';
import { trainerOptionsSchema, type TrainerOptions } from '../config/run-options.js';
import type { Model } from '../engine/model.js';
import { nativeHandle } from '../engine/model.js';
import { checkAdapterFits } from '../engine/adapter-fit.js';
import { writeFolderAtomic } from '../engine/atomic-write.js';
import type { Batch } from '../data/collate.js';
import { countPackedTargets, isPackedBatch, packBatch, type PackedBatch } from '../data/pack.js';
import { isClassifyBatch, packClassifyBatch, type ClassifyBatch } from '../engine/classify-batch.js';
import { ErrorCode, SftError } from '../errors.js';
import { native } from '../native.js';
import type { BestState } from './early-stopping.js';
import { BEST_METRICS } from './early-stopping.js';
import { learningRate, type Schedule } from './schedule.js';

// Options, their defaults (config/defaults.ts) and docs are train()'s optimizer options.
export type { TrainerOptions };
type Resolved = z.output<typeof trainerOptionsSchema>;

export interface StepLog {
  /** 1-based optimizer step just taken. */
  step: number;
  /** Mean loss per target token over the step's micro-batches (classification: per row). */
  loss: number;
  lr: number;
  /** Gradient norm before clipping. */
  gradNorm: number;
  /** Target (loss-bearing) tokens of the step; in classification mode, its rows (one target each). */
  tokens: number;
  /** All non-padding tokens the step processed (prompt + response). */
  inputTokens: number;
  seconds: number;
  /** Target tokens per second. */
  tokensPerSecond: number;
  /** Processed (non-padding) tokens per second: the throughput figure. */
  inputTokensPerSecond: number;
  /** Peak CUDA memory during the step (GiB); absent on CPU. */
  peakMemoryGiB?: number;
  /** This step's loss or gradient norm was NaN / Inf and its update was dropped (onNonfinite 'skip'). */
  skipped?: true;
  /** Steps dropped so far for a NaN / Inf loss or gradient norm; absent while none was. */
  skippedSteps?: number;
}

/** This process's place in a data-parallel run (its model joined the process group). */
export interface TrainerRank {
  rank: number;
  worldSize: number;
}

/** Every complete checkpoint folder holds this file (folders appear whole, by rename). */
export const TRAINER_STATE_FILE = 'trainer_state.json';
const OPTIMIZER_FILE = 'optimizer.safetensors';

export class Trainer {
  readonly model: Model;
  readonly options: Resolved;
  readonly rank: TrainerRank;
  #step = 0;
  /** Steps whose update was dropped for a NaN / Inf (onNonfinite 'skip'): the optimizer did not count them. */
  #skipped = 0;
  #lastFinite: { step: number; loss: number } | undefined;
  /** The best validation figure and patience count so far (runs that evaluate during training); saved with every checkpoint. */
  evaluation: BestState | undefined;

  constructor(model: Model, options: TrainerOptions, rank: TrainerRank = { rank: 0, worldSize: 1 }) {
    if (!model.lora) {
      throw new SftError('createTrainer: the model has no LoRA adapter; call model.addLora() or model.loadAdapter() first', ErrorCode.InvalidArgument);
    }
    this.model = model;
    this.options = parseOptions(trainerOptionsSchema, options, 'trainer options');
    this.rank = rank;
  }

  /** Optimizer steps taken so far. */
  get stepCount(): number {
    return this.#step;
  }

  get schedule(): Schedule {
    return { name: this.options.schedule, lr: this.options.lr, warmupSteps: this.options.warmupSteps, totalSteps: this.options.totalSteps };
  }

  /**
   * One optimizer step over `microBatches` (gradient accumulation = their number), each a
   * right-padded Batch (packed here without its padding) or an already packed one; for a model
   * loaded with task 'classify', ClassifyBatches (one label per row: the loss is the mean over
   * the step's rows, with the options' R-Drop / SupCon terms). Data parallel: the micro-batches
   * of all ranks, the same list on every rank.
   */
  async step(microBatches: (Batch | PackedBatch | ClassifyBatch)[]): Promise<StepLog> {
    if (microBatches.length === 0) throw new SftError('trainer.step: no micro-batches', ErrorCode.InvalidArgument);
    const handle = nativeHandle(this.model);
    const classify = this.model.task === 'classify';
    const mismatch = microBatches.findIndex((b) => isClassifyBatch(b) !== classify);
    if (mismatch >= 0) {
      throw new SftError(
        classify
          ? `trainer.step: micro-batch ${mismatch} is not a classification batch ({ids, attentionMask, labels: one class index per row}); the model was loaded with task 'classify'`
          : `trainer.step: micro-batch ${mismatch} holds one label per row (a classification batch) but the model was loaded without a score head; load it with {task: 'classify', numLabels}`,
        ErrorCode.InvalidArgument,
      );
    }
    const packed = classify
      ? (microBatches as ClassifyBatch[]).map((b) => packClassifyBatch(b, this.model.numLabels!))
      : (microBatches as (Batch | PackedBatch)[]).map((b) => (isPackedBatch(b) ? b : packBatch(b)));
    // The loss is a mean over the step's targets: tokens in generation mode, rows in classification mode.
    const tokens = classify ? packed.reduce((n, b) => n + b.seqLens.length, 0) : (packed as PackedBatch[]).reduce((n, b) => n + countPackedTargets(b), 0);
    if (tokens === 0) {
      throw new SftError(`trainer.step: the micro-batches hold no ${classify ? 'rows' : 'target tokens (every label is -100)'}`, ErrorCode.InvalidArgument);
    }
    const onCuda = this.model.info().device === 'cuda';
    if (onCuda) native().cudaResetPeak();
    const started = performance.now();
    let lossSum = 0;
    const { rank, worldSize } = this.rank;
    const o = this.options;
    for (let i = rank; i < packed.length; i += worldSize) {
      const batch = packed[i]!;
      if (batch.seqLens.length === 0) continue; // every row was padding: nothing to run
      const common = { lossScale: 1 / tokens, gradientCheckpointing: o.gradientCheckpointing };
      const r = classify
        ? await handle.classifyStep(batch as ReturnType<typeof packClassifyBatch>, { ...common, rdropAlpha: o.rdropAlpha, supconWeight: o.supconWeight, supconTemperature: o.supconTemperature })
        : await handle.trainStep(batch as PackedBatch, common);
      lossSum += r.lossSum;
    }
    if (worldSize > 1) [lossSum] = (await handle.allReduceGradients([lossSum])) as [number];
    const lr = learningRate(this.schedule, this.#step);
    // A NaN / Inf loss or gradient norm never reaches the weights: native checks the norm
    // before the update (skipNonFinite) and a bad loss skips the optimizer call.
    const lossFinite = Number.isFinite(lossSum);
    if (!lossFinite) await handle.zeroGrad();
    const { gradNorm, applied } = lossFinite
      ? await handle.optimizerStep({
          lr,
          beta1: this.options.beta1,
          beta2: this.options.beta2,
          eps: this.options.eps,
          weightDecay: this.options.weightDecay,
          maxGradNorm: this.options.maxGradNorm,
          skipNonFinite: true,
        })
      : { gradNorm: Number.NaN, applied: false };
    if (!applied) this.#nonFinite(lossFinite ? 'gradient norm' : 'loss', lossFinite ? gradNorm : lossSum / tokens, lr);
    else this.#lastFinite = { step: this.#step + 1, loss: lossSum / tokens };
    this.#step++;
    const seconds = (performance.now() - started) / 1000;
    const inputTokens = packed.reduce((n, b) => n + b.ids.length, 0);
    const log: StepLog = {
      step: this.#step,
      loss: lossSum / tokens,
      lr,
      gradNorm,
      tokens,
      inputTokens,
      seconds,
      tokensPerSecond: tokens / seconds,
      inputTokensPerSecond: inputTokens / seconds,
      ...(applied ? {} : { skipped: true as const }),
      ...(this.#skipped > 0 ? { skippedSteps: this.#skipped } : {}),
    };
    if (onCuda) log.peakMemoryGiB = native().cudaMemory().peakAllocated / 2 ** 30;
    return log;
  }

  /** onNonfinite: 'stop' throws (the step is not counted); 'skip' counts the step as skipped. */
  #nonFinite(what: 'loss' | 'gradient norm', value: number, lr: number): void {
    const step = this.#step + 1;
    if (this.options.onNonfinite === 'skip') {
      this.#skipped++;
      return;
    }
    const last = this.#lastFinite ? `${this.#lastFinite.loss.toFixed(4)} at step ${this.#lastFinite.step}` : 'none since this trainer started';
    throw new SftError(
      `training step ${step}: the ${what} is ${value} (lr ${lr.toExponential(2)}; last finite loss ${last}); the update was not applied. ` +
        'Lower --lr or check the data and resume from the last checkpoint, or pass --on-nonfinite skip to drop such steps',
      what === 'loss' ? ErrorCode.NonFiniteLoss : ErrorCode.NonFiniteGradNorm,
    );
  }

  /**
   * Writes a resumable checkpoint: the adapter (PEFT format), the optimizer state and the step
   * (with `position`, the epoch and the steps an epoch holds, which resume checks). The folder
   * is written whole under a temporary name and renamed into place: a save that is killed or
   * runs out of disk leaves the previous checkpoint (and an older `dir`) intact.
   */
  async save(dir: string, position?: CheckpointPosition): Promise<void> {
    await writeFolderAtomic(dir, async (temp) => {
      await this.model.saveAdapter(temp);
      // Written by the model's thread, under a temporary name renamed into place.
      const { step: optimizerStep } = await nativeHandle(this.model).saveOptimizerState(join(temp, OPTIMIZER_FILE));
      const state: TrainerState = {
        step: this.#step,
        optimizerStep,
        ...(this.#skipped > 0 ? { skippedSteps: this.#skipped } : {}),
        ...position,
        ...(this.evaluation ? { evaluation: this.evaluation } : {}),
        options: this.options,
      };
      await writeFile(join(temp, TRAINER_STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
    });
  }

  /**
   * Restores adapter weights, optimizer state and step from save(dir), after checking the
   * checkpoint's fields against this trainer (and `position`'s steps per epoch, when given):
   * a step beyond the run's total, an optimizer step that disagrees, an epoch that does not
   * hold its step, or an adapter of another rank is refused with CHECKPOINT_INVALID /
   * ADAPTER_MISMATCH before anything is loaded. Returns the checkpoint's state.
   */
  async resume(dir: string, position?: Pick<CheckpointPosition, 'stepsPerEpoch'>): Promise<TrainerState> {
    const state = await readTrainerState(dir);
    // onNonfinite may change: a run stopped by a NaN resumes with 'skip'.
    const differing = (Object.keys(this.options) as (keyof Resolved)[]).filter((k) => k !== 'onNonfinite' && JSON.stringify(state.options[k]) !== JSON.stringify(this.options[k]));
    if (differing.length > 0) {
      throw new SftError(
        `cannot resume from ${dir}: trainer options differ from the checkpoint's (${differing.map((k) => `${k}: ${JSON.stringify(state.options[k])} saved, ${JSON.stringify(this.options[k])} now`).join('; ')})`,
        ErrorCode.InvalidArgument,
      );
    }
    checkStatePosition(dir, state, this.options.totalSteps, position?.stepsPerEpoch);
    await checkAdapterFits(dir, this.model, this.model.lora?.spec);
    if (!existsSync(join(dir, OPTIMIZER_FILE))) throw new SftError(`cannot resume from ${dir}: ${OPTIMIZER_FILE} is missing`, ErrorCode.CheckpointInvalid);
    await this.model.loadAdapterWeights(dir);
    await nativeHandle(this.model).loadOptimizerState(join(dir, OPTIMIZER_FILE), { step: state.optimizerStep });
    this.#step = state.step;
    this.#skipped = state.skippedSteps ?? 0;
    this.evaluation = state.evaluation;
    return state;
  }
}

/** Where in the run a checkpoint was taken: the 0-based epoch of its last step, and the optimizer steps one epoch holds. */
export interface CheckpointPosition {
  epoch: number;
  stepsPerEpoch: number;
}

/** trainer_state.json. */
export interface TrainerState extends Partial<CheckpointPosition> {
  /** Optimizer steps taken (the checkpoint is the state after this step). */
  step: number;
  /** The native optimizer's own step count (it drives AdamW's bias correction): step - skippedSteps. */
  optimizerStep: number;
  /** Steps whose update was dropped for a NaN / Inf loss or gradient norm (onNonfinite 'skip'). */
  skippedSteps?: number;
  /** The best validation figure so far and the evaluations since (runs that evaluate during training). */
  evaluation?: BestState;
  options: Resolved;
}

const count = z.number().int().nonnegative();
const trainerStateSchema = z
  .looseObject({
    step: count,
    optimizerStep: count,
    skippedSteps: count.optional(),
    epoch: count.optional(),
    stepsPerEpoch: z.number().int().positive().optional(),
    evaluation: z
      .object({
        metric: z.enum(BEST_METRICS),
        best: z.object({ value: z.number(), step: count }).optional(),
        sinceBest: count,
      })
      .optional(),
    options: z.looseObject({ totalSteps: z.number().int().positive() }),
  })
  .refine((s) => (s.epoch === undefined) === (s.stepsPerEpoch === undefined), { message: 'epoch and stepsPerEpoch come together', path: ['epoch'] });

/** Reads and checks the shape of dir/trainer_state.json. */
export async function readTrainerState(dir: string): Promise<TrainerState> {
  const file = join(dir, TRAINER_STATE_FILE);
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new SftError(
      `cannot resume from ${dir}: ${TRAINER_STATE_FILE} is ${missing ? 'missing' : `unreadable (${(err as Error).message})`}`,
      missing ? ErrorCode.FileNotFound : ErrorCode.CheckpointInvalid,
    );
  }
  const parsed = trainerStateSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`).join('; ');
    throw new SftError(`cannot resume from ${dir}: ${file} is not a trainer state this version wrote (${problems})`, ErrorCode.CheckpointInvalid);
  }
  return parsed.data as unknown as TrainerState; // options: compared key by key with the resuming trainer's
}

/** The checkpoint's step, epoch and totals agree with each other and with the run resuming it. */
function checkStatePosition(dir: string, state: TrainerState, totalSteps: number, stepsPerEpoch: number | undefined): void {
  const invalid = (what: string) => new SftError(`cannot resume from ${dir}: ${TRAINER_STATE_FILE} ${what}; the checkpoint was edited or belongs to another run`, ErrorCode.CheckpointInvalid);
  if (state.step > totalSteps) throw invalid(`says step ${state.step}, beyond the run's ${totalSteps} steps`);
  const named = /^step-(\d+)$/.exec(basename(dir)); // the loop's folder names
  if (named && Number(named[1]) !== state.step) throw invalid(`says step ${state.step} in a folder named ${named[0]}`);
  const skipped = state.skippedSteps ?? 0;
  if (state.optimizerStep + skipped !== state.step) {
    throw invalid(`says step ${state.step} but optimizerStep ${state.optimizerStep}${skipped ? ` and ${skipped} skipped steps` : ''}`);
  }
  if (state.stepsPerEpoch !== undefined) {
    if (state.step > 0 && state.epoch !== Math.floor((state.step - 1) / state.stepsPerEpoch)) {
      throw invalid(`says step ${state.step} in epoch ${state.epoch}, but epochs of ${state.stepsPerEpoch} steps put that step in epoch ${Math.floor((state.step - 1) / state.stepsPerEpoch)}`);
    }
    if (stepsPerEpoch !== undefined && stepsPerEpoch !== state.stepsPerEpoch) {
      throw new SftError(
        `cannot resume from ${dir}: its epochs held ${state.stepsPerEpoch} optimizer steps, this run's hold ${stepsPerEpoch}; the training rows or the batch size changed (--data, --limit, --val-split, --batch-size)`,
        ErrorCode.CheckpointInvalid,
      );
    }
  }
}

export function createTrainer(model: Model, options: TrainerOptions, rank?: TrainerRank): Trainer {
  return new Trainer(model, options, rank);
}
