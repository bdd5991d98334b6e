"""Learning rates of transformers' schedulers (get_scheduler: linear, cosine, constant,
constant_with_warmup) step by step, for src/train/schedule.ts's tests.

usage: python3 scripts/reference/make_schedule_fixtures.py  -> test/fixtures/schedules.json
"""
import json
from pathlib import Path

import torch
import transformers
from transformers import get_scheduler

OUT = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "schedules.json"
CASES = [
    ("linear", 1e-3, 10, 50), ("linear", 2e-5, 100, 4689), ("linear", 5e-4, 0, 20),
    ("cosine", 1e-3, 10, 50), ("cosine", 3e-4, 0, 33), ("constant", 1e-3, 0, 20),
    ("constant_with_warmup", 1e-3, 7, 30), ("linear", 1e-3, 60, 50),
]


def main() -> None:
    out = []
    for name, lr, warmup, total in CASES:
        param = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.AdamW([param], lr=lr)
        sched = get_scheduler(name, opt, num_warmup_steps=warmup, num_training_steps=total)
        lrs = []
        for _ in range(total):
            lrs.append(opt.param_groups[0]["lr"])  # the lr the optimizer step uses
            opt.step()
            sched.step()
        out.append({"schedule": name, "lr": lr, "warmup_steps": warmup, "total_steps": total,
                    "sample_steps": list(range(0, total, max(1, total // 40))) + [total - 1],
                    "lrs": [lrs[i] for i in list(range(0, total, max(1, total // 40))) + [total - 1]]})
    OUT.write_text(json.dumps({"transformers_version": transformers.__version__, "cases": out}, indent=1) + "\n")
    print(f"wrote {OUT} ({len(out)} cases)")


if __name__ == "__main__":
    main()
