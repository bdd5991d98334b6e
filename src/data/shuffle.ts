// A seeded shuffle that gives the same order on every platform and Node version: the generator
// is pure 32-bit integer arithmetic (Math.imul, >>>), never Math.random, and the index draw
// uses only exact double arithmetic.
import { ErrorCode, SftError } from '../errors.js';

/**
 * mulberry32 (Tommy Ettinger's 32-bit generator): a new uint32 per call. The seed is any safe
 * integer; it is reduced mod 2^32 (so 42 and 42 + 2^32 give the same stream).
 */
export function mulberry32(seed: number): () => number {
  if (!Number.isSafeInteger(seed)) throw new SftError(`Expected an integer for --seed but received ${seed}`, ErrorCode.InvalidArgument);
  let state = Number(BigInt.asUintN(32, BigInt(seed)));
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** A shuffled copy (Fisher-Yates from the end, j = floor(u32 * (i + 1) / 2^32)); the input is not changed. */
export function seededShuffle<T>(items: readonly T[], seed: number): T[] {
  const out = items.slice();
  const next = mulberry32(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor((next() * (i + 1)) / 2 ** 32);
    const tmp = out[i] as T;
    out[i] = out[j] as T;
    out[j] = tmp;
  }
  return out;
}
