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
import type { BestTracker, EvalPoint } from './early-stopping.js';
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
  /** Validation during training: every `every` steps and at the last step. @default none */
  evaluation?: EvaluationOptions;
}

export interface EvaluationOptions {
  /** Evaluate after every N optimizer steps (and after the last). */
  every: number;
  /** Scores the model as it is after `step`. */
  run: (step: number) => Promise<EvalPoint>;
  /** Ranks the evaluations (its state goes into each checkpoint); with a patience it stops the run. */
  tracker: BestTracker;
  /** Called with an evaluation that is the best so far, before the step's checkpoint (e.g. --save-best). @default none */
  onBest?: (point: EvalPoint) => Promise<void>;
  /** Called with each evaluation's log line (UIs). @default none */
  onEval?: (line: EvalLogLine) => void;
}

/** A log.jsonl line of an evaluation (it follows the line of its step when that step is logged). */
export interface EvalLogLine {
  step: number;
  epoch: number;
  eval_loss: number;
  eval_acc?: number;
  eval_resp_acc?: number;
  eval_seconds: number;
  /** The best evaluation so far by the tracker's metric (this one when it improved). */
  best: { metric: string; value: number; step: number } | null;
  /** Evaluations since the best one. */
  since_best: number;
}

export interface TrainLoopResult {
  steps: number;
  last?: StepLog;
  checkpoints: string[];
  /** The evaluations this call ran, in order. */
  evaluations: EvalLogLine[];
  /** Set when early stopping ended the run before its last step. */
  stoppedEarly?: { step: number; patience: number };
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

/** One line after an evaluation: its figures and the best so far. */
export function evalProgressLine(line: EvalLogLine, total: number): string {
  const figures = [`eval_loss ${line.eval_loss.toFixed(4)}`];
  if (line.eval_acc !== undefined) figures.push(`acc ${line.eval_acc.toFixed(4)}`);
  if (line.eval_resp_acc !== undefined) figures.push(`resp_acc ${line.eval_resp_acc.toFixed(4)}`);
  const best = line.best ? ` (best ${line.best.metric} ${line.best.value.toFixed(4)} at step ${line.best.step}${line.since_best > 0 ? `, ${line.since_best} evaluation${line.since_best === 1 ? '' : 's'} without improvement` : ''})` : '';
  return `eval step ${line.step}/${total} ${figures.join(' ')} in ${line.eval_seconds.toFixed(1)} s${best}`;
}

/** A half-written last line (the disk full, the process killed) is dropped when the run resumes. */
async function appendLogLine(file: string, entry: object): Promise<void> {
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
  const evaluations: EvalLogLine[] = [];
  const ev = o.evaluation;
  let stoppedEarly: TrainLoopResult['stoppedEarly'];
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
      let stop = false;
      if (ev && (done % ev.every === 0 || done === total)) {
        const line = await evaluate(ev, trainer, done, epoch);
        evaluations.push(line);
        if (o.logFile) await appendLogLine(o.logFile, line);
        o.tensorboard?.scalars(done, { 'eval/loss': line.eval_loss, ...(line.eval_acc !== undefined ? { 'eval/acc': line.eval_acc } : {}), ...(line.eval_resp_acc !== undefined ? { 'eval/resp_acc': line.eval_resp_acc } : {}) });
        if (o.progress) o.progress.write(`${o.progress.isTTY === true && done !== total ? '\n' : ''}${evalProgressLine(line, total)}\n`);
        ev.onEval?.(line);
        stop = ev.tracker.patience !== undefined && line.since_best >= ev.tracker.patience && done < total;
        if (stop) stoppedEarly = { step: done, patience: ev.tracker.patience as number };
      }
      const epochEnd = i === perEpoch - 1;
      if (o.checkpointDir && ((o.checkpointEvery && done % o.checkpointEvery === 0) || epochEnd || done === total || stop)) {
        const dir = join(o.checkpointDir, `step-${done}`);
        await trainer.save(dir, { epoch, stepsPerEpoch: perEpoch });
        checkpoints.push(dir);
      }
      if (stop) return { steps: trainer.stepCount, ...(last ? { last } : {}), checkpoints, evaluations, ...(stoppedEarly ? { stoppedEarly } : {}) };
    }
  }
  return { steps: trainer.stepCount, ...(last ? { last } : {}), checkpoints, evaluations };
}

/** Runs one evaluation, ranks it, keeps the tracker's state with the trainer (its checkpoints save it) and calls onBest. */
async function evaluate(ev: EvaluationOptions, trainer: Trainer, step: number, epoch: number): Promise<EvalLogLine> {
  const started = performance.now();
  const point = await ev.run(step);
  const seconds = (performance.now() - started) / 1000;
  const { improved } = ev.tracker.update(point);
  trainer.evaluation = ev.tracker.state();
  if (improved) await ev.onBest?.(point);
  const best = ev.tracker.best;
  return {
    step,
    epoch,
    eval_loss: point.eval_loss,
    ...(point.acc !== undefined ? { eval_acc: point.acc } : {}),
    ...(point.resp_acc !== undefined ? { eval_resp_acc: point.resp_acc } : {}),
    eval_seconds: seconds,
    best: best ? { metric: ev.tracker.metric, ...best } : null,
    since_best: ev.tracker.sinceBest,
  };
}
