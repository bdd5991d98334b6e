// Learning-rate schedules with linear warmup, as transformers' get_scheduler defines them
// (linear, cosine with half a cycle, constant, constant_with_warmup). `step` counts optimizer
// steps from 0; the value is the learning rate that step uses.
import type { ScheduleName } from '../config/option-types.js';
import { ErrorCode, SftError } from '../errors.js';

export type { ScheduleName };

export interface Schedule {
  name: ScheduleName;
  /** Peak learning rate. */
  lr: number;
  warmupSteps: number;
  totalSteps: number;
}

/** Multiplier of the peak learning rate at `step` (transformers' lr_lambda). */
export function scheduleFactor(schedule: Schedule, step: number): number {
  const { name, warmupSteps, totalSteps } = schedule;
  if (!Number.isInteger(step) || step < 0) {
    throw new SftError(`schedule step must be a non-negative integer, got ${step}`, ErrorCode.InvalidArgument);
  }
  if (name === 'constant') return 1;
  if (step < warmupSteps) return step / Math.max(1, warmupSteps);
  if (name === 'constant_with_warmup') return 1;
  const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
  if (name === 'linear') return Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
  return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * 2 * 0.5 * progress)));
}

export function learningRate(schedule: Schedule, step: number): number {
  return schedule.lr * scheduleFactor(schedule, step);
}
