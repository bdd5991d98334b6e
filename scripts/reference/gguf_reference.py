"""Writes test/fixtures/gguf/<model>-reference.json: what transformers makes of a real GGUF file.

For each model file (from scripts/gguf/fetch-models.sh, in $NQ_GGUF_DIR or
~/.cache/node-qlora/gguf), transformers loads it the documented way,
AutoModelForCausalLM.from_pretrained(dir, gguf_file=name, dtype=float32) and
AutoTokenizer.from_pretrained(dir, gguf_file=name) (dequantized by gguf-py, names, Q/K
permutation and Gemma norms undone by transformers), and we record:
  - token ids of a set of texts (ASCII, unicode, whitespace, special tokens, a chat-rendered
    prompt where the file has a template);
  - fp32 logits of two prompts: the first 128 vocabulary entries and the top 32 (ids and values)
    at the first and last positions, with sums over the whole vocabulary and the logit scale;
  - where the file has a chat template: greedy generation (8 new tokens) for the user turn
    "Hello" (what `sft generate --chat Hello` runs);
  - per HF tensor: shape, float64 sum, sum of squares and position-weighted sum
    (x[i] * (i mod 7919) / 7919), and 19 values at fixed positions.
test/native/gguf-import.test.ts imports the same files with our code and compares.

Run from the repository root:  python3 scripts/reference/gguf_reference.py [smollm2|gemma3 ...]
"""
import json
import os
import sys
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

GGUF_DIR = Path(os.environ.get("NQ_GGUF_DIR", Path.home() / ".cache" / "node-qlora" / "gguf"))
OUT = Path("test/fixtures/gguf")

MODELS = {
    "smollm2": "smollm2-135m-instruct-q4_1.gguf",
    "gemma3": "gemma-3-270m-q4_k_m.gguf",
}

PROMPTS = ["The capital of France is", "def fibonacci(n):\n    "]
VOCAB_HEAD = 128
TOP_K = 32


def texts_for(tok) -> list[str]:
    texts = [
        "Hello, world!",
        "The quick brown fox jumps over the lazy dog.",
        "  leading and trailing spaces  ",
        "multiple\nlines\n\n\ttabs and    runs   of spaces",
        "unicode: héllo wörld — 你好，世界 🙂 naïve café",
        "numbers 1234567890 3.14159, code: def f(x): return x**2 # done",
        "",
    ]
    specials = [t for t in (tok.bos_token, tok.eos_token) if t]
    if specials:
        texts.append(f"{specials[-1]}special{specials[0]} tokens inside text")
    if tok.chat_template:
        texts.append(tok.apply_chat_template([{"role": "user", "content": "What is 2+2?"}], tokenize=False, add_generation_prompt=True))
    return texts


def logits_record(model, ids: list[int]) -> dict:
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].double()
    positions = [0, len(ids) - 1]
    out = {"ids": ids, "scale": float(logits.abs().max()), "positions": []}
    for p in positions:
        row = logits[p]
        top = torch.topk(row, TOP_K)
        out["positions"].append(
            {
                "position": p,
                "head": row[:VOCAB_HEAD].tolist(),
                "top_ids": top.indices.tolist(),
                "top_values": top.values.tolist(),
                "sum": float(row.sum()),
                "sum_sq": float((row * row).sum()),
            }
        )
    return out


WEIGHT_PERIOD = 7919


def tensor_record(t: torch.Tensor) -> dict:
    x = t.detach().double().reshape(-1)
    n = x.numel()
    picks = sorted({0, 1, n - 1, *(n * k // 17 for k in range(1, 17))})
    # Position-weighted sum: a row permutation (the Q/K fix) keeps sum and sum_sq but not this.
    w = (torch.arange(n, dtype=torch.float64) % WEIGHT_PERIOD) / WEIGHT_PERIOD
    return {
        "shape": list(t.shape),
        "sum": float(x.sum()),
        "sum_sq": float((x * x).sum()),
        "weighted_sum": float((x * w).sum()),
        "picks": [[i, float(x[i])] for i in picks],
    }


def greedy_chat(model, tok) -> dict | None:
    if not tok.chat_template:
        return None
    messages = [{"role": "user", "content": "Hello"}]
    ids = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"]
    with torch.no_grad():
        out = model.generate(torch.tensor([ids]), max_new_tokens=8, do_sample=False)
    new_ids = out[0][len(ids):].tolist()
    return {"messages": messages, "prompt_ids": ids, "new_ids": new_ids, "text": tok.decode(new_ids, skip_special_tokens=True)}


def reference(key: str) -> None:
    name = MODELS[key]
    if not (GGUF_DIR / name).exists():
        sys.exit(f"{GGUF_DIR / name} is missing: run bash scripts/gguf/fetch-models.sh")
    tok = AutoTokenizer.from_pretrained(str(GGUF_DIR), gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(str(GGUF_DIR), gguf_file=name, dtype=torch.float32)
    model.eval()
    texts = texts_for(tok)
    record = {
        "file": name,
        "generator": "transformers from_pretrained(gguf_file=...), fp32, cpu",
        "transformers": __import__("transformers").__version__,
        "tokens": [{"text": t, "ids": tok(t)["input_ids"]} for t in texts],
        "logits": [logits_record(model, tok(p)["input_ids"]) for p in PROMPTS],
        "tensors": {n: tensor_record(p) for n, p in model.state_dict().items()},
        "greedy_chat": greedy_chat(model, tok),
        "tied": bool(model.config.tie_word_embeddings),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{key}-reference.json").write_text(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"wrote {OUT / f'{key}-reference.json'}")


if __name__ == "__main__":
    torch.manual_seed(0)
    for k in sys.argv[1:] or list(MODELS):
        reference(k)
