// float32 -> bfloat16 / float16 bits with round-to-nearest-even, as torch's .to(dtype) rounds
// on CPU (c10/util/BFloat16.h round_to_nearest_even, c10/util/Half.h fp16_ieee_from_fp32_value):
// NaN stays NaN (quiet), overflow becomes infinity, fp16 subnormals are rounded, not flushed.

/** float32 -> bfloat16 bits; `out[i]` gets the bits of `src[i]`. */
export function f32ToBf16(src: Float32Array, out: Uint16Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) {
    const u = bits[i]!;
    if ((u & 0x7fffffff) > 0x7f800000) {
      out[i] = 0x7fc0; // torch returns its canonical quiet NaN
    } else {
      out[i] = (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
    }
  }
  return out;
}

/** float32 -> float16 bits. */
export function f32ToF16(src: Float32Array, out: Uint16Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) out[i] = halfBits(bits[i]!);
  return out;
}

function halfBits(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const abs = u & 0x7fffffff;
  if (abs > 0x7f800000) return sign | 0x7e00; // NaN
  if (abs >= 0x477ff000) return sign | 0x7c00; // rounds to or beyond 65520: infinity
  if (abs < 0x38800000) {
    // Below the smallest normal fp16 (2^-14): a subnormal or zero. Shift the full significand so
    // that one unit is 2^-24, rounding to nearest even on the bits shifted out.
    if (abs < 0x33000000) return sign; // below 2^-25: rounds to zero (2^-25 itself is a tie -> 0)
    const exp = abs >>> 23;
    const mant = (abs & 0x7fffff) | 0x800000;
    const shift = 126 - exp; // value = mant * 2^(exp - 150); unit 2^-24 -> shift by 126 - exp (>= 14)
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let q = mant >>> shift;
    if (rest > half || (rest === half && (q & 1) === 1)) q++;
    return sign | q;
  }
  // Normal: rebias the exponent (127 -> 15) and round the 13 dropped mantissa bits to nearest even.
  const rounded = abs + 0xfff + ((abs >>> 13) & 1);
  return sign | ((rounded - 0x38000000) >>> 13);
}
