// ggml blocks -> float32, bit-exact with gguf-py's numpy dequantization (gguf/quants.py), which
// is what transformers' GGUF loading uses. numpy computes in float32; here every product is
// formed in float64, where it is exact (an fp16 scale has 11 significant bits, the scale and
// quant integers at most 8 and 6), and the Float32Array store rounds it once, so each product
// and each final `a - b` / `a + b` rounds exactly as numpy's float32 op does. Where numpy rounds
// an intermediate (Q6_K's d * scale), that intermediate is exact in float32, so nothing else rounds.
// The grouping of operations follows quants.py: (d * sc) * q - dmin * m, not d * (sc * q).
// Plain types (F32, F16, BF16) are copied bit for bit through integer views (NaN payloads too).
//
// Block layouts (ggml-common.h; QK_K = 256; d, dmin, m are fp16):
//   Q4_0  18 B: d, qs[16]                   x = (nibble - 8) * d; low nibbles are values 0..15, high 16..31
//   Q4_1  20 B: d, m, qs[16]                x = d * nibble + m
//   Q5_0  22 B: d, qh u32, qs[16]           fifth bit of value i is bit i of qh; x = (q - 16) * d
//   Q5_1  24 B: d, m, qh u32, qs[16]        x = d * q + m
//   Q8_0  34 B: d, qs int8[32]              x = q * d
//   Q2_K  84 B: scales[16], qs[64], d, dmin          16 groups of 16; scale low nibble, min high nibble
//   Q3_K 110 B: hmask[32], qs[64], scales[12], d     6-bit signed scales (-32), 2 low bits + inverted high bit
//   Q4_K 144 B: d, dmin, scales[12], qs[128]         8 groups of 32; 6-bit scale and min per group
//   Q5_K 176 B: d, dmin, scales[12], qh[32], qs[128] Q4_K plus a fifth bit per value from qh
//   Q6_K 210 B: ql[128], qh[64], scales int8[16], d  16 groups of 16; 4 low + 2 high bits, -32

import { SftError } from '../errors.js';
import { GgufErrorCode } from './errors.js';
import { ggmlType, ggmlTypeName } from './ggml-types.js';

export const GgmlType = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  BF16: 30,
} as const;

/** fp16 bits -> float32 bits, the conversion numpy's astype(float32) does (NaN payloads kept). */
const F16_BITS = new Uint32Array(65536);
/** The same table as numbers, for scales. */
const F16 = new Float32Array(F16_BITS.buffer);
for (let h = 0; h < 65536; h++) {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) {
    F16_BITS[h] = (sign | 0x7f800000 | (mant << 13)) >>> 0;
  } else if (exp !== 0) {
    F16_BITS[h] = (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
  } else if (mant === 0) {
    F16_BITS[h] = sign >>> 0;
  } else {
    // Subnormal fp16: normalize the mantissa into a normal float32.
    let e = 113;
    while ((mant & 0x400) === 0) {
      mant <<= 1;
      e--;
    }
    F16_BITS[h] = (sign | (e << 23) | ((mant & 0x3ff) << 13)) >>> 0;
  }
}

/** The float32 value of an fp16 number given as bits. */
export function f16ToF32(bits: number): number {
  return F16[bits & 0xffff]!;
}

type Kernel = (src: Uint8Array, out: Float32Array, blocks: number) => void;

function f32(src: Uint8Array, out: Float32Array, n: number): void {
  new Uint8Array(out.buffer, out.byteOffset, n * 4).set(src.subarray(0, n * 4));
}

function f16(src: Uint8Array, out: Float32Array, n: number): void {
  const o32 = new Uint32Array(out.buffer, out.byteOffset, n);
  for (let i = 0, s = 0; i < n; i++, s += 2) o32[i] = F16_BITS[src[s]! | (src[s + 1]! << 8)]!;
}

function bf16(src: Uint8Array, out: Float32Array, n: number): void {
  const o32 = new Uint32Array(out.buffer, out.byteOffset, n);
  for (let i = 0, s = 0; i < n; i++, s += 2) o32[i] = ((src[s]! | (src[s + 1]! << 8)) << 16) >>> 0;
}

