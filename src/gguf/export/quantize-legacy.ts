// float32 -> ggml's 32-value block types Q8_0, Q4_0 and Q5_0, computed the way gguf-py's
// quants.py and ggml's quantize_row_*_ref compute them: every product and quotient rounded to
// float32 (Math.fround), so the bytes are bit-equal to theirs (test/unit/gguf-export-quantize).
// Block layouts (little-endian) as dequant.ts reads them:
//   Q8_0 34 B: d f16, qs int8[32]                       x = d * q
//   Q4_0 18 B: d f16, qs[16] (lo nibble j, hi j+16)      x = d * (q - 8)
//   Q5_0 22 B: d f16, qh u32 (bit j: 5th bit of j), qs[16] as Q4_0, x = d * (q - 16)

import { f32ToF16 } from '../half.js';

const f = Math.fround;
const scratch32 = new Float32Array(1);
const scratch16 = new Uint16Array(1);

/** float32 -> fp16 bits, round to nearest even (numpy's astype(float16), ggml's FP32_TO_FP16). */
export function f16Bits(v: number): number {
  scratch32[0] = v;
  f32ToF16(scratch32, scratch16);
  return scratch16[0]!;
}

/** Round half away from zero (gguf-py's np_roundf, C's roundf). */
function roundAway(v: number): number {
  const a = Math.abs(v);
  const r = Math.floor(a) + Math.floor(2 * (a - Math.floor(a)));
  return v < 0 ? -r : r;
}

/** Value (signed) of largest magnitude in x[o, o+n); the first one on ties, as numpy's argmax and ggml's loop pick. */
function signedAbsMax(x: Float32Array, o: number, n: number): number {
  let amax = 0;
  let max = 0;
  for (let j = 0; j < n; j++) {
    const v = x[o + j]!;
    if (Math.abs(v) > amax) {
      amax = Math.abs(v);
      max = v;
    }
  }
  return max;
}

export function quantizeQ8_0(x: Float32Array): Uint8Array {
  const blocks = x.length / 32;
  const out = new Uint8Array(blocks * 34);
  const view = new DataView(out.buffer);
  for (let b = 0; b < blocks; b++) {
    const o = b * 32;
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[o + j]!));
    const d = f(amax / 127);
    const id = d === 0 ? 0 : f(1 / d);
    view.setUint16(b * 34, f16Bits(d), true);
    for (let j = 0; j < 32; j++) view.setInt8(b * 34 + 2 + j, roundAway(f(x[o + j]! * id)));
  }
  return out;
}

/** q = trunc(x / d + offset + 0.5) clipped to [0, 2 * offset - 1], with d = max / -offset. */
function legacyQuants(x: Float32Array, o: number, offset: number, q: Uint8Array): number {
  const d = f(signedAbsMax(x, o, 32) / -offset);
  const id = d === 0 ? 0 : f(1 / d);
  for (let j = 0; j < 32; j++) q[j] = Math.min(2 * offset - 1, Math.max(0, Math.trunc(f(f(x[o + j]! * id) + (offset + 0.5)))));
  return d;
}

export function quantizeQ4_0(x: Float32Array): Uint8Array {
  const blocks = x.length / 32;
  const out = new Uint8Array(blocks * 18);
  const view = new DataView(out.buffer);
  const q = new Uint8Array(32);
  for (let b = 0; b < blocks; b++) {
    const d = legacyQuants(x, b * 32, 8, q);
    view.setUint16(b * 18, f16Bits(d), true);
    for (let j = 0; j < 16; j++) out[b * 18 + 2 + j] = q[j]! | (q[j + 16]! << 4);
  }
  return out;
}

export function quantizeQ5_0(x: Float32Array): Uint8Array {
  const blocks = x.length / 32;
  const out = new Uint8Array(blocks * 22);
  const view = new DataView(out.buffer);
  const q = new Uint8Array(32);
  for (let b = 0; b < blocks; b++) {
    const d = legacyQuants(x, b * 32, 16, q);
    view.setUint16(b * 22, f16Bits(d), true);
    let qh = 0;
    for (let j = 0; j < 32; j++) qh |= (q[j]! >> 4) << j;
    view.setUint32(b * 22 + 2, qh >>> 0, true);
    for (let j = 0; j < 16; j++) out[b * 22 + 6 + j] = (q[j]! & 0x0f) | ((q[j + 16]! & 0x0f) << 4);
  }
  return out;
}
