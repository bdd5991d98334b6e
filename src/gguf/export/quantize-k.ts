// float32 -> ggml's 256-value super-block types Q4_K and Q6_K, by the algorithm of ggml's
// reference quantizers (ggml-quants.c quantize_row_q4_K_ref / quantize_row_q6_K_ref, what
// llama-quantize runs without an importance matrix): per 32 (Q4_K) or 16 (Q6_K) values a
// scale (and min) searched over a few candidate grids by weighted squared error, then the
// scales themselves quantized to 6 / 8 bits. Every float operation is rounded to float32 in C's
// order, so the bytes are bit-equal to ggml's (fixtures from the compiled C reference).
// gguf-py has no quantizer for these types (only their dequantization).
// Layouts as dequant.ts reads them:
//   Q4_K 144 B: d f16, dmin f16, scales[12] (6-bit scale and min per 32), qs[128] (4 bits)
//   Q6_K 210 B: ql[128], qh[64], scales int8[16], d f16

import { f16ToF32 } from '../dequant.js';
import { f16Bits } from './quantize-legacy.js';

const f = Math.fround;
const QK_K = 256;
const GROUP_MAX_EPS = f(1e-15);
/** Scratch for makeQkx2Quants (n <= 32). */
const SHIFTED = new Float32Array(32);

/** ggml's nearest_int: round half to even through the float32 magic-number add. */
function nearestInt(v: number): number {
  return f(v + 12582912) - 12582912;
}

/**
 * ggml's make_qkx2_quants for n values at x[o]: levels L in [0, nmax] with x ~ scale * L - min,
 * searching iscale over (rmin + rdelta * is + nmax) / (max - min), is = 0..nstep. Returns
 * [scale, -min] (the min is stored positive).
 */
function makeQkx2Quants(n: number, nmax: number, x: Float32Array, o: number, weights: Float32Array, L: Uint8Array, lo: number, Laux: Uint8Array, rmin: number, rdelta: number, nstep: number): [number, number] {
  let min = x[o]!;
  let max = x[o]!;
  let sumW = weights[0]!;
  let sumX = f(sumW * x[o]!);
  for (let i = 1; i < n; i++) {
    const xi = x[o + i]!;
    if (xi < min) min = xi;
    if (xi > max) max = xi;
    const w = weights[i]!;
    sumW = f(sumW + w);
    sumX = f(sumX + f(w * xi));
  }
  if (min > 0) min = 0;
  if (max === min) {
    for (let i = 0; i < n; i++) L[lo + i] = 0;
    return [0, -min];
  }
  // x - min, rounded once per min: the candidate grids below scale these differences.
  for (let i = 0; i < n; i++) SHIFTED[i] = f(x[o + i]! - min);
  let iscale = f(nmax / f(max - min));
  let scale = f(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    const l = nearestInt(f(iscale * SHIFTED[i]!));
    L[lo + i] = Math.max(0, Math.min(nmax, l));
    const diff = f(f(f(scale * L[lo + i]!) + min) - x[o + i]!);
    bestError = f(bestError + f(weights[i]! * f(diff * diff)));
  }
  for (let is = 0; is <= nstep; is++) {
    iscale = f(f(f(rmin + f(rdelta * is)) + nmax) / f(max - min));
    let sumL = 0;
    let sumL2 = 0;
    let sumXL = 0;
    for (let i = 0; i < n; i++) {
      const l = Math.max(0, Math.min(nmax, nearestInt(f(iscale * SHIFTED[i]!))));
      Laux[i] = l;
      const w = weights[i]!;
      sumL = f(sumL + f(w * l));
      sumL2 = f(sumL2 + f(f(w * l) * l));
      sumXL = f(sumXL + f(f(w * l) * x[o + i]!));
    }
    const D = f(f(sumW * sumL2) - f(sumL * sumL));
    if (D > 0) {
      let thisScale = f(f(f(sumW * sumXL) - f(sumX * sumL)) / D);
      let thisMin = f(f(f(sumL2 * sumX) - f(sumL * sumXL)) / D);
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = f(sumXL / sumL2);
      }
      let curError = 0;
      for (let i = 0; i < n; i++) {
        const diff = f(f(f(thisScale * Laux[i]!) + thisMin) - x[o + i]!);
        curError = f(curError + f(weights[i]! * f(diff * diff)));
      }
      if (curError < bestError) {
        for (let i = 0; i < n; i++) L[lo + i] = Laux[i]!;
        bestError = curError;
        scale = thisScale;
        min = thisMin; // later grids shift by the new min, as ggml's loop does
        for (let i = 0; i < n; i++) SHIFTED[i] = f(x[o + i]! - min);
      }
    }
  }
  return [scale, -min];
}

