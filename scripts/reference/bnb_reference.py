"""Reference bitsandbytes 4-bit (NF4 / FP4) quantizer and dequantizer in plain numpy.

Written from the description of the format, not from bitsandbytes' code paths; every float32
operation is spelled out so that the engine (native/core/quant.cpp) can repeat it step by step.
make_bnb_fixtures.py checks it byte for byte against bitsandbytes' CPU backend.

Semantics (bitsandbytes 0.50.2 CPU backend, see README.md in test/fixtures/bnb for references):

- 4-bit: flatten, blocks of `blocksize` consecutive elements (the last one may be short), absmax
  = max |x| in float32. Full blocks scale by x * fp32(1 / absmax); the short tail block divides,
  x / absmax (both as float32 ops; absmax clamped to >= 1e-38 for the scaling only), then clamp to
  [-1, 1]. The index is the code value nearest to the scaled x, found as the number of sorted-code
  midpoints strictly below x (midpoint_i = fp32(code_s[i] + code_s[i+1]) / 2): a value exactly on a
  midpoint takes the LOWER code value. FP4 codes are sorted with a stable sort, so of the two
  zero codes (index 0 and 8, both +0.0) index 0 serves (midpoint(-1/192, 0), 0] and index 8
  serves (0, midpoint(0, 1/192)].
- Packing: element 2k in the high nibble, 2k+1 in the low nibble; odd numel pads one zero
  element (code index of 0.0: 7 for NF4, 0 for FP4) into the last low nibble. Shape (ceil(n/2), 1).
- Double quantization: offset = float32 mean of the absmax in torch's CPU summation order
  (torch_cpu_sum_f32 below, then / n), centred = absmax - offset, then 8-bit blockwise (256) over
  the signed dynamic map with bitsandbytes' CPU kernel semantics (a 65536-entry lookup table,
  lut8_index below), nested absmax float32.
- Dequantization: fp32(code[q] * absmax[block]); nested absmax first: fp32(fp32(code8[q8] *
  nested_absmax[block8]) + offset) (two roundings, no fused multiply-add). Cast last.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np

F32 = np.float32

NF4_CODE = np.array(
    [
        -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
        -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
        0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
        0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
    ],
    dtype=F32,
)

# FP4 (1 sign, 2 exponent, 1 mantissa bit, bias 2 in bnb's convention) in bit-pattern order,
# divided by the largest magnitude (12) in float32. Bit pattern 0b1000 ("-0") is stored as +0.0.
_FP4_RAW = [0, 0.0625, 8, 12, 4, 6, 2, 3]
FP4_CODE = (np.array(_FP4_RAW + [-v for v in _FP4_RAW], dtype=F32) / F32(12)).astype(F32)
FP4_CODE[8] = F32(0.0)  # -0 as an integer literal is +0.0 in bnb's table


def code4(quant_type: str) -> np.ndarray:
    return {"nf4": NF4_CODE, "fp4": FP4_CODE}[quant_type].copy()


# ---------------------------------------------------------------- float32 helpers

def fma32(a, b, c) -> np.ndarray:
    """Correctly rounded float32 fused multiply-add a*b + c (exact rational arithmetic, one
    rounding to nearest even)."""
    a, b, c = np.broadcast_arrays(np.asarray(a, F32), np.asarray(b, F32), np.asarray(c, F32))
    out = np.empty(a.shape, F32)
    for idx in np.ndindex(a.shape):
        exact = Fraction(float(a[idx])) * Fraction(float(b[idx])) + Fraction(float(c[idx]))
        r = F32(float(exact))
        best = r
        for cand in (np.nextafter(r, F32(-np.inf)), np.nextafter(r, F32(np.inf))):
            d_c, d_b = abs(Fraction(float(cand)) - exact), abs(Fraction(float(best)) - exact)
            if d_c < d_b or (d_c == d_b and int(np.array(cand, F32).view(np.uint32)) % 2 == 0):
                best = cand
        out[idx] = best
    return out


def linspace_f32(start: float, end: float, steps: int) -> np.ndarray:
    """torch.linspace in float32 on CPU: step = (end - start) / (steps - 1); the first half is
    fma(step, i, start), the second half fma(-step, steps - 1 - i, end)."""
    start, end = F32(start), F32(end)
    step = F32((end - start) / F32(steps - 1))
    i = np.arange(steps)
    half = steps // 2
    first = fma32(step, i[:half].astype(F32), start)
    second = fma32(-step, (steps - 1 - i[half:]).astype(F32), end)
    return np.concatenate([first, second]).astype(F32)


def dynamic_map(signed: bool = True, max_exponent_bits: int = 7, total_bits: int = 8) -> np.ndarray:
    """The signed 8-bit dynamic map (Dettmers 2015): for exponent e = 0..6, 2^e (signed) linear
    fraction values = midpoints of linspace(0.1, 1, 2^e + 1) times 10^(e-6), with both signs,
    plus 0 and 1; sorted ascending; 256 entries. All products in float32 (fp32(10^k) * mid)."""
    non_sign_bits = total_bits - 1
    additional = 2 ** (non_sign_bits - max_exponent_bits) - 1
    values: list[np.ndarray] = []

    def add(count: int, exponent: int) -> None:
        b = linspace_f32(0.1, 1.0, count)
        means = ((b[:-1] + b[1:]) / F32(2.0)).astype(F32)
        scale = F32(10.0 ** (-(max_exponent_bits - 1) + exponent))
        values.append((scale * means).astype(F32))
        if signed:
            values.append((-(scale * means)).astype(F32))

    e = 0
    for e in range(max_exponent_bits):
        bits = e + non_sign_bits - max_exponent_bits if signed else e + non_sign_bits - max_exponent_bits + 1
        add(2 ** bits + 1, e)
    if additional > 0:
        add(additional + 1, e)
    data = np.concatenate(values + [np.array([0.0, 1.0], F32)])
    assert data.size == 2 ** total_bits, data.size
    data = np.concatenate([data, np.zeros(256 - data.size, F32)])
    return np.sort(data, kind="stable").astype(F32)


def ceil_log2(x: int) -> int:
    return 0 if x <= 1 else int(x - 1).bit_length()


def _multi_row_sum(rows: np.ndarray) -> np.ndarray:
    """torch's cascade sum over `rows` (size, nrows, lanes) with 4 accumulator levels."""
    size, nrows, lanes = rows.shape
    num_levels = 4
    level_power = max(4, ceil_log2(size) // num_levels)
    level_step = 1 << level_power
    level_mask = level_step - 1
    acc = np.zeros((num_levels, nrows, lanes), F32)
    i = 0
    while i + level_step <= size:
        for _ in range(level_step):
            acc[0] = acc[0] + rows[i]
            i += 1
        for j in range(1, num_levels):
            acc[j] = acc[j] + acc[j - 1]
            acc[j - 1] = 0
            if i & (level_mask << (j * level_power)):
                break
    while i < size:
        acc[0] = acc[0] + rows[i]
        i += 1
    for j in range(1, num_levels):
        acc[0] = acc[0] + acc[j]
    return acc[0]


def _row_sum(items: np.ndarray) -> np.ndarray:
    """torch row_sum: items (n, lanes) seen as (-1, 4) for 4 independent partial sums."""
    n, lanes = items.shape
    size_ilp = n // 4
    if size_ilp > 0:
        partial = _multi_row_sum(items[: size_ilp * 4].reshape(size_ilp, 4, lanes))
    else:
        partial = np.zeros((4, lanes), F32)
    for i in range(size_ilp * 4, n):
        partial[0] = partial[0] + items[i]
    for k in range(1, 4):
        partial[0] = partial[0] + partial[k]
    return partial[0]


def torch_cpu_sum_f32(a: np.ndarray, vec_lanes: int = 8) -> np.float32:
    """torch.sum of a contiguous float32 vector on CPU (SumKernel cascade_sum; valid for sizes
    below torch's parallel grain, 32768): vectors of 8 lanes with 4-way ILP and a cascade,
    then the scalar tail from 0, then the 8 lanes in order. Fewer than 8 values: scalar row_sum."""
    a = np.asarray(a, F32).reshape(-1)
    n = a.size
    assert n < 32768
    if n < vec_lanes:
        return F32(_row_sum(a.reshape(n, 1))[0])
    nv = n // vec_lanes
    lanes = _row_sum(a[: nv * vec_lanes].reshape(nv, vec_lanes))
    acc = F32(0)
    for k in range(nv * vec_lanes, n):
        acc = F32(acc + a[k])
    for k in range(vec_lanes):
        acc = F32(acc + lanes[k])
    return acc


def mean_f32(a: np.ndarray) -> np.float32:
    return F32(torch_cpu_sum_f32(a) / F32(a.size))


# ---------------------------------------------------------------- 4-bit

def sorted_code(code: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(code, kind="stable")
    s = code[order]
    midpoints = ((s[:-1] + s[1:]) / F32(2)).astype(F32)
    return midpoints, order


def scale_blocks(x: np.ndarray, blocksize: int) -> tuple[np.ndarray, np.ndarray]:
    """float32 absmax per block and x scaled into [-1, 1] (reciprocal multiply on full blocks,
    division on the short tail block)."""
    flat = x.reshape(-1).astype(F32)
    n = flat.size
    rem = n % blocksize
    full = n - rem
    blocks = full // blocksize
    absmax = np.abs(flat[:full].reshape(blocks, blocksize)).max(axis=1).astype(F32) if blocks else np.zeros(0, F32)
    recip = (F32(1.0) / np.maximum(absmax, F32(1e-38))).astype(F32)
    scaled = (flat[:full].reshape(blocks, blocksize) * recip[:, None]).astype(F32).reshape(-1)
    if rem:
        am = F32(np.abs(flat[full:]).max())
        absmax = np.concatenate([absmax, [am]]).astype(F32)
        scaled = np.concatenate([scaled, (flat[full:] / max(am, F32(1e-38))).astype(F32)])
    return absmax, np.clip(scaled, F32(-1), F32(1)).astype(F32)


def nearest_index(scaled: np.ndarray, code: np.ndarray) -> np.ndarray:
    """Index of the nearest code value; a value exactly on a midpoint takes the lower value."""
    midpoints, order = sorted_code(code)
    pos = np.searchsorted(midpoints, scaled, side="left")  # count of midpoints < x
    return order[pos].astype(np.uint8)


def pack_nibbles(q: np.ndarray, pad_index: int) -> np.ndarray:
    q = q.astype(np.uint8)
    if q.size % 2:
        q = np.concatenate([q, np.array([pad_index], np.uint8)])
    return ((q[0::2] << 4) | q[1::2]).astype(np.uint8).reshape(-1, 1)


def unpack_nibbles(packed: np.ndarray, n: int) -> np.ndarray:
    p = packed.reshape(-1)
    q = np.empty(p.size * 2, np.uint8)
    q[0::2] = p >> 4
    q[1::2] = p & 0xF
    return q[:n]


# ---------------------------------------------------------------- nested 8-bit (CPU kernel)

LUT_SIZE = 65536


def lut8_table(code: np.ndarray) -> np.ndarray:
    """bitsandbytes' CPU 8-bit lookup table: bin i stands for v_i = -1 + fp32(2i) / 65535 and
    holds the number of code midpoints strictly below v_i."""
    midpoints = (F32(0.5) * (code[:-1] + code[1:]).astype(F32)).astype(F32)
    i = np.arange(LUT_SIZE)
    v = (F32(-1.0) + ((F32(2.0) * i.astype(F32)).astype(F32) / F32(LUT_SIZE - 1)).astype(F32)).astype(F32)
    return np.searchsorted(midpoints, v, side="left").astype(np.uint8)


def lut8_index(v: np.ndarray) -> np.ndarray:
    """uint16(trunc(fma(fp32((clamp(v) + 1) * 0.5), 65535, 0.5)))."""
    v = np.clip(v.astype(F32), F32(-1), F32(1))
    half = ((v + F32(1.0)).astype(F32) * F32(0.5)).astype(F32)
    return np.trunc(fma32(half, F32(LUT_SIZE - 1), F32(0.5))).astype(np.int64)


def quantize_blockwise8(x: np.ndarray, code: np.ndarray, blocksize: int) -> tuple[np.ndarray, np.ndarray]:
    """8-bit blockwise as bitsandbytes' CPU kernel: absmax per block, v * fp32(1/absmax),
    table lookup; an all-zero block gives absmax 0 and index 0."""
    flat = x.reshape(-1).astype(F32)
    n = flat.size
    nblocks = -(-n // blocksize)
    lut = lut8_table(code)
    q = np.zeros(n, np.uint8)
    absmax = np.zeros(nblocks, F32)
    for b in range(nblocks):
        blk = flat[b * blocksize:(b + 1) * blocksize]
        am = F32(np.abs(blk).max())
        absmax[b] = am
        if am == 0:
            continue
        inv = F32(F32(1.0) / am)
        q[b * blocksize:(b + 1) * blocksize] = lut[lut8_index((blk * inv).astype(F32))]
    return q, absmax


def quantize_blockwise8_nearest(x: np.ndarray, code: np.ndarray, blocksize: int) -> np.ndarray:
    """Exact-nearest alternative (bnb's pure-torch backend and, ties aside, the CUDA kernel)."""
    flat = x.reshape(-1).astype(F32)
    n = flat.size
    out = np.zeros(n, np.uint8)
    for b in range(-(-n // blocksize)):
        blk = flat[b * blocksize:(b + 1) * blocksize]
        am = F32(np.abs(blk).max())
        if am == 0:
            continue
        inv = F32(F32(1.0) / am)
        out[b * blocksize:(b + 1) * blocksize] = nearest_index(np.clip(blk * inv, -1, 1).astype(F32), code)
    return out


def dequantize_blockwise8(q: np.ndarray, absmax: np.ndarray, code: np.ndarray, blocksize: int) -> np.ndarray:
    blocks = np.arange(q.size) // blocksize
    return (code[q.astype(np.int64)] * absmax[blocks]).astype(F32)


# ---------------------------------------------------------------- public API

def quantize_4bit(x: np.ndarray, quant_type: str, blocksize: int, double_quant: bool) -> dict:
    """Returns the tensors bnb serializes (numpy) plus offset/metadata."""
    assert blocksize in (32, 64, 128, 256, 512, 1024, 2048, 4096)
    code = code4(quant_type)
    absmax, scaled = scale_blocks(x, blocksize)
    q = nearest_index(scaled, code)
    zero_index = int(np.flatnonzero(code == 0)[0]) if quant_type == "nf4" else 0
    packed = pack_nibbles(q, zero_index)
    out = {"packed": packed, "code": code, "absmax_f32": absmax, "double_quant": double_quant}
    if double_quant:
        offset = mean_f32(absmax)
        centred = (absmax - offset).astype(F32)
        dmap = dynamic_map()
        q8, nested_absmax = quantize_blockwise8(centred, dmap, 256)
        out.update(absmax=q8, offset=offset, nested_absmax=nested_absmax, nested_code=dmap,
                   nested_blocksize=256, q8_nearest=quantize_blockwise8_nearest(centred, dmap, 256))
    else:
        out["absmax"] = absmax
    return out


def absmax_float(state: dict) -> np.ndarray:
    if not state["double_quant"]:
        return state["absmax"].astype(F32)
    a = dequantize_blockwise8(state["absmax"], state["nested_absmax"], state["nested_code"], state["nested_blocksize"])
    return (a + F32(state["offset"])).astype(F32)


def dequantize_4bit(packed: np.ndarray, absmax: np.ndarray, code: np.ndarray, blocksize: int, shape) -> np.ndarray:
    n = int(np.prod(shape))
    q = unpack_nibbles(packed, n)
    blocks = np.arange(n) // blocksize
    return (code[q.astype(np.int64)] * absmax[blocks]).astype(F32).reshape(shape)


def f32_to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns, round to nearest even (no NaN expected)."""
    u = np.asarray(x, F32).view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)
