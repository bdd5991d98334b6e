#!/usr/bin/env python3
"""Reference for src/gguf/tokenizer-from-gguf.ts: what transformers' own GGUF tokenizer conversion
(AutoTokenizer.from_pretrained(dir, gguf_file=name)) produces for the real GGUF files that
scripts/gguf/fetch-models.sh fetches, written to test/fixtures/gguf-tokenizer/<case>.json.

The fixtures hold no vocabulary: test/unit/gguf-tokenizer.test.ts reads the metadata from the same
GGUF files (src/gguf/tokenizer-metadata.ts) and skips when they are missing. They hold:
- a summary of the tokenizer metadata as gguf.GGUFReader reads it (checks our metadata reader);
- the tokenizer.json pipeline transformers builds (model options, normalizer, pre-tokenizer,
  post-processor, decoder), checksums of its vocabulary, merges and added tokens;
- token ids with and without special tokens, and decodes, for a set of texts; the chat template
  rendering and ids where the file has a template.
splits.json holds transformers' table of `tokenizer.ggml.pre` names and their split regexes.

Besides the two real files, a few *edited* cases cover the other builders transformers has
(Qwen2 and Llama 3 style byte-level BPE, Llama 2 / Phi-3 style SentencePiece with merges rebuilt
from scores, Gemma 4's tokenizer type): the real file's metadata is edited as the case's "edit"
says (the test applies the same edit, see applyEdit there), written as a metadata-only GGUF to a
temporary folder and converted by transformers like a real file.

Run from the repository root (no network; two to three minutes, mostly transformers rebuilding merges):

    python3 scripts/reference/gguf_tokenizer_reference.py            # write all the fixtures
    python3 scripts/reference/gguf_tokenizer_reference.py smollm2    # only these cases (or "splits")
    python3 scripts/reference/gguf_tokenizer_reference.py check      # used by the test, see below

`check` reads {"cases": [{"dir": ..., "texts": [...]}]} on stdin, loads each dir's tokenizer.json
and tokenizer_config.json with tokenizers, PreTrainedTokenizerFast and AutoTokenizer, and prints
the ids each gives (with and without special tokens) as JSON.
"""

