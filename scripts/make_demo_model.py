#!/usr/bin/env python3
"""Builds the bundled demo model in assets/demo/model/ from nothing.

Everything is made here, deterministically (fixed seeds, fixed thread count):
  1. a synthetic English corpus (movie reviews with clear sentiment, labelled reviews,
     ChatML-style exchanges, plain descriptive sentences), from templates and word lists;
  2. a byte-level BPE tokenizer trained on that corpus with `tokenizers`;
  3. a tiny Qwen3ForCausalLM pretrained with a plain torch loop (AdamW, causal LM loss).

The pretraining reviews use only part of the sentiment vocabulary (KNOWN). The HELD_OUT
words appear only in sentences without sentiment, so the zero-shot answer to "Is this review
positive or negative?" is right on known words and near chance on held-out ones (about 72%
overall). That gap leaves the SFT demo room to improve.

Usage: python3 scripts/make_demo_model.py [--out assets/demo/model] [--seed 1234]
Needs: torch, transformers, tokenizers, safetensors (CPU is enough; about 3-4 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "assets" / "demo" / "model"

PAD, BOS, EOT, IM_START, IM_END = "<|pad|>", "<|bos|>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"
SPECIAL_TOKENS = [PAD, BOS, EOT, IM_START, IM_END]  # ids 0..4 in this order

# ChatML, with bos first. Kept to standard Jinja (loop, if, string concat) so that
# @huggingface/jinja renders it exactly like Python's jinja2 does.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

SENTIMENT_QUESTION = "Is this review positive or negative?"


def render_chat(messages: list[dict], add_generation_prompt: bool) -> str:
    """Python twin of CHAT_TEMPLATE (checked against transformers at the end)."""
    text = BOS + "".join(f"{IM_START}{m['role']}\n{m['content']}{IM_END}\n" for m in messages)
    return text + (f"{IM_START}assistant\n" if add_generation_prompt else "")


# --------------------------------------------------------------------------- corpus

@dataclass(frozen=True)
class Lexicon:
    """Sentiment vocabulary of one register, keyed by polarity (True = positive)."""
    adjectives: dict
    nouns: dict
    clauses: dict


# Reviews in the pretraining corpus use only KNOWN. HELD_OUT words appear in pretraining
# solely in neutral sentences (both polarities alike), so the base model knows them as
# words but not their sentiment: that is the part of the task SFT has to teach.
KNOWN = Lexicon(
    adjectives={
        True: ["wonderful", "brilliant", "great", "excellent", "superb", "delightful", "charming",
               "moving", "beautiful", "fantastic", "clever", "gripping", "stunning", "warm",
               "funny", "touching", "fresh", "powerful", "lovely", "smart"],
        False: ["dull", "boring", "terrible", "awful", "weak", "flat", "clumsy", "tedious",
                "lifeless", "bland", "poor", "messy", "painful", "silly", "lazy", "forgettable",
                "confusing", "cheap", "tired", "annoying"]},
    nouns={True: ["treat", "joy", "triumph", "gem", "delight", "masterpiece", "pleasure", "winner"],
           False: ["mess", "disaster", "bore", "letdown", "failure", "chore", "waste", "disappointment"]},
    clauses={
        True: ["the plot kept me hooked", "I loved every minute of it", "I laughed out loud",
               "it was worth every penny", "I would happily watch it again",
               "the time flew by", "the whole audience clapped at the end",
               "it made my evening", "I was moved to tears", "it stayed with me for days",
               "I recommend it to everyone", "the cast had real chemistry"],
        False: ["I almost fell asleep", "I wanted my money back", "I walked out halfway",
                "the jokes never landed", "nothing made any sense", "it dragged on forever",
                "I checked my watch the whole time", "the cast looked bored",
                "I regret watching it", "it was a waste of two hours",
                "I would not recommend it to anyone", "the ending ruined everything"]},
)
HELD_OUT = Lexicon(
    adjectives={
        True: ["riveting", "sublime", "dazzling", "heartfelt", "witty", "masterful",
               "breathtaking", "inventive", "uplifting", "elegant"],
        False: ["insipid", "tiresome", "clunky", "dreary", "shallow", "muddled", "wooden",
                "sloppy", "grating", "pointless"]},
    nouns={True: ["marvel", "knockout", "classic"], False: ["slog", "flop", "dud"]},
    clauses={True: [], False: []},
)
ASPECTS = ["acting", "plot", "story", "dialogue", "music", "script", "ending", "cast",
           "direction", "soundtrack", "camera work", "pacing", "humor", "characters", "score",
           "writing", "lead actor", "lead actress", "villain", "editing"]
FILMS = ["movie", "film", "picture", "sequel", "drama", "comedy", "thriller", "western",
         "musical", "romance", "documentary", "cartoon"]

PEOPLE = ["The old man", "A young girl", "My friend", "The teacher", "A small boy", "The farmer",
          "My sister", "The doctor", "A tired driver", "The baker", "Our neighbor", "The captain"]
VERBS = ["walked to", "looked at", "painted", "cleaned", "opened", "visited", "found",
         "closed", "watched", "carried", "fixed", "left"]
THINGS = ["the red door", "the old house", "a small boat", "the garden", "the market",
          "a wooden box", "the river", "the quiet street", "the kitchen", "a blue car",
          "the library", "the big window"]
TIMES = ["in the morning", "after lunch", "in the evening", "at night", "on Sunday",
         "before dinner", "in the rain", "at dawn", "last summer", "every day"]
WEATHER = ["The sun was warm", "The sky was gray", "The wind was cold", "The rain was soft",
           "The air was fresh", "The night was quiet", "The morning was bright"]
FEELINGS = ["happy", "calm", "sleepy", "hungry", "proud", "curious", "tired", "glad"]
HELD_OUT_WORDS = sorted(w for lst in (*HELD_OUT.adjectives.values(), *HELD_OUT.nouns.values()) for w in lst)


def a_or_an(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def clause(rng: random.Random, positive: bool, lex: Lexicon) -> str:
    adjs = lex.adjectives[positive]
    adj, adj2 = rng.choice(adjs), rng.choice(adjs)
    aspect, film = rng.choice(ASPECTS), rng.choice(FILMS)
    forms = [
        lambda: f"the {aspect} was {adj}",
        lambda: f"the {aspect} was {adj} and {adj2}",
        lambda: f"the {film} was {adj}",
        lambda: f"the {aspect} felt {adj}",
        lambda: f"it is {a_or_an(adj)} {adj} {film}",
    ]
    if lex.clauses[positive]:
        forms.append(lambda: rng.choice(lex.clauses[positive]))
    return rng.choice(forms)()


def review(rng: random.Random, positive: bool, lex: Lexicon = KNOWN) -> str:
    """One short review with a clear sentiment, 1-3 clauses, words from one register."""
    adjs = lex.adjectives[positive]
    adj = rng.choice(adjs)
    adj2 = rng.choice([a for a in adjs if a != adj])
    noun = rng.choice(lex.nouns[positive])
    aspect = rng.choice(ASPECTS)
    kind = rng.random()
    if kind < 0.2:  # fragment style: "A dull, boring mess with terrible dialogue."
        text = f"{a_or_an(adj).capitalize()} {adj}, {adj2} {noun} with {rng.choice(adjs)} {aspect}."
    elif kind < 0.35:
        opener = rng.choice(["The movie was", "This film was", "The show was", "It was"])
        text = f"{opener} {adj}. {clause(rng, positive, lex).capitalize()}."
    else:
        parts = [clause(rng, positive, lex) for _ in range(rng.randint(1, 3))]
        if len(parts) == 1:
            body = parts[0]
        elif len(parts) == 2:
            body = f"{parts[0]} and {parts[1]}"
        else:
            body = f"{parts[0]}, {parts[1]} and {parts[2]}"
        text = body[0].upper() + body[1:] + "."
    if rng.random() < 0.25:
        text += " " + rng.choice([f"What {a_or_an(adj)} {adj} {noun}!", f"Overall, {a_or_an(noun)} {noun}.",
                                  f"A real {noun}."])
    return text


def plain_text(rng: random.Random) -> str:
    sents = []
    for _ in range(rng.randint(2, 4)):
        kind = rng.random()
        if kind < 0.4:
            sents.append(f"{rng.choice(PEOPLE)} {rng.choice(VERBS)} {rng.choice(THINGS)} {rng.choice(TIMES)}.")
        elif kind < 0.55:
            sents.append(f"{rng.choice(WEATHER)} and everyone felt {rng.choice(FEELINGS)}.")
        elif kind < 0.75:
            positive = rng.random() < 0.5
            adjs = KNOWN.adjectives[positive]
            sents.append(f"The movie was {rng.choice(adjs)} and the {rng.choice(ASPECTS)} was {rng.choice(adjs)}.")
        elif kind < 0.9:  # held-out words in sentiment-free contexts only
            word = rng.choice(HELD_OUT_WORDS)
            sents.append(rng.choice([f"{rng.choice(PEOPLE)} wrote the word {word} on the board.",
                                     f"{rng.choice(PEOPLE)} asked what {word} means.",
                                     f"The last word on the page was {word}."]))
        else:
            sents.append(f"{rng.choice(PEOPLE)} was {rng.choice(FEELINGS)} {rng.choice(TIMES)}.")
    return " ".join(sents)


# Chat requests other than the sentiment question: they teach the chat format and
# the meaning of "positive"/"negative" without asking the labelling question itself.
def chat_free(rng: random.Random) -> list[dict]:
    positive = rng.random() < 0.5
    word = "positive" if positive else "negative"
    kind = rng.random()
    if kind < 0.45:
        user = rng.choice([f"Write a {word} movie review.", f"Write a short {word} review.",
                           f"Give me a {word} review of a film."])
        answer = review(rng, positive)
    elif kind < 0.7:
        user = rng.choice(["Tell me about a movie you saw.", "What did you think of the film?",
                           "Describe a movie."])
        answer = review(rng, positive)
    elif kind < 0.85:
        user = rng.choice(["Tell me a short story.", "Describe your day.", "Say something."])
        answer = plain_text(rng)
    else:
        user = f"Review: {review(rng, positive)}\nDid the reviewer like the movie?"
        answer = "yes" if positive else "no"
    return [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]


def chat_sentiment(rng: random.Random, positive: bool, lex: Lexicon = KNOWN) -> tuple[list[dict], str]:
    label = "positive" if positive else "negative"
    user = f"Review: {review(rng, positive, lex)}\n{SENTIMENT_QUESTION}"
    return [{"role": "user", "content": user}, {"role": "assistant", "content": label}], label


def make_corpus(rng: random.Random, n_docs: int, sentiment_chat_share: float) -> list[str]:
    """Documents as text, special tokens included (bos randomly present, see pack())."""
    docs = []
    for _ in range(n_docs):
        r = rng.random()
        if r < sentiment_chat_share:
            messages, _ = chat_sentiment(rng, rng.random() < 0.5)
            docs.append(render_chat(messages, False))
        elif r < 0.30:
            positive = rng.random() < 0.5
            docs.append(f"{review(rng, positive)}{EOT}")
        elif r < 0.45:
            positive = rng.random() < 0.5
            docs.append(f"Review: {review(rng, positive)}\nSentiment: {'positive' if positive else 'negative'}{EOT}")
        elif r < 0.60:
            docs.append(render_chat(chat_free(rng), False))
        else:
            docs.append(f"{plain_text(rng)}{EOT}")
    return docs


# --------------------------------------------------------------------------- tokenizer

def train_tokenizer(rng: random.Random, vocab_size: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    # Train on text without special-token strings: they are added tokens, never merged.
    texts = []
    for _ in range(30000):
        positive = rng.random() < 0.5
        texts += [review(rng, positive), review(rng, positive, HELD_OUT), plain_text(rng),
                  f"Review: x\n{SENTIMENT_QUESTION}\npositive\nnegative\nSentiment: positive",
                  "system\nuser\nassistant\n"]
        texts += [m["content"] for m in chat_free(rng)]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    for i, t in enumerate(SPECIAL_TOKENS):
        assert tok.token_to_id(t) == i, t
    return tok


def write_tokenizer_files(tok, out: Path) -> None:
    tok.save(str(out / "tokenizer.json"))
    added = {str(i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                      "single_word": False, "special": True} for i, t in enumerate(SPECIAL_TOKENS)}
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": BOS,
        "eos_token": IM_END,
        "pad_token": PAD,
        "unk_token": None,
        "add_bos_token": False,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": 512,
        "padding_side": "left",
        "added_tokens_decoder": added,
        "additional_special_tokens": [EOT, IM_START],
        "chat_template": CHAT_TEMPLATE,
    }
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    special_map = {"bos_token": BOS, "eos_token": IM_END, "pad_token": PAD,
                   "additional_special_tokens": [EOT, IM_START]}
    (out / "special_tokens_map.json").write_text(json.dumps(special_map, indent=2) + "\n")


# --------------------------------------------------------------------------- model

def make_config(vocab_size: int, ids: dict):
    from transformers import Qwen3Config
    return Qwen3Config(
        vocab_size=vocab_size, hidden_size=128, intermediate_size=384, num_hidden_layers=4,
        num_attention_heads=4, num_key_value_heads=2, head_dim=32, hidden_act="silu",
        max_position_embeddings=512, rms_norm_eps=1e-6, rope_theta=10000.0,
        tie_word_embeddings=True, attention_bias=False, use_sliding_window=False,
        bos_token_id=ids[BOS], eos_token_id=ids[IM_END], pad_token_id=ids[PAD],
        initializer_range=0.02,
    )


def pack(rng: random.Random, docs_ids: list[list[int]], bos_id: int, n_seq: int, seq_len: int) -> torch.Tensor:
    """Rows of seq_len+1 tokens, each starting at a document boundary. Half the documents
    get a leading <|bos|>, so the model works whether or not a prompt starts with bos."""
    rows = torch.empty(n_seq, seq_len + 1, dtype=torch.long)
    for r in range(n_seq):
        row: list[int] = []
        i = rng.randrange(len(docs_ids))
        while len(row) < seq_len + 1:
            d = docs_ids[i % len(docs_ids)]
            if d[0] == bos_id and rng.random() < 0.5:
                d = d[1:]  # chat docs carry bos from the template; drop it half the time
            elif d[0] != bos_id and rng.random() < 0.5:
                d = [bos_id] + d
            row += d
            i += 1
        rows[r] = torch.tensor(row[: seq_len + 1])
    return rows


@torch.no_grad()
def label_accuracy_first_token(model, prompts_ids: list[list[int]], labels: list[str], label_ids: dict, pad_id: int) -> float:
    """Greedy first answer token == label token (labels are single tokens; checked)."""
    model.eval()
    correct = 0
    for s in range(0, len(prompts_ids), 100):
        batch = prompts_ids[s:s + 100]
        width = max(len(p) for p in batch)
        ids = torch.full((len(batch), width), pad_id)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for j, p in enumerate(batch):  # left padding
            ids[j, width - len(p):] = torch.tensor(p)
            mask[j, width - len(p):] = 1
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        logits = model(input_ids=ids, attention_mask=mask, position_ids=pos).logits[:, -1]
        pred = logits.argmax(-1).tolist()
        correct += sum(int(p == label_ids[l]) for p, l in zip(pred, labels[s:s + 100]))
    model.train()
    return correct / len(prompts_ids)


def sentiment_questions(rng: random.Random, n: int, held_out_share: float) -> list[tuple[str, str, str]]:
    """(prompt, label, register) with labels exactly balanced; a review uses HELD_OUT
    words with probability held_out_share, else KNOWN words."""
    out = []
    for i in range(n):
        register = "held_out" if rng.random() < held_out_share else "known"
        messages, label = chat_sentiment(rng, i % 2 == 0, HELD_OUT if register == "held_out" else KNOWN)
        out.append((render_chat(messages[:1], True), label, register))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--vocab-size", type=int, default=1024)
    ap.add_argument("--docs", type=int, default=120000)
    ap.add_argument("--sentiment-chat-share", type=float, default=0.01,
                    help="share of pretraining documents that are the chat sentiment question (KNOWN words only)")
    ap.add_argument("--eval-held-out-share", type=float, default=0.6,
                    help="share of evaluation questions whose review uses HELD_OUT words")
    ap.add_argument("--max-steps", type=int, default=600)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig, Qwen3ForCausalLM

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    rng = random.Random(args.seed)
    t0 = time.time()

    tok = train_tokenizer(random.Random(args.seed + 1), args.vocab_size)
    vocab = tok.get_vocab_size()
    ids = {t: tok.token_to_id(t) for t in SPECIAL_TOKENS}
    label_ids = {}
    for l in ("positive", "negative"):
        enc = tok.encode(f"{IM_START}assistant\n{l}{IM_END}").ids
        assert len(enc) == 5, (l, enc)  # im_start, assistant, \n, label, im_end
        label_ids[l] = enc[3]
    print(f"tokenizer: vocab {vocab}, label ids {label_ids} ({time.time() - t0:.1f}s)", flush=True)

    docs = make_corpus(rng, args.docs, args.sentiment_chat_share)
    docs_ids = [e.ids for e in tok.encode_batch(docs)]
    n_tokens = sum(len(d) for d in docs_ids)
    print(f"corpus: {len(docs)} docs, {n_tokens} tokens; e.g.\n  " +
          "\n  ".join(repr(d) for d in docs[:6]), flush=True)

    dev = {reg: sentiment_questions(random.Random(args.seed + 2), 200, share)
           for reg, share in (("known", 0.0), ("held_out", 1.0))}
    dev_ids = {reg: [e.ids for e in tok.encode_batch([q[0] for q in qs])] for reg, qs in dev.items()}

    config = make_config(vocab, ids)
    model = Qwen3ForCausalLM(config)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params} parameters", flush=True)

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95))
    warmup = 50

    def lr_at(step: int) -> float:
        if step < warmup:
            return args.lr * (step + 1) / warmup
        return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - warmup) / (args.max_steps - warmup))))

    data_rng = random.Random(args.seed + 3)
    model.train()
    t_train = time.time()
    ema, step, history = None, 0, []
    rows = pack(data_rng, docs_ids, ids[BOS], args.batch * 100, args.seq_len)
    for step in range(1, args.max_steps + 1):
        k = (step - 1) % 100
        if k == 0 and step > 1:
            rows = pack(data_rng, docs_ids, ids[BOS], args.batch * 100, args.seq_len)
        batch = rows[k * args.batch:(k + 1) * args.batch]
        for g in opt.param_groups:
            g["lr"] = lr_at(step - 1)
        logits = model(input_ids=batch[:, :-1]).logits
        # <|pad|> never appears in packed rows, so every position is a target.
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ema = loss.item() if ema is None else 0.95 * ema + 0.05 * loss.item()
        if step % args.eval_every == 0:
            accs = {reg: label_accuracy_first_token(model, dev_ids[reg], [q[1] for q in dev[reg]], label_ids, ids[PAD])
                    for reg in dev}
            history.append({"step": step, "loss": round(ema, 4), **accs})
            print(f"step {step:5d} loss {ema:.4f} lr {lr_at(step - 1):.2e} dev first-token acc: "
                  f"known {accs['known']:.3f} held-out {accs['held_out']:.3f} ({time.time() - t_train:.0f}s)", flush=True)
    train_s = time.time() - t_train
    final_loss = ema

    out: Path = args.out
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    model = model.to(torch.bfloat16)
    model.config.dtype = "bfloat16"
    model.save_pretrained(out, safe_serialization=True)
    # Also the legacy top-level key, for loaders that predate transformers-5 rope_parameters.
    cfg_path = out / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["rope_theta"] = cfg.get("rope_parameters", {}).get("rope_theta", 10000.0)
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    GenerationConfig(bos_token_id=ids[BOS], eos_token_id=[ids[IM_END], ids[EOT]], pad_token_id=ids[PAD],
                     do_sample=False, max_new_tokens=48).save_pretrained(out)
    write_tokenizer_files(tok, out)

    # ---- reload with transformers, exactly as a user would, and measure there.
    tk = AutoTokenizer.from_pretrained(out)
    lm = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    probe = [{"role": "user", "content": "hi"}]
    assert tk.apply_chat_template(probe, tokenize=False, add_generation_prompt=True) == render_chat(probe, True)
    assert tk.pad_token_id != tk.eos_token_id and tk.eos_token_id == lm.config.eos_token_id

    def generate(text: str, max_new: int = 40) -> str:
        enc = tk(text, return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            o = lm.generate(**enc, max_new_tokens=max_new, do_sample=False)
        return tk.decode(o[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)

    test = sentiment_questions(random.Random(args.seed + 99), 200, args.eval_held_out_share)
    answers = [generate(q[0], 4).strip().lower() for q in test]
    words = [a.split()[0].strip(".,!") if a else "" for a in answers]
    ok = [w == q[1] for w, q in zip(words, test)]
    acc = sum(ok) / len(ok)
    by_register = {reg: {"n": sum(q[2] == reg for q in test),
                         "acc": round(sum(o for o, q in zip(ok, test) if q[2] == reg) / max(1, sum(q[2] == reg for q in test)), 3)}
                   for reg in ("known", "held_out")}
    answer_counts = {w: words.count(w) for w in sorted(set(words))}

    samples = []
    for messages in ([{"role": "user", "content": "Review: The acting was wonderful and the plot kept me hooked.\n" + SENTIMENT_QUESTION}],
                     [{"role": "user", "content": "Review: A dull, boring mess with terrible dialogue.\n" + SENTIMENT_QUESTION}],
                     [{"role": "user", "content": "Write a positive movie review."}]):
        text = tk.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        samples.append((text, generate(text)))
    for text in ("The movie was", "The old man walked to"):
        samples.append((text, generate(text)))

    size = sum(f.stat().st_size for f in out.iterdir())
    report = {
        "parameters": n_params, "vocab_size": vocab, "folder_bytes": size,
        "files": {f.name: f.stat().st_size for f in sorted(out.iterdir())},
        "train_steps": step, "tokens_seen": step * args.batch * args.seq_len,
        "train_seconds": round(train_s, 1), "total_seconds": round(time.time() - t0, 1),
        "final_loss_ema": round(final_loss, 4), "corpus_docs": len(docs), "corpus_tokens": n_tokens,
        "dev_history": history, "zero_shot_label_accuracy_200": acc,
        "by_register": by_register, "answer_first_words": answer_counts,
        "samples": samples,
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
