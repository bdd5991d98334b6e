"""Writes the safetensors reference fixture that test/native/safetensors.test.ts reads back.

The file comes from the official `safetensors` library (torch front end, so BF16 is covered);
a JSON sidecar records each tensor's dtype, shape and raw little-endian bytes as hex, computed
here independently of our reader. Run from the repository root:

    python3 scripts/reference/make_safetensors_fixtures.py
"""
import json
from pathlib import Path

import torch
from safetensors.torch import save_file

OUT = Path("test/fixtures/safetensors")

DTYPE_NAMES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.uint8: "U8",
    torch.int8: "I8",
    torch.int32: "I32",
    torch.int64: "I64",
    torch.bool: "BOOL",
}


def reference_tensors():
    return {
        "layer.weight_f32": torch.linspace(-1.5, 2.25, 6, dtype=torch.float32).reshape(2, 3),
        "layer.weight_f16": torch.tensor([0.5, -2.0, 65504.0, 1e-3], dtype=torch.float16),
        "layer.weight_bf16": torch.tensor([[1.0, -0.1], [3.5, 1e20]], dtype=torch.bfloat16),
        "ids.u8": torch.tensor([0, 1, 127, 255], dtype=torch.uint8),
        "ids.i8": torch.tensor([-128, -1, 0, 127], dtype=torch.int8),
        "ids.i32": torch.tensor([[-2147483648, 7], [2147483647, 0]], dtype=torch.int32),
        "ids.i64": torch.tensor([-(2**63), 2**53 + 1, 2**63 - 1], dtype=torch.int64),
        "mask.bool": torch.tensor([True, False, True], dtype=torch.bool),
        "scalar": torch.tensor(3.25, dtype=torch.float32),
        "empty": torch.zeros((0, 4), dtype=torch.float32),
    }


def raw_hex(t: torch.Tensor) -> str:
    flat = t.contiguous().reshape(-1)
    return flat.view(torch.uint8).numpy().tobytes().hex() if flat.numel() else ""


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    tensors = reference_tensors()
    metadata = {"format": "pt", "note": "written by safetensors.torch.save_file"}
    save_file(tensors, OUT / "python_reference.safetensors", metadata=metadata)
    expected = {
        "metadata": metadata,
        "tensors": {
            name: {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape), "hex": raw_hex(t)}
            for name, t in tensors.items()
        },
    }
    (OUT / "python_reference.json").write_text(json.dumps(expected, indent=2) + "\n")


if __name__ == "__main__":
    main()
