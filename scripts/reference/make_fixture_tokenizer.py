#!/usr/bin/env python3
"""A tiny real tokenizer for the e2e tests' fixture models (vocab 320, like the models in
test/fixtures/models): byte-level BPE trained on the demo data, ChatML special tokens and a
ChatML chat template, written as tokenizer.json + tokenizer_config.json into
test/fixtures/tokenizers/tiny-chatml/. The e2e tests put it next to a fixture checkpoint to
get a model folder that `sft train` / `sft eval` accept.

Usage: python3 scripts/reference/make_fixture_tokenizer.py
"""
import csv
import json
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test" / "fixtures" / "tokenizers" / "tiny-chatml"
SPECIAL = ["<|pad|>", "<|bos|>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]
TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def main() -> None:
    with (ROOT / "assets" / "demo" / "data" / "train.csv").open(encoding="utf-8") as f:
        texts = [row["review"] for row in csv.DictReader(f)]
    texts += ["Is this review positive or negative?", "positive negative 0 1", "user assistant"] * 50
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    assert tok.get_vocab_size() <= 320, tok.get_vocab_size()
    OUT.mkdir(parents=True, exist_ok=True)
    tok.save(str(OUT / "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": "<|bos|>", "eos_token": "<|im_end|>", "pad_token": "<|pad|>", "unk_token": None,
        "add_bos_token": False, "add_eos_token": False, "clean_up_tokenization_spaces": False,
        "model_max_length": 64,
        "added_tokens_decoder": {str(i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                                          "single_word": False, "special": True} for i, t in enumerate(SPECIAL)},
        "chat_template": TEMPLATE,
    }
    (OUT / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    print(f"wrote {OUT} (vocab {tok.get_vocab_size()})")


if __name__ == "__main__":
    main()
