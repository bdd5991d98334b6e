#!/usr/bin/env python3
"""Writes the bundled demo dataset, assets/demo/data/{train,test}.csv, from nothing.

Short synthetic movie reviews in the IMDB CSV layout (id, review, sentiment), made by the
same review generator that made the demo model's pretraining corpus
(scripts/make_demo_model.py). 60% of the reviews use the HELD_OUT sentiment words, which the
demo model saw only in sentences without sentiment: zero-shot it guesses on those, and SFT
has to teach them. Labels are balanced; train and test come from different seeds.

Usage: python3 scripts/make_demo_data.py [--out assets/demo/data] [--train 2000] [--test 500]
Deterministic: Python's random.Random with fixed seeds; needs nothing beyond the stdlib.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_demo_model import HELD_OUT, KNOWN, review  # noqa: E402  (the one review generator)

REPO_ROOT = Path(__file__).resolve().parent.parent
HELD_OUT_SHARE = 0.6


def rows(split: str, n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        positive = i % 2 == 0
        lexicon = HELD_OUT if rng.random() < HELD_OUT_SHARE else KNOWN
        label = "positive" if positive else "negative"
        out.append({"id": f"{split}_{label[:3]}_{i // 2}", "review": review(rng, positive, lexicon), "sentiment": label})
    rng.shuffle(out)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "assets" / "demo" / "data")
    ap.add_argument("--train", type=int, default=2000)
    ap.add_argument("--test", type=int, default=500)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for split, n, seed in (("train", args.train, 7001), ("test", args.test, 7002)):
        path = args.out / f"{split}.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=["id", "review", "sentiment"])
            writer.writeheader()
            writer.writerows(rows(split, n, seed))
        print(f"wrote {path} ({n} rows, {path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
