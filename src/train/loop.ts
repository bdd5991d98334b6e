// The training loop, top to bottom: for each optimizer step, take its micro-batches, step,
// log, checkpoint. Data order is a pure function of (seed, epoch), so a run resumed from a
// checkpoint at step k skips exactly the k steps it already took and continues as if never
// stopped (the checkpoint holds the adapter, the optimizer moments and step, and the dropout
// generator's state).
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Batch } from '../data/collate.js';
import type { ClassifyBatch } from '../engine/classify-batch.js';
import { ErrorCode, SftError } from '../errors.js';
import { writeFailure } from '../engine/atomic-write.js';
import type { TensorBoardWriter } from './tensorboard.js';
import type { StepLog, Trainer } from './trainer.js';

export interface TrainLoopOptions {
  /** Micro-batches of one epoch, in order, for that epoch (e.g. a seeded shuffle). */
  epochBatches: (epoch: number) => (Batch | ClassifyBatch)[];
  epochs: number;
  /** Micro-batches per optimizer step (gradient accumulation). @default 1 */
  accumulation?: number;
  /** Stop after this many optimizer steps in all. @default epochs x steps per epoch */
  maxSteps?: number;
  /** Append a JSON line per logged step here. @default no log file */
  logFile?: string;
  /** Log every N steps (and the last one). @default 1 */
  logEvery?: number;
  /** Checkpoints go to <checkpointDir>/step-<n> at each epoch's end (and every checkpointEvery steps). @default no checkpoints */
  checkpointDir?: string;
  /** Also checkpoint every N steps. @default only at epoch ends */
  checkpointEvery?: number;
  /** Also write each logged step as TensorBoard scalars. @default none */
  tensorboard?: TensorBoardWriter;
  /** Called with each logged step (UIs). @default none */
  onLog?: (log: StepLog & { epoch: number }) => void;
  /** Draw a progress line here after every step (e.g. process.stderr). @default none */
  progress?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Stops before the next step with an ABORTED SftError. @default none */
  signal?: AbortSignal;
}

export interface TrainLoopResult {
  steps: number;
  last?: StepLog;
  checkpoints: string[];
}

/** Optimizer steps one epoch holds. */
export function stepsPerEpoch(batches: number, accumulation: number): number {
  return Math.floor(batches / accumulation);
}

/** `[#####.......]`: the share done of a piece of work, in `width` characters. */
export function progressBar(done: number, total: number, width = 24): string {
  const filled = total > 0 ? Math.round((Math.min(done, total) / total) * width) : width;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/** One status line: bar, step, loss, lr, grad norm, throughput (processed tokens), memory. */
export function progressLine(
  log: Pick<StepLog, 'loss' | 'lr' | 'gradNorm' | 'tokensPerSecond' | 'peakMemoryGiB' | 'skippedSteps'> & { inputTokensPerSecond?: number | undefined },
  done: number,
  total: number,
  tty: boolean,
): string {
  const bar = progressBar(done, total);
  const mem = log.peakMemoryGiB === undefined ? '' : ` mem ${log.peakMemoryGiB.toFixed(1)} GiB`;
  const skipped = log.skippedSteps ? ` (${log.skippedSteps} skipped: NaN / Inf)` : '';
  const text = `${bar} step ${done}/${total} loss ${log.loss.toFixed(4)} lr ${log.lr.toExponential(2)} grad ${log.gradNorm.toFixed(3)} ${Math.round(log.inputTokensPerSecond ?? log.tokensPerSecond)} tok/s${mem}${skipped}`;
  return tty ? `\r${text}${done === total ? '\n' : ''}` : `${text}\n`;
}

/** What stopped the run: a signal's name when the caller aborted with one (the CLI does), else 'aborted'. */
function abortReason(signal: AbortSignal): string {
  return typeof signal.reason === 'string' ? signal.reason : 'aborted';
}

/** A half-written last line (the disk full, the process killed) is dropped when the run resumes. */
async function appendLogLine(file: string, entry: StepLog & { epoch: number }): Promise<void> {
  try {
    await appendFile(file, `${JSON.stringify(entry)}\n`);
  } catch (err) {
    throw writeFailure(file, err, 'the lines logged before are kept and a resumed run drops a half-written one');
  }
}

export async function runTraining(trainer: Trainer, o: TrainLoopOptions): Promise<TrainLoopResult> {
  const accumulation = o.accumulation ?? 1;
  const logEvery = o.logEvery ?? 1;
  if (!Number.isInteger(accumulation) || accumulation < 1) {
    throw new SftError(`accumulation must be an integer >= 1, got ${accumulation}`, ErrorCode.InvalidArgument);
  }
  const perEpoch = stepsPerEpoch(o.epochBatches(0).length, accumulation);
  if (perEpoch === 0) {
    throw new SftError(`an epoch holds fewer micro-batches than one optimizer step needs (${accumulation})`, ErrorCode.InvalidArgument);
  }
  const total = Math.min(o.maxSteps ?? Infinity, o.epochs * perEpoch);
  if (o.logFile) await mkdir(dirname(o.logFile), { recursive: true });
  const checkpoints: string[] = [];
  let last: StepLog | undefined;

  for (let step = trainer.stepCount; step < total; ) {
    const epoch = Math.floor(step / perEpoch);
    const batches = o.epochBatches(epoch);
    for (let i = step - epoch * perEpoch; i < perEpoch && step < total; i++, step++) {
      if (o.signal?.aborted) throw new SftError(`training stopped at step ${step} (${abortReason(o.signal)})`, ErrorCode.Aborted);
      last = await trainer.step(batches.slice(i * accumulation, (i + 1) * accumulation));
      const done = step + 1;
      if (o.progress) o.progress.write(progressLine(last, done, total, o.progress.isTTY === true));
      if (done % logEvery === 0 || done === total) {
        const entry = { ...last, epoch };
        if (o.logFile) await appendLogLine(o.logFile, entry);
        o.tensorboard?.logStep(entry);
        o.onLog?.(entry);
      }
      const epochEnd = i === perEpoch - 1;
      if (o.checkpointDir && ((o.checkpointEvery && done % o.checkpointEvery === 0) || epochEnd || done === total)) {
        const dir = join(o.checkpointDir, `step-${done}`);
        await trainer.save(dir, { epoch, stepsPerEpoch: perEpoch });
        checkpoints.push(dir);
      }
    }
  }
  return { steps: trainer.stepCount, ...(last ? { last } : {}), checkpoints };
}
