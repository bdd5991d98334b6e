#!/usr/bin/env python3
"""Text-metric fixtures for src/eval/text-metrics (issue 16 point 3), computed by the real packages:

- test/fixtures/text-metrics/bleu.json    sacrebleu 2.6 `corpus_bleu` (13a tokenizer, exp smoothing, its defaults)
  on corpora with one, several and a varying number of references per hypothesis.
- test/fixtures/text-metrics/rouge.json   rouge-score 0.1.2 `RougeScorer(['rouge1', 'rouge2', 'rougeL', 'rougeLsum'])`
  (its default tokenizer; Lsum splits on newlines), F-measures per example, with and without its Porter
  stemmer; several references per prediction go through `score_multi`.
- test/fixtures/text-metrics/porter.json  nltk's PorterStemmer (the one rouge-score uses, NLTK_EXTENSIONS mode)
  on every word of this repository's docs and a set of words built to reach each rule of the algorithm.

The cases cover punctuation, Unicode (accents, CJK, emoji, Python-only whitespace such as U+001C and U+0085),
empty hypotheses and references, repeated n-grams, newlines and HTML entities (13a), and a seeded random corpus.

usage: .venv-ref/bin/python scripts/reference/make_text_metric_fixtures.py
"""
import json
import random
import re
from importlib.metadata import version
from pathlib import Path

import sacrebleu
from nltk.stem import porter
from rouge_score import rouge_scorer

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test" / "fixtures" / "text-metrics"
ROUGE_TYPES = ["rouge1", "rouge2", "rougeL", "rougeLsum"]

VOCABULARY = (
    "the a cat dog sat on mat runs running ran quickly model models training trained tokens token "
    "generation generates response responses instruction instructions write answer answers question "
    "is are was were be been of in to and or not , . ! ? ; : - ( ) \" ' 42 3.14 1,000 e-mail"
).split()


def random_corpus(rng, rows, refs_per_row):
    """Sentences drawn from VOCABULARY; each reference shares some words with its hypothesis."""
    hyps, refs = [], []
    for _ in range(rows):
        hyp = [rng.choice(VOCABULARY) for _ in range(rng.randint(0, 18))]
        hyps.append(" ".join(hyp))
        row = []
        for _ in range(refs_per_row):
            ref = [w if rng.random() < 0.6 else rng.choice(VOCABULARY) for w in hyp]
            ref += [rng.choice(VOCABULARY) for _ in range(rng.randint(0, 6))]
            if rng.random() < 0.3:
                rng.shuffle(ref)
            row.append(" ".join(ref))
        refs.append(row)
    return hyps, refs


# Pieces of text where the tokenizers' rules meet: symbols, entities, hyphenation, Python-only
# whitespace, non-ASCII letters that lowercase to ASCII (U+0130, U+212A), words the stemmer changes.
PIECES = list("abcdeABCDE  ...,,--'\"!?()&;:$%0123456789\n\t") + [
    "é", "東", "🙂", "\u00a0", "\u3000", "\x1c", "\x85", "&amp;", "&quot;", "<skipped>", "-\n", "\u0130", "\u212a",
    "running", "happiness", "the", "a", "cat", " x ",
]


def random_text(rng, longest):
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, longest)))


