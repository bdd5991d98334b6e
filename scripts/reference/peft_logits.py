#!/usr/bin/env python3
"""Logits of a base checkpoint + a PEFT LoRA adapter, as Python peft computes them.

    python3 scripts/reference/peft_logits.py BASE_DIR ADAPTER_DIR '[[1, 2, 3], [4, 5]]'

Loads BASE_DIR with transformers (float32, eager attention), wraps it with
PeftModel.from_pretrained(ADAPTER_DIR) and runs every sequence alone (unpadded, no attention
mask). Prints one JSON line: a list with one [T][vocab] float list per sequence. The engine's
tests use it to show that adapters the engine saves load in peft and give the same logits.
No network access (HF_HUB_OFFLINE is forced).
"""

import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402


def load_base(base_dir: str):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    return model


@torch.no_grad()
def sequence_logits(model, sequences: list[list[int]]) -> list[torch.Tensor]:
    out = []
    for seq in sequences:
        ids = torch.tensor([seq], dtype=torch.long)
        out.append(model(input_ids=ids).logits[0].float().contiguous())
    return out


def peft_logits(base_dir: str, adapter_dir: str, sequences: list[list[int]]) -> list[torch.Tensor]:
    from peft import PeftModel

    model = PeftModel.from_pretrained(load_base(base_dir), adapter_dir, is_trainable=False)
    model.eval()
    return sequence_logits(model, sequences)


def main() -> None:
    if len(sys.argv) != 4:
        sys.exit("usage: peft_logits.py BASE_DIR ADAPTER_DIR 'JSON list of token id lists'")
    base_dir, adapter_dir, seqs_json = sys.argv[1:]
    sequences = json.loads(seqs_json)
    if not isinstance(sequences, list) or not all(isinstance(s, list) and s for s in sequences):
        sys.exit("sequences must be a JSON list of non-empty lists of token ids")
    logits = peft_logits(base_dir, adapter_dir, sequences)
    sys.stdout.write(json.dumps([t.tolist() for t in logits]) + "\n")


if __name__ == "__main__":
    main()
