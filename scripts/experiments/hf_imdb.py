#!/usr/bin/env python3
"""The transformers + peft side of the IMDB experiment (scripts/experiments/imdb.sh).

Same rows (the JSON Lines samples export-sample.mjs writes), same prompt (the seed's template,
the review cut at a token boundary so prompt + answer fit max_seq_len, as node-qlora's prompt
builder does), same hyperparameters; a plain torch loop over a peft LoRA model (AdamW, linear
schedule with warmup, clipping, loss per target token). Greedy generation of the new tokens in
left-padded batches. The raw outputs go to JSON Lines; scoring is done by node-qlora's own label
parser (score-outputs.mjs), so both stacks are scored by the same code.

Usage: python3 hf_imdb.py --model-dir DIR --train train.jsonl.gz --test test.jsonl.gz --out DIR
       [--epochs 1 --lr 2e-4 --batch 16 --warmup 25 --max-seq-len 512 --r 16 --alpha 32
        --targets q_proj,k_proj,v_proj --seed 3407 --eval-batch 64 --max-new-tokens 3]
Writes OUT/outputs_before.jsonl, OUT/outputs_after.jsonl, OUT/baseline.json.
"""
from __future__ import annotations

import argparse
import gzip
import json
import math
import random
import time
from pathlib import Path

import torch

DEVICE = 'cuda' if torch.cuda.is_available() else 'cpu'

TEMPLATE = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n### Instruction:\nAnalyze the given text from an "
    "online review and determine the sentiment polarity. Return a single number of either 0 and 1, with 0 being "
    "negative and 1 being the positive sentiment.\n\n### Input:\n{text}\n\n### Response:\n"
)
ANSWERS = {"positive": "1", "negative": "0"}


def read_jsonl(path: str) -> list[dict]:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


class Prompts:
    """Prompt ids with the review cut to fit, the same rule as src/data/prompt-builder.ts."""

    def __init__(self, tok, max_seq_len: int):
        self.tok, self.max = tok, max_seq_len
        self.empty = len(self.encode(""))

    def encode(self, text: str) -> list[int]:
        ids = self.tok(TEMPLATE.format(text=text), add_special_tokens=True)["input_ids"]
        if self.tok.eos_token_id is not None and ids and ids[-1] == self.tok.eos_token_id:
            ids = ids[:-1]
        return ids

    def prompt(self, text: str, reserve: int) -> list[int]:
        ids = self.encode(text)
        if len(ids) + reserve <= self.max:
            return ids
        text_ids = self.tok(text, add_special_tokens=False)["input_ids"]
        keep = min(self.max - reserve - self.empty, len(text_ids))
        while True:
            ids = self.encode(self.tok.decode(text_ids[:keep]))
            over = len(ids) + reserve - self.max
            if over <= 0 or keep == 0:
                return ids
            keep = max(0, keep - over)

    def response(self, answer: str) -> list[int]:
        return self.tok(answer, add_special_tokens=False)["input_ids"] + [self.tok.eos_token_id]


