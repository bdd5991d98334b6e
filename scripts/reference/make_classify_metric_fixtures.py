#!/usr/bin/env python3
"""Classification-eval fixtures for src/eval/classify-metrics.ts and src/data/kfold.ts (issue 15),
computed by scikit-learn:

- test/fixtures/classify-metrics/metrics.json  per case: float32 logits, scipy's softmax of them in
  float64, `log_loss(y, P, labels=range(K))`, `accuracy_score`, `f1_score(average='macro')` of the
  argmax predictions and `confusion_matrix(labels=range(K))`. Cases: 2, 3 and 5 classes, seeded random
  logits of several scales, logits far apart (probabilities that underflow to 0 or round to 1, where
  log_loss's clip to [eps, 1 - eps] decides the value), a class never predicted, a class never true,
  a single row, ties (argmax takes the first).
- test/fixtures/classify-metrics/kfold.json  per case: string labels, n_splits, and for each fold the
  count of each class (sorted names) in StratifiedKFold(n_splits, shuffle=True, random_state=0)'s test
  fold, which src/data/kfold.ts's allocation must equal (the rows differ: numpy's generator).

usage: .venv-ref/bin/python scripts/reference/make_classify_metric_fixtures.py
"""
import json
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np
from scipy.special import softmax
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, log_loss
from sklearn.model_selection import StratifiedKFold

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test" / "fixtures" / "classify-metrics"


def metric_case(name, logits, truth):
    logits = np.asarray(logits, dtype=np.float32)
    k = logits.shape[1]
    probs = softmax(logits.astype(np.float64), axis=1)
    pred = probs.argmax(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zero_division warnings: their value (0) is what we check
        f1 = f1_score(truth, pred, average="macro")
    return {
        "name": name,
        "numLabels": k,
        "logits": logits.tolist(),
        "truth": [int(t) for t in truth],
        "probabilities": probs.tolist(),
        "predicted": [int(p) for p in pred],
        "logLoss": float(log_loss(truth, probs, labels=list(range(k)))),
        "accuracy": float(accuracy_score(truth, pred)),
        "macroF1": float(f1),
        "confusion": confusion_matrix(truth, pred, labels=list(range(k))).tolist(),
    }


def metric_cases():
    rng = np.random.default_rng(15)
    cases = []
    for k, n, scale in [(2, 40, 1.0), (3, 60, 3.0), (5, 100, 0.5), (3, 25, 10.0)]:
        truth = rng.integers(0, k, n)
        # logits leaning toward the true class, so accuracy is neither 0 nor 1
        logits = rng.normal(0, scale, (n, k))
        logits[np.arange(n), truth] += scale * 0.8
        cases.append(metric_case(f"random k{k} n{n} scale{scale}", logits, truth))
    # probabilities that underflow to exactly 0 (clipped to eps) and round to exactly 1 (clipped to 1 - eps)
    cases.append(metric_case("far apart", [[0, 800, -5], [60, 0, 0], [0, 0, 0], [-900, 0, 900]], [0, 0, 2, 1]))
    cases.append(metric_case("exact one", [[40, 0], [0, 40], [0, 40]], [0, 1, 0]))
    # class 2 never predicted; class 0 never true
    cases.append(metric_case("absent classes", [[5, 0, 0], [4, 1, 0], [0, 3, 0], [0, 2, 1]], [1, 2, 1, 2]))
    cases.append(metric_case("single row", [[0.25, -1.5, 2.0]], [2]))
    cases.append(metric_case("ties", [[1, 1, 0], [0, 2, 2], [3, 3, 3]], [1, 2, 0]))
    return cases


def kfold_case(name, labels, n_splits):
    y = np.asarray(labels)
    classes = sorted(set(labels))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "least populated class has only N members": still split
        folds = list(StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=0).split(np.zeros(len(y)), y))
    counts = [[int((y[test] == c).sum()) for c in classes] for _, test in folds]
    return {"name": name, "labels": labels, "folds": n_splits, "classes": classes, "counts": counts}


def kfold_cases():
    rng = np.random.default_rng(5)
    cases = []
    for name, names, n, k in [
        ("imdb-like 2 classes", ["positive", "negative"], 103, 5),
        ("seed 3 classes", ["model_a", "model_b", "tie"], 250, 5),
        ("skewed 4 classes", ["a", "b", "c", "d"], 61, 3),
        ("7 folds", ["x", "y", "z"], 50, 7),
    ]:
        p = rng.dirichlet(np.ones(len(names)) * 2)
        labels = [names[i] for i in rng.choice(len(names), n, p=p)]
        cases.append(kfold_case(name, labels, k))
    # a class with fewer rows than folds (scikit-learn warns and splits)
    cases.append(kfold_case("rare class", ["common"] * 20 + ["rare"] * 2, 4))
    return cases


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    meta = {"scikit-learn": version("scikit-learn"), "numpy": version("numpy"), "scipy": version("scipy")}
    (OUT / "metrics.json").write_text(json.dumps({"versions": meta, "cases": metric_cases()}) + "\n")
    (OUT / "kfold.json").write_text(json.dumps({"versions": meta, "cases": kfold_cases()}, indent=1) + "\n")
    print(f"wrote {OUT}/metrics.json, kfold.json")


if __name__ == "__main__":
    main()