import hashlib
import json
import os
import struct
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT_DIR = os.path.join(ROOT, "test", "fixtures", "gguf-tokenizer")
GGUF_DIR = os.environ.get("NQ_GGUF_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "node-qlora", "gguf")

SMOLLM2 = "smollm2-135m-instruct-q4_1.gguf"
GEMMA3 = "gemma-3-270m-q4_k_m.gguf"

# An edit is applied in this order: architecture (general.architecture and every "<old arch>." key
# renamed), truncate (tokens, scores and token_type cut to their first N), tokens / token_types
# (index -> new value), set (key -> value), remove (keys).
CASES = [
    {"name": "smollm2", "file": SMOLLM2, "edit": None},
    {"name": "gemma3", "file": GEMMA3, "edit": None},
    # Qwen2 GGUFs: byte-level BPE split by Qwen2's regex; the outer class is Qwen2Tokenizer.
    {"name": "qwen2-style", "file": SMOLLM2, "edit": {
        "architecture": "qwen2",
        "set": {"tokenizer.ggml.pre": "qwen2"},
    }},
    # Llama 3 GGUFs: Llama 3's regex, BOS added, no pad token, no <|endoftext|> in the vocabulary
    # (transformers' GPT2Tokenizer then appends one), and a user-defined token.
    {"name": "llama3-style", "file": SMOLLM2, "edit": {
        "tokens": {"0": "<|begin_of_text|>"},
        "token_types": {"3": 4},
        "set": {"tokenizer.ggml.pre": "llama-bpe", "tokenizer.ggml.add_bos_token": True,
                "tokenizer.ggml.bos_token_id": 0},
        "remove": ["tokenizer.ggml.padding_token_id", "tokenizer.chat_template"],
    }},
    # Llama 2 / Mistral GGUFs: SentencePiece BPE with Metaspace, merges rebuilt from the scores.
    # Gemma's vocabulary cut to 32000 keeps it small; the add_eos flag checks the post-processor.
    {"name": "llama2-style", "file": GEMMA3, "edit": {
        "architecture": "llama",
        "truncate": 32000,
        "set": {"tokenizer.ggml.add_space_prefix": True, "tokenizer.ggml.add_eos_token": True},
    }},
    # Phi-3 GGUFs: as Llama 2, but the prefix space comes from a normalizer.
    {"name": "phi3-style", "file": GEMMA3, "edit": {
        "architecture": "phi3",
        "truncate": 32000,
        "remove": ["tokenizer.ggml.add_bos_token"],
    }},
    # Gemma 4's tokenizer type: Gemma's pipeline, merges from the scores, never BOS.
    {"name": "gemma4-tokenizer", "file": GEMMA3, "edit": {
        "truncate": 32000,
        "set": {"tokenizer.ggml.model": "gemma4"},
    }},
]

IMDB_REVIEW = (
    "I rented I AM CURIOUS-YELLOW from my video store because of all the controversy that surrounded it "
    "when it was first released in 1967.<br /><br />The plot is centered around a young Swedish drama "
    "student named Lena who wants to learn everything she can about life. 7/10 -- worth a look!"
)

TEXTS = [
    "Hello world",
    "The quick brown fox jumps over the lazy dog.",
    " leading space",
    "trailing space ",
    "   leading and trailing spaces   ",
    "multiple   spaces  between    words",
    " ",
    "line one\nline two\n\nline four\r\nwindows",
    "tabs\tand\t\ttabs\n\tindented",
    "digits 1234567890, 3.14159, -42 and the year 1999",
    "punctuation!? (a), [b]; {c}: \"quoted\" 'single' -- dash... don't I'm we'll",
    "Crème brûlée, naïve café, Ångström, Straße, e\u0301",
    "我喜欢这部电影。日本語のテキスト、한국어",
    "Emoji: 👍🏽 🎬🍿 ❤️ 👨‍👩‍👧 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "<|im_start|>user\nhi<|im_end|>\n<|endoftext|>",
    "<bos><start_of_turn>user\nhi<end_of_turn>\n<eos><pad>",
    "<s>[INST] hi [/INST]</s> <|begin_of_text|><repo_name>",
    IMDB_REVIEW,
    "",
]

SYSTEM = "You are a sentiment classifier. Answer with one word: positive or negative."
CONVERSATIONS = [
    ("system_user", [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": "Review: " + IMDB_REVIEW + "\nSentiment:"},
    ]),
    ("user_only", [{"role": "user", "content": "  What is 2+2? Answer with a number.  "}]),
    ("multi_turn", [
        {"role": "user", "content": "Review: Loved every minute of it.\nSentiment:"},
        {"role": "assistant", "content": "positive"},
        {"role": "user", "content": "Review: Dull, predictable. Critique : très émouvant 🎬\nSentiment:"},
    ]),
]

# Keys the metadata summary records (besides general.architecture and <arch>.context_length).
SUMMARY_PREFIXES = ("tokenizer.",)


def sha256_strings(values):
    # Length-prefixed UTF-8, so that tokens holding separators cannot make two lists hash alike.
    h = hashlib.sha256()
    for v in values:
        b = v.encode("utf-8")
        h.update(f"{len(b)}:".encode("ascii"))
        h.update(b)
    return h.hexdigest()


def sha256_numbers(values, fmt):
    return hashlib.sha256(b"".join(struct.pack("<" + fmt, v) for v in values)).hexdigest()


# ---------------------------------------------------------------- metadata: read, edit, write


def read_fields(path):
    """{key: (value, value type, array element type or None)} for every metadata key."""
    from gguf import GGUFReader

    reader = GGUFReader(path)
    out = {}
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):  # the reader's own header pseudo-fields
            continue
        types = field.types
        out[key] = (field.contents(), types[0], types[1] if len(types) > 1 else None)
    return out


def apply_edit(fields, edit):
    from gguf import GGUFValueType

    if not edit:
        return fields
    fields = dict(fields)
    if "architecture" in edit:
        old = fields["general.architecture"][0]
        new = edit["architecture"]
        fields = {(new + k[len(old):] if k.startswith(old + ".") else k): v for k, v in fields.items()}
        fields["general.architecture"] = (new, GGUFValueType.STRING, None)
    if "truncate" in edit:
        n = edit["truncate"]
        for key in ("tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type"):
            if key in fields:
                value, t, st = fields[key]
                fields[key] = (value[:n], t, st)
    for key, changes in (("tokenizer.ggml.tokens", edit.get("tokens")), ("tokenizer.ggml.token_type",
                                                                        edit.get("token_types"))):
        if changes:
            value, t, st = fields[key]
            value = list(value)
            for index, new in changes.items():
                value[int(index)] = new
            fields[key] = (value, t, st)
    for key, value in edit.get("set", {}).items():
        if key in fields:
            fields[key] = (value, fields[key][1], fields[key][2])
        elif isinstance(value, bool):
            fields[key] = (value, GGUFValueType.BOOL, None)
        elif isinstance(value, int):
            fields[key] = (value, GGUFValueType.UINT32, None)
        else:
            fields[key] = (value, GGUFValueType.STRING, None)
    for key in edit.get("remove", []):
        fields.pop(key, None)
    return fields


