// Seeded mutations of a reader's input: bit flips, truncation, byte insertion and deletion,
// splicing with another seed, huge length fields (binary) and huge numbers (text), and a chunk
// repeated many times. Input i of a run depends only on (seed, target, i), so one failing input
// can be rebuilt alone: `node scripts/fuzz/run.mjs --target NAME --seed S --only I`.

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a over the run seed, the target's name and the input's index: input i's own seed. */
export function inputSeed(runSeed, target, index) {
  let h = 0x811c9dc5;
  for (const c of `${runSeed}/${target}/${index}`) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

/** Largest input produced (a repeated chunk grows up to this). */
export const MAX_INPUT_BYTES = 1 << 16;

// Little-endian values that make length and count fields lie: all ones, sign bits, just past
// 32 and 53 bits, zero.
const HUGE_U64 = [0xffffffffffffffffn, 0x7fffffffffffffffn, 0x8000000000000000n, 0x100000000n, 0x20000000000001n, 0xffffffffn, 0x7fffffffn, 0x80000000n, 0n];
// The same in text: numbers beyond every integer type, negative, fractional, not finite.
const HUGE_TEXT = ['18446744073709551616', '9007199254740993', '4294967296', '-1', '1e308', '-0', '0.5', 'NaN', 'Infinity', '99999999999999999999999999999', '2147483648'];

const int = (rng, n) => Math.floor(rng() * n);

function bitFlips(b, rng) {
  if (b.length === 0) return b;
  const out = Buffer.from(b);
  for (let k = 1 + int(rng, 8); k > 0; k--) {
    const at = int(rng, out.length);
    out[at] ^= 1 << int(rng, 8);
  }
  return out;
}

function truncate(b, rng) {
  return b.subarray(0, int(rng, b.length + 1));
}

function insertBytes(b, rng) {
  const at = int(rng, b.length + 1);
  const n = 1 + int(rng, 64);
  const filler = Buffer.alloc(n);
  const kind = int(rng, 3);
  for (let i = 0; i < n; i++) filler[i] = kind === 0 ? int(rng, 256) : kind === 1 ? 0 : 0xff;
  return Buffer.concat([b.subarray(0, at), filler, b.subarray(at)]);
}

function deleteBytes(b, rng) {
  if (b.length === 0) return b;
  const at = int(rng, b.length);
  const n = 1 + int(rng, Math.min(64, b.length - at));
  return Buffer.concat([b.subarray(0, at), b.subarray(at + n)]);
}

function splice(b, rng, seeds) {
  const other = seeds[int(rng, seeds.length)];
  const from = int(rng, other.length + 1);
  const chunk = other.subarray(from, from + int(rng, Math.min(512, other.length - from) + 1));
  const at = int(rng, b.length + 1);
  const replace = rng() < 0.5 ? chunk.length : 0;
  return Buffer.concat([b.subarray(0, at), chunk, b.subarray(Math.min(b.length, at + replace))]);
}

function hugeLength(b, rng) {
  if (b.length < 1) return b;
  const out = Buffer.from(b);
  const width = [1, 2, 4, 8][int(rng, 4)];
  // Length fields sit at aligned offsets more often than not.
  let at = int(rng, out.length);
  if (rng() < 0.6) at -= at % width;
  const value = HUGE_U64[int(rng, HUGE_U64.length)];
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64LE(value);
  for (let i = 0; i < width && at + i < out.length; i++) out[at + i] = bytes[i];
  return out;
}

function hugeNumber(b, rng) {
  const text = b.toString('latin1');
  const number = HUGE_TEXT[int(rng, HUGE_TEXT.length)];
  const digits = [...text.matchAll(/-?\d+(?:\.\d+)?/g)];
  if (digits.length > 0 && rng() < 0.7) {
    const m = digits[int(rng, digits.length)];
    return Buffer.from(text.slice(0, m.index) + number + text.slice(m.index + m[0].length), 'latin1');
  }
  const at = int(rng, text.length + 1);
  return Buffer.from(text.slice(0, at) + number + text.slice(at), 'latin1');
}

function repeatChunk(b, rng) {
  if (b.length === 0) return b;
  const from = int(rng, b.length);
  const chunk = b.subarray(from, from + 1 + int(rng, Math.min(256, b.length - from)));
  const times = Math.min(1 + int(rng, 4096), Math.floor(MAX_INPUT_BYTES / 2 / chunk.length));
  const at = int(rng, b.length + 1);
  return Buffer.concat([b.subarray(0, at), ...Array(times).fill(chunk), b.subarray(at)]);
}

// Large inputs cost the most time per input: a repeated chunk is drawn half as often as the rest.
const BINARY = [bitFlips, bitFlips, truncate, truncate, insertBytes, insertBytes, deleteBytes, deleteBytes, splice, splice, hugeLength, hugeLength, repeatChunk];
const TEXT = [bitFlips, bitFlips, truncate, truncate, insertBytes, insertBytes, deleteBytes, deleteBytes, splice, splice, hugeNumber, hugeNumber, hugeLength, repeatChunk];

/**
 * Input `index` of a run: a seed file picked and mutated one to four times (the first input of
 * each seed is that seed unchanged, so the readers are also seen to accept it).
 * Returns the bytes and the names of the mutations applied.
 */
export function mutatedInput(seeds, kind, runSeed, target, index) {
  if (index < seeds.length) return { bytes: seeds[index], mutations: ['none'] };
  const rng = prng(inputSeed(runSeed, target, index));
  let bytes = seeds[int(rng, seeds.length)];
  const ops = kind === 'text' ? TEXT : BINARY;
  const mutations = [];
  for (let k = 1 + int(rng, 4); k > 0; k--) {
    const op = ops[int(rng, ops.length)];
    bytes = op(bytes, rng, seeds);
    mutations.push(op.name);
    if (bytes.length > MAX_INPUT_BYTES) bytes = bytes.subarray(0, MAX_INPUT_BYTES);
  }
  return { bytes, mutations };
}
