"""transformers' greedy continuations on the bundled demo model (assets/demo/model), in
float32 on CPU, for the prompts the e2e tests give `sft generate`: plain prompts (tokenized
with the tokenizer's special tokens) and chat prompts (apply_chat_template with the
generation prompt). Writes test/fixtures/demo-reference.json.

usage: python3 scripts/reference/make_demo_reference.py
"""
import json
from pathlib import Path

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "assets" / "demo" / "model"
OUT = ROOT / "test" / "fixtures" / "demo-reference.json"
MAX_NEW = 24

PLAIN = ["The movie was", "The old man walked to", "I expected"]
CHAT = [
    "Review: A wonderful film with a moving story. Is this review positive or negative?",
    "Review: A dull and boring film. Is this review positive or negative?",
    "Write a positive movie review.",
]


@torch.no_grad()
def main() -> None:
    tok = AutoTokenizer.from_pretrained(MODEL)
    model = AutoModelForCausalLM.from_pretrained(MODEL, dtype=torch.float32, attn_implementation="eager").eval()
    eos = model.generation_config.eos_token_id
    cases = []
    for kind, texts in (("prompt", PLAIN), ("chat", CHAT)):
        for text in texts:
            if kind == "prompt":
                ids = tok(text)["input_ids"]
            else:
                ids = tok.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True, tokenize=True)
                ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
            x = torch.tensor([ids])
            out = model.generate(x, attention_mask=torch.ones_like(x), do_sample=False, max_new_tokens=MAX_NEW,
                                 eos_token_id=eos, pad_token_id=model.generation_config.pad_token_id)
            new = out[0, len(ids):].tolist()
            if eos is not None:
                stops = [i for i, t in enumerate(new) if t in (eos if isinstance(eos, list) else [eos])]
                new = new[: stops[0] + 1] if stops else new
            cases.append({"kind": kind, "text": text, "prompt_ids": list(ids), "max_new_tokens": MAX_NEW,
                          "new_ids": new, "new_text": tok.decode(new, skip_special_tokens=True)})
    OUT.write_text(json.dumps({"transformers_version": transformers.__version__, "torch_version": torch.__version__,
                               "eos_token_id": eos, "cases": cases}, indent=1) + "\n")
    for c in cases:
        print(c["kind"], repr(c["text"][:40]), "->", repr(c["new_text"]))


if __name__ == "__main__":
    main()
