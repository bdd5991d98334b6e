// How generate options choose between greedy decoding and sampling, and the native sampling
// record they become. Greedy unless a temperature > 0, a top-k or a top-p is given; top-k or
// top-p alone sample at temperature 1 (transformers' do_sample with its defaults). Every prompt
// samples with the same seed, so a prompt's text does not depend on the batch it is in.
import { z } from 'zod';
import { GENERATE_DEFAULTS } from '../config/defaults.js';
import { ErrorCode, SftError } from '../errors.js';

export const samplingOptionFields = {
  /** Softmax temperature; 0 = greedy. Default: greedy, or 1 when topK / topP is given. */
  temperature: z.number().min(0).optional(),
  /** Sample among the k most likely tokens (ties kept); 0 = off. Default off. */
  topK: z.number().int().min(0).optional(),
  /** Sample among the smallest top set of probability mass >= topP; 1 = off. Default off. */
  topP: z.number().gt(0).max(1).optional(),
  /** Seeds each prompt's draws (counter-based: the same seed gives the same text, batched or not). Default 0. */
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
};

export interface SamplingOptions {
  /** Softmax temperature; 0 = greedy decoding. @default greedy, or 1 when topK or topP is given */
  temperature?: number | undefined;
  /** Sample among the k most likely tokens (ties kept); 0 = off. @default off */
  topK?: number | undefined;
  /** Sample among the smallest top set of tokens whose probability reaches topP; 1 = off. @default off */
  topP?: number | undefined;
  /** Seeds each prompt's draws: the same seed gives the same text, batched or not. @default seed 0 */
  seed?: number | undefined;
}

export interface NativeSampling {
  temperature: number;
  topK: number;
  topP: number;
  seeds: number[];
}

/** The native sampling record for `rows` prompts, or undefined for greedy decoding. */
export function nativeSampling(o: SamplingOptions, rows: number): NativeSampling | undefined {
  const filtered = (o.topK !== undefined && o.topK > 0) || (o.topP !== undefined && o.topP < 1);
  if (o.temperature === 0) {
    if (filtered) {
      throw new SftError(`temperature 0 is greedy decoding, which top-k / top-p do not apply to; give a temperature > 0 to sample`, ErrorCode.InvalidArgument);
    }
    return undefined;
  }
  if (o.temperature === undefined && !filtered) return undefined;
  const seed = o.seed ?? GENERATE_DEFAULTS.seed;
  return {
    temperature: o.temperature ?? 1,
    topK: o.topK ?? 0,
    topP: o.topP ?? 1,
    seeds: Array.from({ length: rows }, () => seed),
  };
}

/** For reports: 'greedy' or the sampling settings with their seed. */
export function describeDecoding(o: SamplingOptions): string {
  const s = nativeSampling(o, 1);
  if (!s) return 'greedy';
  return `sampling (temperature ${s.temperature}, top-k ${s.topK || 'off'}, top-p ${s.topP < 1 ? s.topP : 'off'}, seed ${s.seeds[0]})`;
}
