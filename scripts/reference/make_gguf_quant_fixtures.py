"""Fixtures for the GGUF exporter's quantizers (src/gguf/export/quantize-*.ts):
test/fixtures/gguf/export-quant/values.f32 (float32 inputs) and <TYPE>.raw, the bytes the
reference quantizers write for them.

- F16, BF16, Q8_0, Q4_0, Q5_0: gguf-py's quants.quantize (the `gguf` package, PyPI).
- Q4_K, Q6_K: gguf-py has no quantizer for them (only dequantization), so they come from ggml's
  own C reference, quantize_row_q4_K_ref / quantize_row_q6_K_ref in ggml-quants.c, compiled
  here with the system C compiler from a ggml source tree (--ggml DIR, a checkout of
  github.com/ggml-org/ggml) and called through ctypes. The same library's Q8_0 / Q4_0 / Q5_0
  reference quantizers are checked equal to gguf-py's, so the two references agree.

The inputs mix scales (1e-3 .. 30), an all-zero block, blocks with one outlier, exact ties of the
rounding (x.5 steps) and negative maxima, so each branch of the algorithms is hit.

Run from the repository root:
    python3 scripts/reference/make_gguf_quant_fixtures.py --ggml /path/to/ggml
"""
import argparse
import ctypes
import hashlib
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as T
from importlib.metadata import version
from gguf import quants

OUT = Path("test/fixtures/gguf/export-quant")
QK_K = 256

STUBS = r"""
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
void ggml_abort(const char * file, int line, const char * fmt, ...) { fprintf(stderr, "ggml_abort %s:%d\n", file, line); abort(); }
size_t ggml_row_size(int type, long ne) { (void) type; (void) ne; abort(); }
const char * ggml_type_name(int type) { (void) type; return "?"; }
size_t ggml_type_size(int type) { (void) type; abort(); }
"""


def build_ggml(ggml: Path, work: Path) -> ctypes.CDLL:
    stubs = work / "stubs.c"
    stubs.write_text(STUBS)
    lib = work / "libggmlquants.so"
    # No -ffast-math and no FMA contraction: the reference's float operations, each rounded to float32.
    subprocess.run(
        ["cc", "-O2", "-ffp-contract=off", "-fPIC", "-shared", "-o", str(lib), str(ggml / "src" / "ggml-quants.c"), str(stubs),
         "-I", str(ggml / "include"), "-I", str(ggml / "src"), "-lm"],
        check=True,
    )
    return ctypes.CDLL(str(lib))


def c_quantize(lib: ctypes.CDLL, fn: str, x: np.ndarray, qtype: T) -> np.ndarray:
    block, size = quants.GGML_QUANT_SIZES[qtype]
    out = np.zeros(x.size // block * size, dtype=np.uint8)
    f = getattr(lib, fn)
    f.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    f.restype = None
    f(x.ctypes.data, out.ctypes.data, x.size)
    return out


def values(rng: np.random.Generator) -> np.ndarray:
    blocks = []
    for scale in [1e-3, 0.02, 0.2, 1.0, 30.0]:
        blocks.append(rng.standard_normal(QK_K) * scale)
        blocks.append(rng.uniform(-scale, scale, QK_K))
        blocks.append(np.abs(rng.standard_normal(QK_K)) * scale)  # all positive: min 0 in Q4_K
    blocks.append(np.zeros(QK_K))
    outlier = rng.standard_normal(QK_K) * 0.05
    outlier[::37] = -4.0  # negative maxima, several per 32-block group
    blocks.append(outlier)
    ties = (rng.integers(-16, 16, QK_K) + 0.5) / 8.0  # rounding ties for Q8_0 / Q4_0 scales
    ties[0] = 2.0
    blocks.append(ties)
    sparse = np.zeros(QK_K)
    sparse[5] = 1e-3
    sparse[200] = -7.0
    blocks.append(sparse)
    return np.concatenate(blocks).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ggml", type=Path, required=True, help="ggml source tree (src/ggml-quants.c, include/ggml.h)")
    ap.add_argument("--ggml-commit", default=None, help="the tree's commit, recorded in the manifest (default: git rev-parse in --ggml)")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    x = values(np.random.default_rng(20261203))
    (OUT / "values.f32").write_bytes(x.tobytes())
    records = {}
    with tempfile.TemporaryDirectory() as tmp:
        lib = build_ggml(args.ggml, Path(tmp))
        raws = {
            "F16": x.astype(np.float16).view(np.uint8),
            "BF16": quants.quantize(x, T.BF16).reshape(-1),
            "Q8_0": quants.quantize(x, T.Q8_0).reshape(-1),
            "Q4_0": quants.quantize(x, T.Q4_0).reshape(-1),
            "Q5_0": quants.quantize(x, T.Q5_0).reshape(-1),
            "Q4_K": c_quantize(lib, "quantize_row_q4_K_ref", x, T.Q4_K),
            "Q6_K": c_quantize(lib, "quantize_row_q6_K_ref", x, T.Q6_K),
        }
        for name, fn in [("Q8_0", "quantize_row_q8_0_ref"), ("Q4_0", "quantize_row_q4_0_ref"), ("Q5_0", "quantize_row_q5_0_ref")]:
            c = c_quantize(lib, fn, x, T[name])
            assert np.array_equal(c, raws[name]), f"ggml's C {name} differs from gguf-py's"
    for name, raw in raws.items():
        data = np.ascontiguousarray(raw, dtype=np.uint8).tobytes()
        (OUT / f"{name}.raw").write_bytes(data)
        deq = quants.dequantize(np.frombuffer(data, dtype=np.uint8), T[name]) if name not in ("F16",) else x.astype(np.float16).astype(np.float32)
        records[name] = {
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "source": "ggml-quants.c (C reference, compiled)" if name in ("Q4_K", "Q6_K") else "gguf-py quants.quantize",
            "max_abs_error": float(np.max(np.abs(np.asarray(deq, dtype=np.float32).reshape(-1) - x))),
        }
    commit = args.ggml_commit or subprocess.run(["git", "-C", str(args.ggml), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip() or "unknown"
    manifest = {"values": int(x.size), "gguf": version("gguf"), "ggml_commit": commit, "types": records}
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
