#!/usr/bin/env python3
"""Greedy continuations of a base checkpoint + a PEFT LoRA adapter, as transformers + peft
generate them (float32, eager attention, no EOS stop).

    python3 scripts/reference/peft_greedy.py BASE_DIR ADAPTER_DIR '[[1, 2, 3], [4, 5]]' MAX_NEW

Prints one JSON line: the new tokens of each sequence, generated one prompt at a time.
"""
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from peft import PeftModel  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402


@torch.no_grad()
def main() -> None:
    base_dir, adapter_dir, seqs_json, max_new = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    base = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32, attn_implementation="eager").eval()
    base.generation_config.eos_token_id = None
    model = PeftModel.from_pretrained(base, adapter_dir, is_trainable=False).eval()
    out = []
    for seq in json.loads(seqs_json):
        ids = torch.tensor([seq])
        new = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
                             max_new_tokens=max_new, min_new_tokens=max_new, eos_token_id=None, pad_token_id=0)
        out.append(new[0, len(seq):].tolist())
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
