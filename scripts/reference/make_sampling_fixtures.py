#!/usr/bin/env python3
"""Sampling fixtures for native/core/sampling (issue 16 point 2), computed by transformers' own warpers:

- test/fixtures/sampling/warpers.json  fixed (rows, vocab) logits and, for each (temperature, top_k, top_p)
  case, the probabilities softmax(warped) where warped = TopP(TopK(Temperature(logits))): the
  TemperatureLogitsWarper, TopKLogitsWarper and TopPLogitsWarper of transformers.generation.logits_process,
  applied in the order generate() applies them (_get_logits_processor). Filtered tokens have probability 0.

The logits are float32 rows of distinct values, plus a row with ties (top-k keeps every tie of its k-th
value). torch.sort is not stable, so where top-p cuts through a group of equal logits which of them stay
is arbitrary: such rows are listed in the case's tiesAtCutoff (the test compares their kept probabilities
as a multiset).

usage: .venv-ref/bin/python scripts/reference/make_sampling_fixtures.py
"""
import json
from importlib.metadata import version
from pathlib import Path

import torch
from transformers.generation.logits_process import (
    LogitsProcessorList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test" / "fixtures" / "sampling"

CASES = [
    {"temperature": 1.0, "topK": 0, "topP": 1.0},
    {"temperature": 0.7, "topK": 0, "topP": 1.0},
    {"temperature": 1.8, "topK": 0, "topP": 1.0},
    {"temperature": 1.0, "topK": 1, "topP": 1.0},
    {"temperature": 1.0, "topK": 5, "topP": 1.0},
    {"temperature": 1.0, "topK": 0, "topP": 0.9},
    {"temperature": 1.0, "topK": 0, "topP": 0.5},
    {"temperature": 1.0, "topK": 0, "topP": 0.01},
    {"temperature": 0.7, "topK": 20, "topP": 0.8},
    {"temperature": 1.3, "topK": 8, "topP": 0.95},
    {"temperature": 0.5, "topK": 50, "topP": 0.9},
]


def logits():
    g = torch.Generator().manual_seed(1234)
    rows = [torch.randn(64, generator=g) * scale for scale in (0.5, 2.0, 6.0)]
    peaked = torch.randn(64, generator=g)
    peaked[17] = 12.0  # one token holds almost all the mass
    rows.append(peaked)
    ties = torch.randn(64, generator=g)
    ties[[3, 9, 40]] = 5.0  # a three-way tie at the top, then ties at the 5th place
    ties[[11, 12, 13]] = 4.0
    rows.append(ties)
    return torch.stack(rows).to(torch.float32)


def warp(scores, case):
    processors = LogitsProcessorList()
    if case["temperature"] != 1.0:
        processors.append(TemperatureLogitsWarper(case["temperature"]))
    if case["topK"] > 0:
        processors.append(TopKLogitsWarper(case["topK"]))
    if case["topP"] < 1.0:
        processors.append(TopPLogitsWarper(case["topP"]))
    ids = torch.zeros((scores.shape[0], 1), dtype=torch.long)
    return processors(ids, scores.clone())


def ties_at_cutoff(x, probs):
    """Rows where equal logits are partly kept, partly filtered: which of them stay follows
    torch.sort's (unstable) order, so only the kept probabilities as a multiset are defined."""
    rows = []
    for r in range(x.shape[0]):
        for value in torch.unique(x[r]):
            kept = probs[r][x[r] == value] > 0
            if kept.any() and not kept.all():
                rows.append(r)
                break
    return rows


def main():
    x = logits()
    cases = []
    for case in CASES:
        probs = torch.softmax(warp(x, case), dim=-1)
        cases.append({**case, "probs": probs.tolist(), "tiesAtCutoff": ties_at_cutoff(x, probs)})
    OUT.mkdir(parents=True, exist_ok=True)
    out = {
        "generator": "scripts/reference/make_sampling_fixtures.py",
        "transformers": version("transformers"),
        "torch": version("torch"),
        "logits": x.tolist(),
        "cases": cases,
    }
    (OUT / "warpers.json").write_text(json.dumps(out) + "\n")
    print(f"wrote {OUT / 'warpers.json'}: {len(cases)} cases x {x.shape[0]} rows")


if __name__ == "__main__":
    main()
