#!/usr/bin/env python3
"""Classification logits of a base checkpoint + a peft SEQ_CLS adapter, as peft computes them.

    python3 scripts/reference/peft_classify_logits.py '[{"base": DIR, "adapter": DIR, "num_labels": 3, "rows": [[1, 2, 3], [4, 5]]}, ...]'

Per job: loads base as AutoModelForSequenceClassification (float32, eager attention), wraps it
with PeftModel.from_pretrained(adapter) (the score head from the adapter's modules_to_save) when
the job names one ("adapter": null: a merged checkpoint, its own score.weight) and runs every
row alone (no padding). Prints one JSON line: per job, [rows][num_labels] logits
(one process for several jobs: importing transformers is most of the time). The engine's
tests use it to show that SEQ_CLS adapters the engine saves load in peft with the same logits.
No network access (HF_HUB_OFFLINE is forced).
"""

import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402


@torch.no_grad()
def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: peft_classify_logits.py 'JSON list of {base, adapter, num_labels, rows}'")
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification

    out = []
    for job in json.loads(sys.argv[1]):
        rows = job["rows"]
        if not isinstance(rows, list) or not all(isinstance(r, list) and r for r in rows):
            sys.exit("rows must be a JSON list of non-empty lists of token ids")
        base = AutoModelForSequenceClassification.from_pretrained(
            job["base"], num_labels=int(job["num_labels"]), dtype=torch.float32, attn_implementation="eager"
        )
        model = PeftModel.from_pretrained(base, job["adapter"], is_trainable=False) if job.get("adapter") else base
        model.eval()
        out.append([model(input_ids=torch.tensor([r])).logits[0].tolist() for r in rows])
    sys.stdout.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