function q4_0(src: Uint8Array, out: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 18, o += 32) {
    const d = F16[src[s]! | (src[s + 1]! << 8)]!;
    for (let i = 0; i < 16; i++) {
      const q = src[s + 2 + i]!;
      out[o + i] = d * ((q & 15) - 8);
      out[o + 16 + i] = d * ((q >> 4) - 8);
    }
  }
}

function q4_1(src: Uint8Array, out: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 20, o += 32) {
    const d = F16[src[s]! | (src[s + 1]! << 8)]!;
    const m = F16[src[s + 2]! | (src[s + 3]! << 8)]!;
    for (let i = 0; i < 16; i++) {
      const q = src[s + 4 + i]!;
      out[o + i] = d * (q & 15) + m;
      out[o + 16 + i] = d * (q >> 4) + m;
    }
  }
}

function q5_0(src: Uint8Array, out: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 22, o += 32) {
    const d = F16[src[s]! | (src[s + 1]! << 8)]!;
    const qh = src[s + 2]! | (src[s + 3]! << 8) | (src[s + 4]! << 16) | (src[s + 5]! << 24);
    for (let i = 0; i < 16; i++) {
      const q = src[s + 6 + i]!;
      out[o + i] = d * (((q & 15) | (((qh >>> i) & 1) << 4)) - 16);
      out[o + 16 + i] = d * (((q >> 4) | (((qh >>> (i + 16)) & 1) << 4)) - 16);
    }
  }
}

function q5_1(src: Uint8Array, out: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 24, o += 32) {
    const d = F16[src[s]! | (src[s + 1]! << 8)]!;
    const m = F16[src[s + 2]! | (src[s + 3]! << 8)]!;
    const qh = src[s + 4]! | (src[s + 5]! << 8) | (src[s + 6]! << 16) | (src[s + 7]! << 24);
    for (let i = 0; i < 16; i++) {
      const q = src[s + 8 + i]!;
      out[o + i] = d * ((q & 15) | (((qh >>> i) & 1) << 4)) + m;
      out[o + 16 + i] = d * ((q >> 4) | (((qh >>> (i + 16)) & 1) << 4)) + m;
    }
  }
}

function q8_0(src: Uint8Array, out: Float32Array, blocks: number): void {
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 34, o += 32) {
    const d = F16[src[s]! | (src[s + 1]! << 8)]!;
    for (let i = 0; i < 32; i++) out[o + i] = ((src[s + 2 + i]! << 24) >> 24) * d;
  }
}

function q2_k(src: Uint8Array, out: Float32Array, blocks: number): void {
  const dl = new Float64Array(16);
  const ml = new Float64Array(16);
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 84, o += 256) {
    const d = F16[src[s + 80]! | (src[s + 81]! << 8)]!;
    const dmin = F16[src[s + 82]! | (src[s + 83]! << 8)]!;
    for (let j = 0; j < 16; j++) {
      const sc = src[s + j]!;
      dl[j] = d * (sc & 15);
      ml[j] = dmin * (sc >> 4);
    }
    // Value p: byte qs[(p >> 7) * 32 + (p & 31)], bits 2 * ((p >> 5) & 3); group p >> 4.
    for (let h = 0; h < 2; h++) {
      for (let k = 0; k < 4; k++) {
        const shift = 2 * k;
        const base = h * 128 + k * 32;
        for (let i = 0; i < 32; i++) {
          const p = base + i;
          const g = p >> 4;
          out[o + p] = dl[g]! * ((src[s + 16 + h * 32 + i]! >> shift) & 3) - ml[g]!;
        }
      }
    }
  }
}