def bleu_cases():
    rng = random.Random(3407)
    cases = [
        ("one reference each", ["The cat sat on the mat.", "It is raining today."],
         [["The cat sat on the mat."], ["It was raining yesterday."]]),
        ("three references each", ["the cat is on the mat", "there is a dog in the garden now"],
         [["the cat sat on the mat", "a cat is on the mat", "there is a cat on the mat"],
          ["a dog is in the garden", "there is a dog in the garden", "the garden has a dog"]]),
        ("a varying number of references", ["hello there world", "general kenobi", "you are a bold one"],
         [["hello world"], ["general kenobi", "hello there general"], ["you are bold", "a bold one", "you are a bold one indeed"]]),
        ("punctuation and numbers", [
            "Hello, world! It's 3.14 -- e-mail: a@b.com (yes)... 1,000.5 items; 10-20 pages? {ok} [no] <tag> ~tilde^ `tick` $5 & 100% #1 *star* +plus= _under_ |pipe| \\back/slash",
            "Dr. Smith's co-worker paid $1,234.56 on 2024-01-02, i.e. yesterday.",
         ], [[
            "Hello world! It is 3.14 - e-mail : a@b.com ( yes ) ... 1,000.5 items ; 10 - 20 pages ? {ok} [no] <tag> ~tilde^ `tick` $5 & 100% #1",
         ], ["Dr. Smith's coworker paid $1,234.56 on 2024-01-02, i.e., yesterday."]]),
        ("unicode", [
            "Café naïve — “quotes” 東京は晴れ 🙂 Straße\u00a0nbsp\u3000ideographic\u2009thin",
            "Ω≈ç√ ∫˜µ≤ ½ cup\u001cfile-sep\u0085next-line\u200bzero-width end.",
         ], [[
            "Café naïve “quotes” 東京は晴れ 🙂 Strasse nbsp ideographic thin",
         ], ["Ω≈ç√ ∫˜µ≤ ½ cup file-sep next-line zero-width end."]]),
        ("empty hypotheses and references", ["", "a non-empty hypothesis here", "", "short"],
         [["an empty hypothesis gets nothing"], [""], [""], ["short", ""]]),
        ("every hypothesis empty", ["", ""], [["some words"], ["more words here"]]),
        ("repeated n-grams", ["the the the the the the the", "a b a b a b a b", "of the of the of the"],
         [["the cat is on the mat"], ["a b c a b c"], ["of the people, by the people, for the people"]]),
        ("no match at all", ["alpha beta gamma"], [["delta epsilon zeta"]]),
        ("matches only up to bigrams", ["one two three four five", "six seven"], [["one two x four y"], ["six seven"]]),
        ("newlines, hyphenation and entities", [
            "A line that is hyphen-\nated and\nwraps &amp; has &quot;entities&quot; &lt;b&gt; <skipped> here",
            "trailing spaces and a tokenized period .   \t",
         ], [["A line that is hyphenated and wraps & has \"entities\" <b> here"], ["trailing spaces and a tokenized period."]]),
        ("hypothesis longer than every reference", ["this hypothesis is much longer than any of its references are"],
         [["this hypothesis is short", "hypothesis is longer"]]),
        ("closest reference length ties pick the shorter", ["one two three four"],
         [["one two three", "one two three four five"]]),
    ]
    hyps, refs = random_corpus(rng, 60, 2)
    cases.append(("seeded random corpus, two references", hyps, refs))
    hyps, refs = random_corpus(rng, 40, 1)
    cases.append(("seeded random corpus, one reference", hyps, refs))
    hyps = [random_text(rng, 40) for _ in range(30)]
    cases.append(("seeded random strings of symbols, entities and Unicode", hyps, [[random_text(rng, 40) for _ in range(2)] for _ in hyps]))
    out = []
    for name, hyps, refs in cases:
        width = max(len(r) for r in refs)
        # sacrebleu takes reference *streams* (stream k holds reference k of every hypothesis) and
        # skips None, which is how a row with fewer references is given.
        streams = [[r[k] if k < len(r) else None for r in refs] for k in range(width)]
        score = sacrebleu.corpus_bleu(hyps, streams)
        out.append({
            "name": name, "hypotheses": hyps, "references": refs,
            "expected": {
                "score": score.score, "counts": list(score.counts), "totals": list(score.totals),
                "precisions": list(score.precisions), "bp": score.bp,
                "sysLen": score.sys_len, "refLen": score.ref_len,
            },
        })
    return out


