// `--report-to tensorboard`: the logged steps (loss, lr, grad norm, tokens/s, memory) and the
// evaluation metrics as TensorBoard scalars, in RUN_DIR/tensorboard/events.out.tfevents.* (one
// file per process run; a resumed run opens a new one that starts with a session-start event at
// its first step, so TensorBoard drops the first run's points past the checkpoint).
// `tensorboard --logdir RUN_DIR` shows them. Each event is written as it comes (a killed run
// keeps what it logged).
import { closeSync, existsSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { writeFailure } from '../engine/atomic-write.js';
import { encodeEvent, tfRecord, type EventBody } from './tensorboard-record.js';

/** The folder of a run that holds its event files. */
export const TENSORBOARD_DIR = 'tensorboard';

/** StepLog fields -> the tags TensorBoard shows (the names Hugging Face's Trainer uses). */
const STEP_TAGS: Record<string, string> = {
  loss: 'train/loss',
  lr: 'train/learning_rate',
  gradNorm: 'train/grad_norm',
  tokensPerSecond: 'train/tokens_per_second',
  inputTokensPerSecond: 'train/input_tokens_per_second',
  peakMemoryGiB: 'train/peak_memory_gib',
  epoch: 'train/epoch',
  skippedSteps: 'train/skipped_steps',
};
/** Counters of one log line that say nothing as a curve. */
const NOT_PLOTTED = new Set(['step', 'tokens', 'inputTokens', 'seconds']);

const snake = (s: string): string => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/^_/, '');

/**
 * A log line's numbers as tags: the known fields by STEP_TAGS, validation fields (valLoss,
 * evalAcc, ...) as eval/<name>, any other number as train/<name>.
 */
export function stepScalars(entry: object): Record<string, number> {
  const scalars: Record<string, number> = {};
  for (const [k, v] of Object.entries(entry)) {
    if (typeof v !== 'number' || NOT_PLOTTED.has(k)) continue;
    const validation = /^(val|eval)([A-Z_].*)$/.exec(k);
    scalars[STEP_TAGS[k] ?? (validation ? `eval/${snake(validation[2] as string)}` : `train/${snake(k)}`)] = v;
  }
  return scalars;
}

export class TensorBoardWriter {
  private fd: number | undefined;

  private constructor(readonly file: string, fd: number) {
    this.fd = fd;
  }

  /** Opens a new event file in `dir`; `firstStep` > 1 (a resumed run) starts it with a session start at that step. */
  static open(dir: string, firstStep = 1): TensorBoardWriter {
    const stamp = `${String(Math.floor(Date.now() / 1000)).padStart(10, '0')}.${hostname()}.${process.pid}`;
    let file = join(dir, `events.out.tfevents.${stamp}.0`);
    let fd: number | undefined;
    try {
      mkdirSync(dir, { recursive: true });
      // A new file each time (the last number counts up within one second of one process).
      for (let n = 0; fd === undefined; n++) {
        file = join(dir, `events.out.tfevents.${stamp}.${n}`);
        if (!existsSync(file)) fd = openSync(file, 'wx');
      }
    } catch (err) {
      throw writeFailure(file, err, 'training did not start');
    }
    const writer = new TensorBoardWriter(file, fd);
    writer.write(0, { fileVersion: 'brain.Event:2' });
    if (firstStep > 1) writer.write(firstStep, { sessionStart: true });
    return writer;
  }

  /** Scalars of one step, e.g. {'eval/acc': 0.9}. */
  scalars(step: number, scalars: Record<string, number>): void {
    if (Object.keys(scalars).length > 0) this.write(step, { scalars });
  }

  /** A training log line (the loop's StepLog + epoch). */
  logStep(entry: { step: number }): void {
    this.scalars(entry.step, stepScalars(entry));
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }

  private write(step: number, body: EventBody): void {
    if (this.fd === undefined) return;
    try {
      writeSync(this.fd, tfRecord(encodeEvent(Date.now() / 1000, step, body)));
    } catch (err) {
      throw writeFailure(this.file, err, 'the events written before are kept');
    }
  }
}
