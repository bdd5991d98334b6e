#!/usr/bin/env python3
"""The seed's Gemma-2 9B classifier with transformers + peft + bitsandbytes (issue 15 point 5): the
Python side of scripts/bench/classify-step.mjs, on the same checkpoint, protocol
(classify-protocol.json) and token ids (the same LCG).

AutoModelForSequenceClassification (Gemma2ForSequenceClassification) loaded 4-bit (NF4, double
quant, bf16 compute), prepare_model_for_kbit_training, peft LoraConfig(task_type SEQ_CLS, q/k/v,
layers_to_transform = freeze..L-1; the score head in modules_to_save), micro-batches of batch x
seq with gradAccum per optimizer step (loss / gradAccum), clipping at 1, AdamW (torch, fp32
state, as ours; --optim adamw8bit for bitsandbytes' 8-bit AdamW, the seed's). Rows: gradient
checkpointing on and off. Timed: CUDA-synchronized wall time of `steps` optimizer steps after
`warmup`; tokens/s counts every token; peak = torch.cuda.max_memory_allocated over them.

usage: python3 scripts/bench/classify_anchor.py --model DIR [--out FILE.json] [--gc on,off]
         [--optim adamw|adamw8bit] [--attn eager|sdpa] [--device cpu --seq 16 --freeze 1 --steps 2]
"""
import argparse
import datetime
import gc
import importlib.metadata as metadata
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

PROTOCOL = Path(__file__).resolve().parent / "classify-protocol.json"


def lcg(seed: int):
    """classify-step.mjs's generator: s = s * 1664525 + 1013904223 (mod 2^32), returns s / 2^32."""
    state = seed & 0xFFFFFFFF

    def next_value() -> float:
        nonlocal state
        state = (state * 1664525 + 1013904223) & 0xFFFFFFFF
        return state / 2**32

    return next_value


def micro_batches(p: dict, vocab: int, device: str) -> list:
    nxt = lcg(p["seed"])
    out = []
    for _ in range(p["gradAccum"]):
        ids = [[10 + int(nxt() * (vocab - 10)) for _ in range(p["seq"])] for _ in range(p["batch"])]
        labels = [int(nxt() * p["numLabels"]) for _ in range(p["batch"])]
        out.append((torch.tensor(ids, device=device), torch.tensor(labels, device=device)))
    return out


def load(a, p: dict, grad_ckpt: bool):
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForSequenceClassification, BitsAndBytesConfig

    cuda = a.device == "cuda"
    dtype = torch.bfloat16 if cuda else torch.float32
    kwargs = dict(num_labels=p["numLabels"], dtype=dtype, attn_implementation=a.attn)
    if cuda:
        kwargs["quantization_config"] = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                                                           bnb_4bit_use_double_quant=True, bnb_4bit_compute_dtype=dtype)
        kwargs["device_map"] = {"": 0}
    model = AutoModelForSequenceClassification.from_pretrained(a.model, **kwargs)
    if cuda:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=grad_ckpt)
    elif grad_ckpt:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    layers = model.config.num_hidden_layers
    config = LoraConfig(task_type="SEQ_CLS", r=p["loraR"], lora_alpha=p["loraAlpha"], lora_dropout=p["loraDropout"],
                        target_modules=p["targets"], layers_to_transform=list(range(p["freeze"], layers)),
                        modules_to_save=["score"])
    return get_peft_model(model, config)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--out")
    ap.add_argument("--gc", default="on,off")
    ap.add_argument("--optim", choices=("adamw", "adamw8bit"), default="adamw")
    ap.add_argument("--attn", default="eager", help="transformers recommends eager for Gemma 2 (soft-capping)")
    ap.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    for key in ("seq", "freeze", "steps"):
        ap.add_argument(f"--{key}", type=int)
    a = ap.parse_args()
    p = json.loads(PROTOCOL.read_text())
    for key in ("seq", "freeze", "steps"):
        if getattr(a, key) is not None:
            p[key] = getattr(a, key)
    cuda = a.device == "cuda"
    vocab = json.loads((Path(a.model) / "config.json").read_text())["vocab_size"]
    batches = micro_batches(p, vocab, "cuda" if cuda else "cpu")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    rows = []
    for setting in a.gc.split(","):
        grad_ckpt = setting == "on"
        model = opt = None
        try:
            t0 = time.perf_counter()
            model = load(a, p, grad_ckpt)
            load_seconds = time.perf_counter() - t0
            model.train()
            params = [q for q in model.parameters() if q.requires_grad]
            if a.optim == "adamw8bit":
                import bitsandbytes as bnb
                opt = bnb.optim.AdamW8bit(params, lr=p["lr"], weight_decay=0.01)
            else:
                opt = torch.optim.AdamW(params, lr=p["lr"], weight_decay=0.01)
            losses = []

            def step() -> None:
                total = 0.0
                for ids, labels in batches:
                    loss = model(input_ids=ids, labels=labels).loss / len(batches)
                    loss.backward()
                    total += loss.detach()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
                opt.zero_grad(set_to_none=True)
                losses.append(total)

            for _ in range(p["warmup"]):
                step()
            sync()
            if cuda:
                torch.cuda.reset_peak_memory_stats()
            t0 = time.perf_counter()
            for _ in range(p["steps"]):
                step()
            sync()
            seconds = time.perf_counter() - t0
            tokens = p["steps"] * p["gradAccum"] * p["batch"] * p["seq"]
            row = {"gradientCheckpointing": grad_ckpt, "tokensPerSecond": tokens / seconds, "secondsPerStep": seconds / p["steps"],
                   "losses": [float(x) for x in losses[p["warmup"]:]], "trainable": sum(q.numel() for q in params),
                   "loadSeconds": load_seconds}
            if cuda:
                row["peakGiB"] = torch.cuda.max_memory_allocated() / 2**30
        except torch.OutOfMemoryError as err:
            row = {"gradientCheckpointing": grad_ckpt, "error": f"OutOfMemoryError: {str(err).splitlines()[0]}"}
        rows.append(row)
        print(json.dumps(row))
        del model, opt
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()
    versions = {}
    for pkg in ("torch", "transformers", "peft", "bitsandbytes", "accelerate"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    result = {"stack": "transformers+peft+bitsandbytes", "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
              "device": a.device, "model": a.model, "optim": a.optim, "attn": a.attn, "protocol": p, "versions": versions,
              "rows": rows}
    if cuda:
        result["gpu"] = torch.cuda.get_device_name(0)
    if a.out:
        Path(a.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
