"""Reads GGUF files with gguf-py (the `gguf` package's GGUFReader) and prints, as one JSON list,
what test/native/gguf-export-readback.test.ts compares with our own reader: the version, every
metadata key with its GGUF value type and value, and every tensor's name, ggml type, shape
(ne order) and the sha256 of its values dequantized to float32 by gguf-py's quants.dequantize.

    python3 scripts/reference/gguf_export_check.py FILE.gguf [FILE.gguf ...]
"""
import hashlib
import json
import sys

import numpy as np
from gguf import GGUFReader, GGUFValueType, quants


def value(field):
    types = field.types
    if types[0] == GGUFValueType.ARRAY:
        return [field.contents(i) for i in range(len(field.data))]
    return field.contents()


def check(path: str) -> dict:
    r = GGUFReader(path)
    metadata = {}
    for name, field in r.fields.items():
        if name.startswith("GGUF."):
            continue
        types = [t.name for t in field.types]
        metadata[name] = {"type": types, "value": value(field)}
    tensors = []
    for t in r.tensors:
        values = quants.dequantize(t.data, t.tensor_type).astype(np.float32).reshape(-1)
        tensors.append({
            "name": t.name,
            "type": t.tensor_type.name,
            "shape": [int(d) for d in t.shape],
            "sha256": hashlib.sha256(np.ascontiguousarray(values).tobytes()).hexdigest(),
        })
    version = int(r.fields["GGUF.version"].parts[-1][0])
    return {"file": path, "version": version, "metadata": metadata, "tensors": tensors}


if __name__ == "__main__":
    print(json.dumps([check(p) for p in sys.argv[1:]]))