/** ggml's get_scale_min_k4: the 6-bit scale and min of sub-block j. */
function scaleMinK4(j: number, q: Uint8Array, o: number): [number, number] {
  if (j < 4) return [q[o + j]! & 63, q[o + j + 4]! & 63];
  return [(q[o + j + 4]! & 0x0f) | ((q[o + j - 4]! >> 6) << 4), (q[o + j + 4]! >> 4) | ((q[o + j]! >> 6) << 4)];
}

export function quantizeQ4_K(x: Float32Array): Uint8Array {
  const nb = x.length / QK_K;
  const out = new Uint8Array(nb * 144);
  const view = new DataView(out.buffer);
  const L = new Uint8Array(QK_K);
  const Laux = new Uint8Array(32);
  const weights = new Float32Array(32);
  const mins = new Float32Array(8);
  const scales = new Float32Array(8);
  for (let i = 0; i < nb; i++) {
    const xo = i * QK_K;
    const bo = i * 144;
    let maxScale = 0;
    let maxMin = 0;
    for (let j = 0; j < 8; j++) {
      let sumX2 = 0;
      for (let l = 0; l < 32; l++) sumX2 = f(sumX2 + f(x[xo + 32 * j + l]! * x[xo + 32 * j + l]!));
      const avX = f(Math.sqrt(f(sumX2 / 32)));
      for (let l = 0; l < 32; l++) weights[l] = f(avX + Math.abs(x[xo + 32 * j + l]!));
      const [scale, min] = makeQkx2Quants(32, 15, x, xo + 32 * j, weights, L, 32 * j, Laux, -1, f(0.1), 20);
      scales[j] = scale;
      mins[j] = min;
      if (scales[j]! > maxScale) maxScale = scales[j]!;
      if (mins[j]! > maxMin) maxMin = mins[j]!;
    }
    const invScale = maxScale > 0 ? f(63 / maxScale) : 0;
    const invMin = maxMin > 0 ? f(63 / maxMin) : 0;
    const sc = bo + 4; // scales[12]
    for (let j = 0; j < 8; j++) {
      const ls = Math.min(63, nearestInt(f(invScale * scales[j]!)) & 0xff);
      const lm = Math.min(63, nearestInt(f(invMin * mins[j]!)) & 0xff);
      if (j < 4) {
        out[sc + j] = ls;
        out[sc + j + 4] = lm;
      } else {
        out[sc + j + 4] = (ls & 0x0f) | ((lm & 0x0f) << 4);
        out[sc + j - 4]! |= (ls >> 4) << 6;
        out[sc + j]! |= (lm >> 4) << 6;
      }
    }
    const dBits = f16Bits(f(maxScale / 63));
    const dminBits = f16Bits(f(maxMin / 63));
    view.setUint16(bo, dBits, true);
    view.setUint16(bo + 2, dminBits, true);
    for (let j = 0; j < 8; j++) {
      const [s, m] = scaleMinK4(j, out, sc);
      const d = f(f16ToF32(dBits) * s);
      if (d === 0) continue;
      const dm = f(f16ToF32(dminBits) * m);
      for (let ii = 0; ii < 32; ii++) {
        L[32 * j + ii] = Math.max(0, Math.min(15, nearestInt(f(f(x[xo + 32 * j + ii]! + dm) / d))));
      }
    }
    let q = bo + 16;
    for (let j = 0; j < QK_K; j += 64) {
      for (let l = 0; l < 32; l++) out[q + l] = L[j + l]! | (L[j + l + 32]! << 4);
      q += 32;
    }
  }
  return out;
}