def rouge_cases():
    rng = random.Random(16)
    words = "the cat sat on mat a dog ran in park quickly slowly running runs jumped jumps happy happiness".split()

    def sentence(n):
        return " ".join(rng.choice(words) for _ in range(n))

    pairs = [
        ("The quick brown fox jumps over the lazy dog", "The quick brown dog jumps on the log."),
        ("identical text", "identical text"),
        ("Hello, world! It's 3.14... e-mail: a@b.com", "hello world it s 3 14 e mail a b com"),
        ("Café naïve 東京 🙂 Straße résumé", "caf na ve stra e r sum"),
        ("\u212a-elvin and \u0130stanbul", "kelvin and istanbul"),
        ("", "a reference with words"),
        ("a prediction with words", ""),
        ("", ""),
        ("!!! ... ???", "only punctuation !!!"),
        ("the the the the the", "the cat the dog"),
        ("a b a b a b", "a b c a b c a b"),
        ("First sentence here.\nSecond sentence follows.\n\nThird after a blank line.",
         "First sentence.\nThe second sentence follows here.\nThird line after the blank."),
        ("one line only with many words in it", "one line\nonly with\nmany words in it"),
        ("windows\r\nline endings\r\nhere", "windows line\r\nendings here"),
        ("running runs ran runner", "run running ran runners"),
        ("happiness happily generalization generalize", "happy happier generalizations generalized"),
        ("caresses ponies ties flies dying lying skies", "caress pony tie fly die lie sky"),
        ("agreed plastered motoring conflated troubled sized hopping falling", "agree plaster motor conflate trouble size hop fall"),
        ("relational conditional rational valenci hesitanci digitizer", "relate condition rational valence hesitance digitize"),
        ("1990s 2024 abc123 x1y2", "1990 2024 abc123 x1y2z"),
    ]
    for _ in range(12):
        pred = "\n".join(sentence(rng.randint(0, 12)) for _ in range(rng.randint(1, 3)))
        ref = "\n".join(sentence(rng.randint(0, 12)) for _ in range(rng.randint(1, 3)))
        pairs.append((pred, ref))
    for _ in range(30):
        pairs.append((random_text(rng, 40), random_text(rng, 40)))
    multi = [
        ("the cat sat on the mat", ["a cat was on the mat", "the cat sat on a mat", "dogs"]),
        ("completely unrelated", ["nothing shared", "still nothing"]),
        ("equal scores pick the first", ["equal scores", "scores equal"]),
        ("", ["", "non-empty"]),
    ]
    out = []
    for use_stemmer in (False, True):
        scorer = rouge_scorer.RougeScorer(ROUGE_TYPES, use_stemmer=use_stemmer)
        for name, items in (("single references", pairs), ("several references", multi)):
            predictions = [p for p, _ in items]
            references = [r for _, r in items]
            per_example = []
            for prediction, reference in items:
                if isinstance(reference, list):
                    scores = scorer.score_multi(reference, prediction)
                else:
                    scores = scorer.score(reference, prediction)
                per_example.append({t: scores[t].fmeasure for t in ROUGE_TYPES})
            mean = {t: sum(e[t] for e in per_example) / len(per_example) for t in ROUGE_TYPES}
            out.append({
                "name": f"{name}{', stemmer' if use_stemmer else ''}", "useStemmer": use_stemmer,
                "predictions": predictions, "references": references,
                "expected": {**mean, "perExample": per_example},
            })
    return out


def stemmer_words():
    """Words of this repository's docs, and suffix-rule words built so every rule of Porter's steps fires."""
    text = " ".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "docs").glob("*.md")))
    text += " " + (ROOT / "README.md").read_text(encoding="utf-8")
    words = set(w for w in re.split(r"[^a-z0-9]+", text.lower()) if w)
    suffixes = (
        "sses ies ss s eed ed ing at bl iz y ational tional enci anci izer bli alli entli eli ousli ization ation "
        "ator alism iveness fulness ousness aliti iviti biliti fulli logi icate ative alize iciti ical ful ness al "
        "ance ence er ic able ible ant ement ment ent sion tion ou ism ate iti ous ive ize e ll ied"
    ).split()
    stems = "tr cr hop fil conflat troubl siz sky dy ly ty generaliz nation rel cond happ spy ro cont controll bo geo theo archaeo".split()
    words.update(s + x for s in stems for x in suffixes)
    words.update("sky skies dying lying tying news innings inning outings outing cannings canning howe proceed exceed succeed "
                 "a ab abc yyyy yes syzygy toy enjoy enjoyment feed agreed bled sing filing failing hissing fizzed".split())
    return sorted(words)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    versions = {"sacrebleu": version("sacrebleu"), "rouge-score": version("rouge-score"), "nltk": version("nltk")}
    (OUT / "bleu.json").write_text(json.dumps({"versions": versions, "cases": bleu_cases()}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (OUT / "rouge.json").write_text(json.dumps({"versions": versions, "cases": rouge_cases()}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    stemmer = porter.PorterStemmer()
    stems = {w: stemmer.stem(w) for w in stemmer_words()}
    (OUT / "porter.json").write_text(json.dumps({"versions": versions, "stems": stems}, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    print(f"wrote {OUT}: bleu.json, rouge.json, porter.json ({len(stems)} words)")


if __name__ == "__main__":
    main()