function q3_k(src: Uint8Array, out: Float32Array, blocks: number): void {
  const dl = new Float64Array(16);
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 110, o += 256) {
    const d = F16[src[s + 108]! | (src[s + 109]! << 8)]!;
    const sc = s + 96;
    for (let j = 0; j < 16; j++) {
      const low = j < 8 ? src[sc + j]! & 15 : src[sc + j - 8]! >> 4;
      const high = (src[sc + 8 + (j & 3)]! >> (2 * (j >> 2))) & 3;
      dl[j] = d * ((low | (high << 4)) - 32);
    }
    // Value p: low 2 bits as in Q2_K (qs at 32); high bit p >> 5 of hmask[p & 31], set = no -4.
    for (let h = 0; h < 2; h++) {
      for (let k = 0; k < 4; k++) {
        const shift = 2 * k;
        const base = h * 128 + k * 32;
        const hbit = base >> 5;
        for (let i = 0; i < 32; i++) {
          const p = base + i;
          const q = ((src[s + 32 + h * 32 + i]! >> shift) & 3) - ((((src[s + i]! >> hbit) & 1) ^ 1) << 2);
          out[o + p] = dl[p >> 4]! * q;
        }
      }
    }
  }
}

/** Q4_K / Q5_K 6-bit scales and mins of group j from the 12 bytes at `at`. */
function scaleMin(src: Uint8Array, at: number, j: number, sm: Float64Array, d: number, dmin: number): void {
  let sc: number;
  let m: number;
  if (j < 4) {
    sc = src[at + j]! & 63;
    m = src[at + 4 + j]! & 63;
  } else {
    sc = (src[at + 4 + j]! & 15) | ((src[at + j - 4]! >> 2) & 48);
    m = (src[at + 4 + j]! >> 4) | ((src[at + j]! >> 2) & 48);
  }
  sm[2 * j] = d * sc;
  sm[2 * j + 1] = dmin * m;
}

function q4_k(src: Uint8Array, out: Float32Array, blocks: number): void {
  const sm = new Float64Array(16);
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 144, o += 256) {
    const d = F16[src[s]! | (src[s + 1]! << 8)]!;
    const dmin = F16[src[s + 2]! | (src[s + 3]! << 8)]!;
    for (let j = 0; j < 8; j++) scaleMin(src, s + 4, j, sm, d, dmin);
    // Group j: nibble (j & 1) of qs[(j >> 1) * 32 + i].
    for (let c = 0; c < 4; c++) {
      const q = s + 16 + c * 32;
      const d0 = sm[4 * c]!;
      const m0 = sm[4 * c + 1]!;
      const d1 = sm[4 * c + 2]!;
      const m1 = sm[4 * c + 3]!;
      const o0 = o + c * 64;
      for (let i = 0; i < 32; i++) {
        const x = src[q + i]!;
        out[o0 + i] = d0 * (x & 15) - m0;
        out[o0 + 32 + i] = d1 * (x >> 4) - m1;
      }
    }
  }
}

function q5_k(src: Uint8Array, out: Float32Array, blocks: number): void {
  const sm = new Float64Array(16);
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 176, o += 256) {
    const d = F16[src[s]! | (src[s + 1]! << 8)]!;
    const dmin = F16[src[s + 2]! | (src[s + 3]! << 8)]!;
    for (let j = 0; j < 8; j++) scaleMin(src, s + 4, j, sm, d, dmin);
    const qh = s + 16;
    for (let c = 0; c < 4; c++) {
      const q = s + 48 + c * 32;
      const d0 = sm[4 * c]!;
      const m0 = sm[4 * c + 1]!;
      const d1 = sm[4 * c + 2]!;
      const m1 = sm[4 * c + 3]!;
      const o0 = o + c * 64;
      const bit0 = 2 * c;
      const bit1 = 2 * c + 1;
      for (let i = 0; i < 32; i++) {
        const x = src[q + i]!;
        const h = src[qh + i]!;
        out[o0 + i] = d0 * ((x & 15) | (((h >> bit0) & 1) << 4)) - m0;
        out[o0 + 32 + i] = d1 * ((x >> 4) | (((h >> bit1) & 1) << 4)) - m1;
      }
    }
  }
}