/** ggml's make_qx_quants with rmse_type 1 (weights x^2): signed levels in [-nmax, nmax - 1], stored + nmax. */
function makeQxQuants(n: number, nmax: number, x: Float32Array, o: number, L: Uint8Array, lo: number): number {
  let max = 0;
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[o + i]!);
    if (ax > amax) {
      amax = ax;
      max = x[o + i]!;
    }
  }
  if (amax < GROUP_MAX_EPS) {
    for (let i = 0; i < n; i++) L[lo + i] = 0;
    return 0;
  }
  const level = (iscale: number, xi: number) => Math.max(-nmax, Math.min(nmax - 1, nearestInt(f(iscale * xi))));
  let iscale = f(-nmax / max);
  let sumLX = 0;
  let sumL2 = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[o + i]!;
    const l = level(iscale, xi);
    L[lo + i] = l + nmax;
    const w = f(xi * xi);
    sumLX = f(sumLX + f(f(w * xi) * l));
    sumL2 = f(sumL2 + f(f(w * l) * l));
  }
  let scale = sumL2 !== 0 ? f(sumLX / sumL2) : 0;
  let best = f(scale * sumLX);
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = f(-f(nmax + f(f(0.1) * is)) / max);
    sumLX = 0;
    sumL2 = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[o + i]!;
      const l = level(iscale, xi);
      const w = f(xi * xi);
      sumLX = f(sumLX + f(f(w * xi) * l));
      sumL2 = f(sumL2 + f(f(w * l) * l));
    }
    if (sumL2 > 0 && f(sumLX * sumLX) > f(best * sumL2)) {
      for (let i = 0; i < n; i++) L[lo + i] = nmax + level(iscale, x[o + i]!);
      scale = f(sumLX / sumL2);
      best = f(scale * sumLX);
    }
  }
  return scale;
}

export function quantizeQ6_K(x: Float32Array): Uint8Array {
  const nb = x.length / QK_K;
  const out = new Uint8Array(nb * 210);
  const view = new DataView(out.buffer);
  const L = new Uint8Array(QK_K);
  const scales = new Float32Array(16);
  for (let i = 0; i < nb; i++) {
    const xo = i * QK_K;
    const bo = i * 210;
    let maxScale = 0;
    let maxAbsScale = 0;
    for (let ib = 0; ib < 16; ib++) {
      const scale = makeQxQuants(16, 32, x, xo + 16 * ib, L, 16 * ib);
      scales[ib] = scale;
      if (Math.abs(scale) > maxAbsScale) {
        maxAbsScale = Math.abs(scale);
        maxScale = scale;
      }
    }
    if (maxAbsScale < GROUP_MAX_EPS) continue; // the block stays all zero (d = +0)
    const iscale = f(-128 / maxScale);
    const dBits = f16Bits(f(1 / iscale));
    view.setUint16(bo + 208, dBits, true);
    for (let ib = 0; ib < 16; ib++) view.setInt8(bo + 192 + ib, Math.min(127, nearestInt(f(iscale * scales[ib]!))));
    for (let j = 0; j < 16; j++) {
      const d = f(f16ToF32(dBits) * view.getInt8(bo + 192 + j));
      if (d === 0) continue;
      for (let ii = 0; ii < 16; ii++) {
        L[16 * j + ii] = Math.max(-32, Math.min(31, nearestInt(f(x[xo + 16 * j + ii]! / d)))) + 32;
      }
    }
    let ql = bo;
    let qh = bo + 128;
    for (let j = 0; j < QK_K; j += 128) {
      for (let l = 0; l < 32; l++) {
        const q1 = L[j + l]! & 0x0f;
        const q2 = L[j + l + 32]! & 0x0f;
        const q3 = L[j + l + 64]! & 0x0f;
        const q4 = L[j + l + 96]! & 0x0f;
        out[ql + l] = q1 | (q3 << 4);
        out[ql + l + 32] = q2 | (q4 << 4);
        out[qh + l] = (L[j + l]! >> 4) | ((L[j + l + 32]! >> 4) << 2) | ((L[j + l + 64]! >> 4) << 4) | ((L[j + l + 96]! >> 4) << 6);
      }
      ql += 64;
      qh += 32;
    }
  }
  return out;
}
