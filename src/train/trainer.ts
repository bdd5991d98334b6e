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
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from 'zod';
import { parseOptions } from '../config/parse-options.js';
import { trainerOptionsSchema, type TrainerOptions } from '../config/run-options.js';
import type { Model } from '../engine/model.js';
import { nativeHandle } from '../engine/model.js';
import type { Batch } from '../data/collate.js';
import { countPackedTargets, isPackedBatch, packBatch, type PackedBatch } from '../data/pack.js';
import { ErrorCode, SftError } from '../errors.js';
import { native } from '../native.js';
import { learningRate, type Schedule } from './schedule.js';

// Options, their defaults (config/defaults.ts) and docs are train()'s optimizer options.
export type { TrainerOptions };
type Resolved = z.output<typeof trainerOptionsSchema>;

export interface StepLog {
  /** 1-based optimizer step just taken. */
  step: number;
  /** Mean loss per target token over the step's micro-batches. */
  loss: number;
  lr: number;
  /** Gradient norm before clipping. */
  gradNorm: number;
  /** Target (loss-bearing) tokens of the step. */
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
}

/** This process's place in a data-parallel run (its model joined the process group). */
export interface TrainerRank {
  rank: number;
  worldSize: number;
}

const STATE_FILE = 'trainer_state.json';
const OPTIMIZER_FILE = 'optimizer.safetensors';

export class Trainer {
  readonly model: Model;
  readonly options: Resolved;
  readonly rank: TrainerRank;
  #step = 0;

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
   * right-padded Batch (packed here without its padding) or an already packed one. Data
   * parallel: the micro-batches of all ranks, the same list on every rank.
   */
  async step(microBatches: (Batch | PackedBatch)[]): Promise<StepLog> {
    if (microBatches.length === 0) throw new SftError('trainer.step: no micro-batches', ErrorCode.InvalidArgument);
    const handle = nativeHandle(this.model);
    const packed = microBatches.map((b) => (isPackedBatch(b) ? b : packBatch(b)));
    const tokens = packed.reduce((n, b) => n + countPackedTargets(b), 0);
    if (tokens === 0) {
      throw new SftError('trainer.step: the micro-batches hold no target tokens (every label is -100)', ErrorCode.InvalidArgument);
    }
    const onCuda = this.model.info().device === 'cuda';
    if (onCuda) native().cudaResetPeak();
    const started = performance.now();
    let lossSum = 0;
    const { rank, worldSize } = this.rank;
    for (let i = rank; i < packed.length; i += worldSize) {
      const batch = packed[i]!;
      if (batch.seqLens.length === 0) continue; // every row was padding: nothing to run
      const r = await handle.trainStep(batch, { lossScale: 1 / tokens, gradientCheckpointing: this.options.gradientCheckpointing });
      lossSum += r.lossSum;
    }
    if (worldSize > 1) [lossSum] = (await handle.allReduceGradients([lossSum])) as [number];
    const lr = learningRate(this.schedule, this.#step);
    const { gradNorm } = await handle.optimizerStep({
      lr,
      beta1: this.options.beta1,
      beta2: this.options.beta2,
      eps: this.options.eps,
      weightDecay: this.options.weightDecay,
      maxGradNorm: this.options.maxGradNorm,
    });
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
    };
    if (onCuda) log.peakMemoryGiB = native().cudaMemory().peakAllocated / 2 ** 30;
    return log;
  }

  /**
   * Writes a resumable checkpoint: the adapter (PEFT format), the optimizer state and the step.
   * Files are written under temporary names and renamed, so an interrupted save leaves the
   * previous checkpoint intact.
   */
  async save(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    await this.model.saveAdapter(dir);
    // Written by the model's thread, under a temporary name renamed into place.
    const { step: optimizerStep } = await nativeHandle(this.model).saveOptimizerState(join(dir, OPTIMIZER_FILE));
    const meta = { step: this.#step, optimizerStep, options: this.options };
    await writeFile(join(dir, `${STATE_FILE}.tmp`), `${JSON.stringify(meta, null, 2)}\n`);
    await rename(join(dir, `${STATE_FILE}.tmp`), join(dir, STATE_FILE));
  }

  /** Restores adapter weights, optimizer state and step from save(dir). */
  async resume(dir: string): Promise<void> {
    let meta: { step: number; optimizerStep: number; options: Resolved };
    try {
      meta = JSON.parse(await readFile(join(dir, STATE_FILE), 'utf8')) as typeof meta;
    } catch (err) {
      throw new SftError(`cannot resume from ${dir}: ${STATE_FILE} is missing or unreadable (${(err as Error).message})`, ErrorCode.FileNotFound);
    }
    const differing = (Object.keys(this.options) as (keyof Resolved)[]).filter((k) => JSON.stringify(meta.options[k]) !== JSON.stringify(this.options[k]));
    if (differing.length > 0) {
      throw new SftError(
        `cannot resume from ${dir}: trainer options differ from the checkpoint's (${differing.map((k) => `${k}: ${JSON.stringify(meta.options[k])} saved, ${JSON.stringify(this.options[k])} now`).join('; ')})`,
        ErrorCode.InvalidArgument,
      );
    }
    await this.model.loadAdapterWeights(dir);
    await nativeHandle(this.model).loadOptimizerState(join(dir, OPTIMIZER_FILE), { step: meta.optimizerStep });
    this.#step = meta.step;
  }
}

export function createTrainer(model: Model, options: TrainerOptions, rank?: TrainerRank): Trainer {
  return new Trainer(model, options, rank);
}