function q6_k(src: Uint8Array, out: Float32Array, blocks: number): void {
  const ds = new Float64Array(16);
  for (let b = 0, s = 0, o = 0; b < blocks; b++, s += 210, o += 256) {
    const d = F16[src[s + 208]! | (src[s + 209]! << 8)]!;
    for (let j = 0; j < 16; j++) ds[j] = d * ((src[s + 192 + j]! << 24) >> 24);
    // Half h, value r: low 4 bits nibble (r >> 6) of ql[h*64 + (r & 63)], high 2 bits
    // 2 * (r >> 5) of qh[h*32 + (r & 31)].
    for (let h = 0; h < 2; h++) {
      const ql = s + h * 64;
      const qh = s + 128 + h * 32;
      const o0 = o + h * 128;
      const g = h * 8;
      for (let i = 0; i < 32; i++) {
        const l0 = src[ql + i]!;
        const l1 = src[ql + 32 + i]!;
        const hb = src[qh + i]!;
        const gi = g + (i >> 4);
        out[o0 + i] = ds[gi]! * (((l0 & 15) | ((hb & 3) << 4)) - 32);
        out[o0 + 32 + i] = ds[gi + 2]! * (((l1 & 15) | (((hb >> 2) & 3) << 4)) - 32);
        out[o0 + 64 + i] = ds[gi + 4]! * (((l0 >> 4) | (((hb >> 4) & 3) << 4)) - 32);
        out[o0 + 96 + i] = ds[gi + 6]! * (((l1 >> 4) | (((hb >> 6) & 3) << 4)) - 32);
      }
    }
  }
}

const KERNELS: ReadonlyMap<number, Kernel> = new Map<number, Kernel>([
  [GgmlType.F32, f32],
  [GgmlType.F16, f16],
  [GgmlType.BF16, bf16],
  [GgmlType.Q4_0, q4_0],
  [GgmlType.Q4_1, q4_1],
  [GgmlType.Q5_0, q5_0],
  [GgmlType.Q5_1, q5_1],
  [GgmlType.Q8_0, q8_0],
  [GgmlType.Q2_K, q2_k],
  [GgmlType.Q3_K, q3_k],
  [GgmlType.Q4_K, q4_k],
  [GgmlType.Q5_K, q5_k],
  [GgmlType.Q6_K, q6_k],
]);

/** Names of the tensor types dequantize() handles. */
export const DEQUANTIZABLE_TYPES: readonly string[] = [...KERNELS.keys()].map(ggmlTypeName);

export function canDequantize(type: number): boolean {
  return KERNELS.has(type);
}

/**
 * Decodes `out.length` values of ggml type `type` from `src` (whole blocks, as stored) into `out`.
 * Throws GGUF_UNSUPPORTED for types without a kernel, naming the supported ones.
 */
export function dequantizeInto(type: number, src: Uint8Array, out: Float32Array, what = 'tensor'): Float32Array {
  const kernel = KERNELS.get(type);
  const info = ggmlType(type);
  if (!kernel || !info) {
    throw new SftError(
      `${what}: ggml type ${ggmlTypeName(type)} cannot be dequantized; supported types: ${DEQUANTIZABLE_TYPES.join(', ')}`,
      GgufErrorCode.Unsupported,
    );
  }
  if (out.length % info.blockSize !== 0) {
    throw new SftError(`${what}: ${out.length} values are not whole ${info.name} blocks of ${info.blockSize}`, GgufErrorCode.Invalid);
  }
  const blocks = out.length / info.blockSize;
  if (src.length < blocks * info.typeSize) {
    throw new SftError(`${what}: ${out.length} ${info.name} values need ${blocks * info.typeSize} bytes, got ${src.length}`, GgufErrorCode.Invalid);
  }
  // Plain types count values, quantized ones blocks (blockSize is 1 for the former).
  kernel(src, out, blocks);
  return out;
}

/** Decodes `count` values of type `type` from `src` into a new Float32Array. */
export function dequantize(type: number, src: Uint8Array, count: number, what?: string): Float32Array {
  return dequantizeInto(type, src, new Float32Array(count), what);
}