def write_metadata_only(path, fields):
    from gguf import GGUFWriter

    writer = GGUFWriter(path, fields["general.architecture"][0])
    for key, (value, t, st) in fields.items():
        if key == "general.architecture":  # GGUFWriter writes it from its arch argument
            continue
        writer.add_key_value(key, value, t, sub_type=st)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def metadata_summary(fields):
    """Scalars as they are; arrays as length, a few values and a checksum of all of them."""
    from gguf import GGUFValueType

    arch = fields["general.architecture"][0]
    out = {}
    for key, (value, t, st) in sorted(fields.items()):
        if not (key.startswith(SUMMARY_PREFIXES) or key in ("general.architecture", f"{arch}.context_length")):
            continue
        if t != GGUFValueType.ARRAY:
            out[key] = value
            continue
        entry = {"length": len(value), "head": value[:5], "tail": value[-5:]}
        if st == GGUFValueType.STRING:
            entry["sha256"] = sha256_strings(value)
        elif st in (GGUFValueType.FLOAT32, GGUFValueType.FLOAT64):
            entry["sha256_f32"] = sha256_numbers(value, "f")
        else:
            entry["sha256_i64"] = sha256_numbers(value, "q")
        out[key] = entry
    return out


# ---------------------------------------------------------------- the reference


def pipeline_of(tok):
    """tokenizer.json as transformers built it, vocabulary and merges replaced by checksums."""
    j = json.loads(tok.backend_tokenizer.to_str())
    model = dict(j["model"])
    vocab = model.pop("vocab")
    merges = model.pop("merges", None)
    by_id = sorted(vocab.items(), key=lambda kv: kv[1])
    # The special flag as the tokenizer behaves, not as it serializes: a token added special first
    # (LlamaTokenizer's "<s>") then again as a plain user-defined token is written special=false
    # but stays in the library's set of special tokens, so decode(skip_special_tokens=True) drops it.
    backend = tok.backend_tokenizer
    added = [dict(t, special=t["special"] or (backend.decode([t["id"]], skip_special_tokens=True) == ""
                                               and backend.decode([t["id"]], skip_special_tokens=False) != ""))
             for t in j["added_tokens"]]
    return {
        "model": model,
        "normalizer": j["normalizer"],
        "pre_tokenizer": j["pre_tokenizer"],
        "post_processor": j["post_processor"],
        "decoder": j["decoder"],
        "vocab": {
            "size": len(vocab),
            "sha256": sha256_strings([f"{i}\t{t}" for t, i in by_id]),
            "head": by_id[:5],
        },
        "merges": None if merges is None else {
            "count": len(merges),
            "sha256": sha256_strings([f"{a} {b}" for a, b in merges]),
            "head": merges[:20],
            "tail": merges[-5:],
        },
        "added_tokens": {
            "count": len(added),
            "sha256": sha256_strings([f"{t['id']}\t{t['content']}\t{int(t['special'])}" for t in added]),
            "non_special": [[t["id"], t["content"]] for t in added if not t["special"]][:40],
            "head": [[t["id"], t["content"], t["special"]] for t in added[:10]],
        },
    }


