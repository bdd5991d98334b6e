"""Loads a checkpoint folder written by `sft import` with transformers and prints, as JSON, what
test/native/gguf-import.test.ts compares with the GGUF-loaded reference
(test/fixtures/gguf/<model>-reference.json): token ids of the reference texts through
AutoTokenizer (tokenizer.json via the tokenizers library) and fp32 logits of the reference
prompts (the same fields gguf_reference.py records).

    python3 scripts/reference/gguf_load_check.py OUT_DIR REFERENCE_JSON [OUT_DIR REFERENCE_JSON ...]

One JSON list, an entry per pair (one process: torch and transformers load once).
"""
import json
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from gguf_reference import logits_record  # noqa: E402


def check(out_dir: str, reference: str) -> dict:
    ref = json.load(open(reference, encoding="utf-8"))
    tok = AutoTokenizer.from_pretrained(out_dir)
    model = AutoModelForCausalLM.from_pretrained(out_dir, dtype=torch.float32)
    model.eval()
    return {
        "tokens": [tok(t["text"])["input_ids"] for t in ref["tokens"]],
        "logits": [logits_record(model, r["ids"]) for r in ref["logits"]],
    }


def main() -> None:
    args = sys.argv[1:]
    print(json.dumps([check(args[i], args[i + 1]) for i in range(0, len(args), 2)]))


if __name__ == "__main__":
    main()
