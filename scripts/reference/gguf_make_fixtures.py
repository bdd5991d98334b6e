"""Writes the GGUF reader and dequantization fixtures under test/fixtures/gguf/.

dequant/: for each ggml type we decode, random raw blocks (any bytes are a valid block; only
the fp16 scale fields are kept finite so that NaN payloads do not enter the comparison) and
gguf-py's numpy dequantization of them (the code transformers' GGUF loading runs), as raw
little-endian float32. test/unit/gguf-dequant.test.ts checks our decoder bit for bit.

convert/: float32 values (random, ties, subnormals, huge, NaN, inf) and torch's
.to(bfloat16) / .to(float16) of them, the rounding our writer must reproduce.

reader.gguf: a small file written by gguf-py's GGUFWriter with every metadata value type,
string arrays, a u64 beyond 2^53, a non-default alignment and tensors of several types and
ranks; reader.json is what gguf-py's GGUFReader reads back from it.

Run from the repository root (needs numpy, torch and the `gguf` package):

    python3 scripts/reference/gguf_make_fixtures.py
"""
import json
from pathlib import Path

import numpy as np
import torch
from gguf import GGMLQuantizationType as T
from gguf import GGUFReader, GGUFValueType, GGUFWriter
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize

OUT = Path("test/fixtures/gguf")
SEED = 20250101

# Byte offsets of the fp16 scale fields inside one block (ggml-common.h).
FP16_FIELDS = {
    T.Q4_0: [0],
    T.Q4_1: [0, 2],
    T.Q5_0: [0],
    T.Q5_1: [0, 2],
    T.Q8_0: [0],
    T.Q2_K: [80, 82],
    T.Q3_K: [108],
    T.Q4_K: [0, 2],
    T.Q5_K: [0, 2],
    T.Q6_K: [208],
}


def finite_fp16(block_bytes: np.ndarray, offsets: list[int]) -> None:
    """Clears one exponent bit where an fp16 field is inf/NaN (exponent all ones)."""
    for off in offsets:
        hi = block_bytes[:, off + 1]
        bad = (hi & 0x7C) == 0x7C
        hi[bad] &= 0xBF
        block_bytes[:, off + 1] = hi


def raw_blocks(rng: np.random.Generator, qtype: T, values: int) -> np.ndarray:
    block, size = GGML_QUANT_SIZES[qtype]
    n_blocks = values // block
    data = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
    if qtype in FP16_FIELDS:
        finite_fp16(data, FP16_FIELDS[qtype])
        # A few blocks with zero / negative-zero / subnormal scales, the edge cases of the formulas.
        specials = [0x0000, 0x8000, 0x0001, 0x83FF]
        for i, bits in enumerate(specials):
            if i < n_blocks:
                for off in FP16_FIELDS[qtype]:
                    data[i, off] = bits & 0xFF
                    data[i, off + 1] = bits >> 8
    return data


def plain_values(rng: np.random.Generator, qtype: T, values: int) -> np.ndarray:
    if qtype == T.F32:
        bits = rng.integers(0, 2**32, size=values, dtype=np.uint64).astype(np.uint32)
        # Keep NaNs out: numpy views F32 through, but a NaN's payload is not what we test.
        exp_all_ones = (bits & 0x7F800000) == 0x7F800000
        bits[exp_all_ones] &= 0xBFFFFFFF
        return bits.view(np.uint8)
    bits = rng.integers(0, 2**16, size=values, dtype=np.uint32).astype(np.uint16)
    bits[:8] = [0x0000, 0x8000, 0x0001, 0x03FF, 0x0400, 0x7BFF, 0x7C00, 0xFC00]  # zeros, subnormals, max, +-inf
    nan = (bits & 0x7F80 if qtype == T.BF16 else bits & 0x7C00)
    nan_exp = 0x7F80 if qtype == T.BF16 else 0x7C00
    mant = bits & (0x007F if qtype == T.BF16 else 0x03FF)
    bits[(nan == nan_exp) & (mant != 0)] &= 0xBFFF  # no NaNs, infinities kept
    return bits.view(np.uint8)


def dequant_fixtures() -> None:
    rng = np.random.default_rng(SEED)
    out = OUT / "dequant"
    out.mkdir(parents=True, exist_ok=True)
    manifest = []
    cases = [
        (T.F32, 1024), (T.F16, 2048), (T.BF16, 2048),
        (T.Q4_0, 2048), (T.Q4_1, 2048), (T.Q5_0, 2048), (T.Q5_1, 2048), (T.Q8_0, 2048),
        (T.Q2_K, 4096), (T.Q3_K, 4096), (T.Q4_K, 4096), (T.Q5_K, 4096), (T.Q6_K, 4096),
    ]
    for qtype, values in cases:
        if qtype in FP16_FIELDS:
            raw = raw_blocks(rng, qtype, values).reshape(-1)
        else:
            raw = plain_values(rng, qtype, values)
        # Two rows, as tensors come: dequantize() works on the last axis.
        rows = raw.reshape(2, -1)
        expected = np.ascontiguousarray(dequantize(rows, qtype), dtype=np.float32).reshape(-1)
        assert expected.size == values, (qtype.name, expected.size)
        (out / f"{qtype.name}.raw").write_bytes(raw.tobytes())
        (out / f"{qtype.name}.f32").write_bytes(expected.astype("<f4").tobytes())
        manifest.append({"type": qtype.name, "id": int(qtype), "values": values, "bytes": int(raw.size)})
    (out / "manifest.json").write_text(json.dumps({"generator": "gguf-py quants.dequantize", "cases": manifest}, indent=1) + "\n")