@torch.no_grad()
def generate_all(model, tok, prompts: list[list[int]], batch: int, max_new: int, eos: list[int]) -> tuple[list[str], float]:
    model.eval()
    order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
    outputs = [""] * len(prompts)
    pad = tok.pad_token_id if tok.pad_token_id is not None else eos[0]
    start = time.time()
    for s in range(0, len(order), batch):
        idx = order[s:s + batch]
        width = max(len(prompts[i]) for i in idx)
        ids = torch.full((len(idx), width), pad, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for j, i in enumerate(idx):
            ids[j, width - len(prompts[i]):] = torch.tensor(prompts[i])
            mask[j, width - len(prompts[i]):] = 1
        out = model.generate(input_ids=ids.to(DEVICE), attention_mask=mask.to(DEVICE), max_new_tokens=max_new, do_sample=False,
                             eos_token_id=eos, pad_token_id=pad)
        for j, i in enumerate(idx):
            outputs[i] = tok.decode(out[j, width:].tolist(), skip_special_tokens=True)
    if DEVICE == 'cuda':
        torch.cuda.synchronize()
    model.train()
    return outputs, time.time() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--train", required=True)
    ap.add_argument("--test", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--warmup", type=int, default=25)
    ap.add_argument("--max-seq-len", type=int, default=512)
    ap.add_argument("--r", type=int, default=16)
    ap.add_argument("--alpha", type=float, default=32)
    ap.add_argument("--targets", default="q_proj,k_proj,v_proj")
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=3407)
    ap.add_argument("--eval-batch", type=int, default=64)
    ap.add_argument("--max-new-tokens", type=int, default=3)
    args = ap.parse_args()

    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig, get_linear_schedule_with_warmup
    import transformers, peft

    torch.manual_seed(args.seed)
    random.seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tok = AutoTokenizer.from_pretrained(args.model_dir)
    model = AutoModelForCausalLM.from_pretrained(args.model_dir, dtype=torch.bfloat16).to(DEVICE)
    gen = GenerationConfig.from_pretrained(args.model_dir)
    eos = gen.eos_token_id if isinstance(gen.eos_token_id, list) else [gen.eos_token_id]
    prompts = Prompts(tok, args.max_seq_len)

    test = read_jsonl(args.test)
    test_prompts = [prompts.prompt(r["review"], args.max_new_tokens) for r in test]

    def evaluate(name: str) -> dict:
        outputs, seconds = generate_all(model, tok, test_prompts, args.eval_batch, args.max_new_tokens, eos)
        with (out / f"outputs_{name}.jsonl").open("w") as f:
            for r, o in zip(test, outputs):
                f.write(json.dumps({"id": r["id"], "label": r["sentiment"], "output": o}) + "\n")
        return {"seconds": seconds, "n": len(test)}

    before = evaluate("before")
    model = get_peft_model(model, LoraConfig(r=args.r, lora_alpha=args.alpha, lora_dropout=0.0,
                                             target_modules=args.targets.split(","), task_type="CAUSAL_LM"))
    train = read_jsonl(args.train)
    examples = []
    for r in train:
        resp = prompts.response(ANSWERS[r["sentiment"]])
        p = prompts.prompt(r["review"], len(resp))
        examples.append((p + resp, [-100] * len(p) + resp))
    steps_per_epoch = len(examples) // args.batch
    total = steps_per_epoch * args.epochs
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay, betas=(0.9, 0.999), eps=1e-8)
    sched = get_linear_schedule_with_warmup(opt, args.warmup, total)
    pad = tok.pad_token_id if tok.pad_token_id is not None else eos[0]
    if DEVICE == 'cuda':
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()
    t0 = time.time()
    tokens = 0
    losses = []
    rng = random.Random(args.seed)
    for epoch in range(args.epochs):
        order = list(range(len(examples)))
        rng.shuffle(order)
        for s in range(steps_per_epoch):
            batch = [examples[i] for i in order[s * args.batch:(s + 1) * args.batch]]
            width = max(len(ids) for ids, _ in batch)
            ids = torch.full((len(batch), width), pad, dtype=torch.long)
            labels = torch.full((len(batch), width), -100, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for j, (x, y) in enumerate(batch):
                ids[j, :len(x)] = torch.tensor(x)
                labels[j, :len(y)] = torch.tensor(y)
                mask[j, :len(x)] = 1
            tokens += int(mask.sum())
            loss = model(input_ids=ids.to(DEVICE), attention_mask=mask.to(DEVICE), labels=labels.to(DEVICE)).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            losses.append(loss.item())
    if DEVICE == 'cuda':
        torch.cuda.synchronize()
    train_seconds = time.time() - t0
    peak = torch.cuda.max_memory_allocated() / 2**30 if DEVICE == 'cuda' else None
    after = evaluate("after")
    result = {
        "stack": f"transformers {transformers.__version__} + peft {peft.__version__} (bf16 base, LoRA fp32)",
        "train_rows": len(examples), "steps": total, "train_seconds": train_seconds,
        "tokens_per_second": tokens / train_seconds, "peak_memory_gib": peak,
        "final_loss": sum(losses[-10:]) / max(1, len(losses[-10:])), "eval_before": before, "eval_after": after,
        "settings": vars(args),
    }
    (out / "baseline.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "settings"}))


if __name__ == "__main__":
    main()