def make_case(case, versions):
    from transformers import AutoTokenizer

    source = os.path.join(GGUF_DIR, case["file"])
    if not os.path.isfile(source):
        sys.exit(f"{source} not found: run bash scripts/gguf/fetch-models.sh first")
    fields = read_fields(source)
    summary = metadata_summary(fields) if case["edit"] is None else None

    with tempfile.TemporaryDirectory() as tmp:
        if case["edit"] is None:
            folder, name = GGUF_DIR, case["file"]
        else:
            folder, name = tmp, "edited.gguf"
            write_metadata_only(os.path.join(tmp, name), apply_edit(fields, case["edit"]))
        tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)

    texts = []
    for text in TEXTS:
        ids = tok.encode(text, add_special_tokens=True)
        texts.append({
            "text": text,
            "ids": ids,
            "ids_no_special": tok.encode(text, add_special_tokens=False),
            "decoded": tok.decode(ids, skip_special_tokens=False),
            "decoded_skip_special": tok.decode(ids, skip_special_tokens=True),
        })

    chats = []
    if tok.chat_template:
        for chat_name, messages in CONVERSATIONS:
            for add_generation_prompt in (False, True):
                chats.append({
                    "name": chat_name,
                    "messages": messages,
                    "add_generation_prompt": add_generation_prompt,
                    "text": tok.apply_chat_template(messages, tokenize=False,
                                                    add_generation_prompt=add_generation_prompt),
                    "ids": list(tok.apply_chat_template(messages, tokenize=True, return_dict=False,
                                                        add_generation_prompt=add_generation_prompt)),
                })

    special = {}
    for name in ("bos_token", "eos_token", "unk_token", "pad_token", "mask_token"):
        value = getattr(tok, name, None)
        special[name] = None if value is None else str(value)
        special[name + "_id"] = None if value is None else tok.convert_tokens_to_ids(str(value))

    return {
        "case": case["name"],
        "file": case["file"],
        "edit": case["edit"],
        "versions": versions,
        "metadata_summary": summary,
        "tokenizer_class": type(tok).__name__,
        "vocab_size_with_added": len(tok),
        "special_tokens": special,
        "add_bos_token": bool(tok.add_bos_token),
        "add_eos_token": bool(tok.add_eos_token),
        "chat_template": tok.chat_template,
        "pipeline": pipeline_of(tok),
        "texts": texts,
        "chats": chats,
    }


def write_fixtures():
    import gguf
    import tokenizers
    import transformers

    versions = {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
                "gguf": getattr(gguf, "__version__", None) or _dist_version("gguf")}
    os.makedirs(OUT_DIR, exist_ok=True)
    only = set(sys.argv[1:])
    if not only or "splits" in only:
        # transformers' table of `tokenizer.ggml.pre` names -> split regex, to check ours entry by entry.
        from transformers.integrations.gguf.gguf_tokenizer_mapping import GGUF_PRE_TOKENIZER_SPLITS

        path = os.path.join(OUT_DIR, "splits.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"versions": versions, "splits": GGUF_PRE_TOKENIZER_SPLITS}, f, ensure_ascii=False, indent=1)
            f.write("\n")
        print(f"wrote {os.path.relpath(path, ROOT)} ({len(GGUF_PRE_TOKENIZER_SPLITS)} names)")
    for case in CASES:
        if only and case["name"] not in only:
            continue
        fixture = make_case(case, versions)
        path = os.path.join(OUT_DIR, case["name"] + ".json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(fixture, f, ensure_ascii=False, indent=1)
            f.write("\n")
        print(f"wrote {os.path.relpath(path, ROOT)} ({fixture['tokenizer_class']}, {fixture['vocab_size_with_added']} ids)")


def _dist_version(name):
    from importlib.metadata import version

    return version(name)


# ---------------------------------------------------------------- check (called by the test)


def check():
    """Ids for our generated files as the Python stack loads them: the raw tokenizers library,
    PreTrainedTokenizerFast(tokenizer_file=...) and AutoTokenizer.from_pretrained(dir)."""
    import tokenizers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    request = json.load(sys.stdin)
    results = []
    for case in request["cases"]:
        folder, texts = case["dir"], case["texts"]
        raw = tokenizers.Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
        fast = PreTrainedTokenizerFast(tokenizer_file=os.path.join(folder, "tokenizer.json"))
        auto = AutoTokenizer.from_pretrained(folder)
        results.append({
            "dir": folder,
            "auto_class": type(auto).__name__,
            "auto_special_tokens": {n: getattr(auto, n) for n in ("bos_token", "eos_token", "unk_token", "pad_token")},
            "tokenizers": [[e.ids for e in raw.encode_batch(texts, add_special_tokens=s)] for s in (True, False)],
            "fast": [[fast.encode(t, add_special_tokens=s) for t in texts] for s in (True, False)],
            "auto": [[auto.encode(t, add_special_tokens=s) for t in texts] for s in (True, False)],
        })
    json.dump({"results": results}, sys.stdout)


if __name__ == "__main__":
    if sys.argv[1:2] == ["check"]:
        check()
    else:
        write_fixtures()
