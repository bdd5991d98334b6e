// The accepted range of every numeric option, and the zod number schemas built from them. An
// option outside its range is refused by the schema (the one gate of the CLI and the API)
// before anything is read or loaded, with a message that states the range:
//   --batch-size: expected an integer in [1, 65536] but received 1000000000
// The ranges bound what one option can make the process allocate or loop over; the limits that
// depend on the model (its context length, the memory it needs) are checked after its
// config.json is read (config/context-length.ts, config/memory-estimate.ts).
import { z } from 'zod';

export interface NumberRange {
  min: number;
  max: number;
  /** min itself is refused (lr > 0). */
  minExclusive?: boolean;
  integer?: boolean;
}

/** Longest sequence any option may ask for (2^20 tokens); the model's context length usually bounds it lower. */
export const MAX_TOKENS_OPTION = 1_048_576;
/** Most optimizer steps, warmup steps or log / save intervals (a billion). */
const MAX_STEPS = 1_000_000_000;

export const OPTION_RANGES = {
  maxSeqLen: { min: 8, max: MAX_TOKENS_OPTION, integer: true },
  maxNewTokens: { min: 1, max: MAX_TOKENS_OPTION, integer: true },
  /** generateText may ask for no new tokens at all (the prompt's ids only). */
  generateNewTokens: { min: 0, max: MAX_TOKENS_OPTION, integer: true },
  minNewTokens: { min: 0, max: MAX_TOKENS_OPTION, integer: true },
  valSplit: { min: 0, max: Number.MAX_SAFE_INTEGER },
  limit: { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true },
  seed: { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true },
  loraR: { min: 1, max: 4096, integer: true },
  loraAlpha: { min: 0, max: 65536, minExclusive: true },
  lr: { min: 0, max: 1, minExclusive: true },
  warmupSteps: { min: 0, max: MAX_STEPS, integer: true },
  weightDecay: { min: 0, max: 10 },
  eps: { min: 0, max: 1, minExclusive: true },
  maxGradNorm: { min: 0, max: 1e6 },
  batchSize: { min: 1, max: 65536, integer: true },
  gradAccum: { min: 1, max: 65536, integer: true },
  epochs: { min: 1, max: 100_000, integer: true },
  steps: { min: 1, max: MAX_STEPS, integer: true },
  worldSize: { min: 1, max: 256, integer: true },
  numLabels: { min: 1, max: 65536, integer: true },
  folds: { min: 2, max: 1000, integer: true },
  fold: { min: 0, max: 999, integer: true },
  rdropAlpha: { min: 0, max: 1e6 },
  supconWeight: { min: 0, max: 1 },
  supconTemperature: { min: 0, max: 1e6, minExclusive: true },
} as const satisfies Record<string, NumberRange>;

/** "an integer in [1, 65536]", "a number in (0, 1]". */
export function describeRange(r: NumberRange): string {
  const show = (n: number) => (n === Number.MAX_SAFE_INTEGER ? '2^53-1' : String(n));
  return `${r.integer ? 'an integer' : 'a number'} in ${r.minExclusive ? '(' : '['}${show(r.min)}, ${show(r.max)}]`;
}

/** A zod number limited to `r`; every failure (type, integer, bounds) states the whole range and the value received. */
export function numberIn(r: NumberRange): z.ZodNumber {
  const error = (issue: { input?: unknown }) => `expected ${describeRange(r)} but received ${JSON.stringify(issue.input) ?? String(issue.input)}`;
  let schema = z.number({ error });
  if (r.integer) schema = schema.int({ error });
  schema = r.minExclusive ? schema.gt(r.min, { error }) : schema.min(r.min, { error });
  return schema.max(r.max, { error });
}