def convert_fixtures() -> None:
    g = torch.Generator().manual_seed(SEED)
    specials = torch.tensor(
        [0.0, -0.0, 1.0, -1.0, 65504.0, 65520.0, 65519.0, 1e-8, -6e-8, 5.96e-8, 2.98e-8, 6.1e-5, 1e30, -1e38,
         float("inf"), float("-inf"), 3.4e38, 1.1754942e-38, 1e-45],
        dtype=torch.float32,
    )
    random = torch.randn(2000, generator=g) * torch.exp2(torch.randint(-30, 30, (2000,), generator=g).float())
    # Exact bf16 / fp16 ties: round-half-to-even decides these.
    ties_bf16 = (torch.randint(-(2**15), 2**15, (500,), generator=g).to(torch.int32) << 16 | 0x8000).view(torch.float32)
    ties_f16 = torch.randint(1, 2000, (500,), generator=g).float() + 0.5  # n + 0.5 with n < 2048: fp16 ties
    ties_f16 = torch.cat([ties_f16 * 2.0, ties_f16 * 4.0])  # 2n+1 and 4n+2 on the fp16 grid
    x = torch.cat([specials, random, ties_bf16, ties_f16]).contiguous()
    x = x[torch.isfinite(x) | torch.isinf(x)]
    out = OUT / "convert"
    out.mkdir(parents=True, exist_ok=True)
    (out / "values.f32").write_bytes(x.numpy().astype("<f4").tobytes())
    (out / "values.bf16").write_bytes(x.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes())
    (out / "values.f16").write_bytes(x.to(torch.float16).view(torch.int16).numpy().astype("<i2").tobytes())


def reader_fixture() -> None:
    path = OUT / "reader.gguf"
    w = GGUFWriter(str(path), arch="testarch")
    w.add_custom_alignment(64)
    w.add_uint8("t.u8", 250)
    w.add_int8("t.i8", -100)
    w.add_uint16("t.u16", 65000)
    w.add_int16("t.i16", -32000)
    w.add_uint32("t.u32", 4_000_000_000)
    w.add_int32("t.i32", -2_000_000_000)
    w.add_float32("t.f32", 0.1)
    w.add_bool("t.bool", True)
    w.add_string("t.string", "héllo ✓ \U0001F600")
    w.add_uint64("t.u64.small", 2**40)
    w.add_uint64("t.u64.big", 2**63 + 5)
    w.add_int64("t.i64", -(2**62))
    w.add_float64("t.f64", 1e-300)
    w.add_array("t.arr.str", ["a", "", "ü", "<|im_start|>"])
    w.add_array("t.arr.i32", [1, -2, 3])
    w.add_array("t.arr.f32", [0.5, -1.25])
    w.add_key_value("t.arr.u64", [1, 2**60], GGUFValueType.ARRAY, sub_type=GGUFValueType.UINT64)
    w.add_key_value("t.arr.bool", [True, False], GGUFValueType.ARRAY, sub_type=GGUFValueType.BOOL)
    rng = np.random.default_rng(SEED + 1)
    w.add_tensor("a.f32", rng.standard_normal((3, 5)).astype(np.float32))
    w.add_tensor("b.f16", rng.standard_normal((7,)).astype(np.float16))
    q8 = raw_blocks(rng, T.Q8_0, 4 * 64).reshape(4, -1)  # 4 rows of 64 values
    w.add_tensor("c.q8_0", q8, raw_shape=q8.shape, raw_dtype=T.Q8_0)
    q4k = raw_blocks(rng, T.Q4_K, 2 * 3 * 256).reshape(2, 3, -1)
    w.add_tensor("d.q4_k", q4k, raw_shape=q4k.shape, raw_dtype=T.Q4_K)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    r = GGUFReader(str(path))
    meta = {}
    for key, field in r.fields.items():
        if key.startswith("GGUF."):
            continue
        value = field.contents()
        if isinstance(value, int) and abs(value) > 2**53:
            value = {"bigint": str(value)}
        elif isinstance(value, list):
            value = [{"bigint": str(v)} if isinstance(v, int) and abs(v) > 2**53 else v for v in value]
        meta[key] = value
    tensors = [
        {
            "name": t.name,
            "shape": [int(d) for d in t.shape],
            "type": int(t.tensor_type),
            "offset": int(t.data_offset),
            "bytes": int(t.n_bytes),
            "first_bytes": list(np.asarray(t.data).view(np.uint8).reshape(-1)[:8].tolist()),
        }
        for t in r.tensors
    ]
    (OUT / "reader.json").write_text(json.dumps({"metadata": meta, "tensors": tensors}, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    dequant_fixtures()
    convert_fixtures()
    reader_fixture()
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file() and "reference" not in p.name)
    print(f"wrote {OUT} ({total / 1024:.0f} KiB)")
