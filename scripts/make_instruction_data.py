#!/usr/bin/env python3
"""Writes the bundled instruction set (issue 16 point 4): alpaca rows (instruction, input, output).

No package on the registries reachable here ships an instruction data set (alpaca-eval and
alpaca-farm download theirs from the Hugging Face Hub at run time; their wheels hold prompts and
leaderboards only), so the set is generated, deterministically from a seed. Each row is one of
14 small tasks whose answer follows from the instruction and input (sentiment of a review,
counting, ordering, arithmetic, opposites, plurals, number words, reversing, joining sentences,
a list, a short review), phrased several ways, about half of them with an input. The words come
from everyday English and movie reviews, the register of the bundled demo model, so that the
1M-parameter model can learn the formats on a CPU in a minute; the same generator with larger
counts feeds the GPU run on real small models.

usage: python3 scripts/make_instruction_data.py [--out assets/instruct] [--train 600] [--test 40] [--seed 16]
writes OUT/train.jsonl and OUT/test.jsonl (one JSON object per line, keys instruction, input, output).
"""
import argparse
import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

GOOD = ["wonderful", "brilliant", "charming", "gripping", "funny", "moving", "clever", "beautiful", "warm", "fresh"]
BAD = ["dull", "boring", "clumsy", "tedious", "bland", "messy", "silly", "lazy", "confusing", "tired"]
PARTS = ["acting", "plot", "story", "music", "ending", "cast", "dialogue", "pacing", "script", "soundtrack"]
KINDS = ["movie", "film", "comedy", "drama", "thriller", "musical", "western", "sequel"]
WHO = ["The old man", "A young girl", "My brother", "The teacher", "The farmer", "The doctor", "Our neighbor", "The baker", "The captain", "A small boy"]
DID = ["opened", "painted", "cleaned", "visited", "found", "closed", "watched", "carried", "fixed", "left"]
WHAT = ["the red door", "the old house", "a small boat", "the garden", "the market", "a wooden box", "the blue car", "the big window", "the kitchen", "the library"]
WHEN = ["in the morning", "after lunch", "at night", "on Sunday", "before dinner", "in the rain", "last summer", "every day"]
NOUNS = ["apple", "river", "garden", "window", "pencil", "basket", "candle", "ladder", "mirror", "blanket", "button", "rabbit", "kitten", "lemon", "anchor"]
PLURALS = {"box": "boxes", "child": "children", "mouse": "mice", "city": "cities", "leaf": "leaves", "bus": "buses", "foot": "feet",
           "story": "stories", "knife": "knives", "tooth": "teeth", "baby": "babies", "glass": "glasses", "man": "men", "wolf": "wolves",
           "dog": "dogs", "house": "houses", "book": "books", "party": "parties", "woman": "women", "dish": "dishes"}
OPPOSITES = {"hot": "cold", "big": "small", "fast": "slow", "happy": "sad", "light": "dark", "early": "late", "strong": "weak",
             "open": "closed", "high": "low", "old": "young", "full": "empty", "loud": "quiet", "rich": "poor", "wet": "dry",
             "hard": "soft", "long": "short", "good": "bad", "clean": "dirty", "near": "far", "first": "last"}
COLORS = ["red", "blue", "green", "yellow", "purple", "orange", "black", "white", "brown", "pink"]
FRUITS = ["apple", "banana", "cherry", "grape", "lemon", "mango", "orange", "peach", "pear", "plum"]
ANIMALS = ["cat", "dog", "horse", "rabbit", "tiger", "mouse", "sheep", "goat", "lion", "bear"]
ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen",
        "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def number_words(n):
    if n < 20:
        return ONES[n]
    tens, ones = divmod(n, 10)
    return TENS[tens] + ("" if ones == 0 else "-" + ONES[ones])


def sentence(rng):
    return f"{rng.choice(WHO)} {rng.choice(DID)} {rng.choice(WHAT)} {rng.choice(WHEN)}."


def review(rng, positive):
    words = GOOD if positive else BAD
    a, b = rng.sample(words, 2)
    part, other = rng.sample(PARTS, 2)
    return rng.choice([
        f"The {part} was {a} and the {other} was {b}.",
        f"This {rng.choice(KINDS)} was {a}. The {part} felt {b}.",
        f"What a {a} {rng.choice(KINDS)}! The {part} was {b}.",
    ])


def sentiment(rng):
    positive = rng.random() < 0.5
    ask = rng.choice(["Classify the sentiment of this movie review.", "Is this review positive or negative?",
                      "Tell me whether the following review is positive or negative."])
    return ask, review(rng, positive), f"The review is {'positive' if positive else 'negative'}."


def count_words(rng):
    text = sentence(rng)
    n = len(text.rstrip(".").split())
    return rng.choice(["How many words are in this sentence?", "Count the words in the sentence."]), text, f"The sentence has {number_words(n)} words."


def reverse_words(rng):
    words = rng.sample(NOUNS, rng.randint(3, 5))
    return rng.choice(["Write these words in reverse order.", "Reverse the order of the words."]), " ".join(words), " ".join(reversed(words))


def last_word(rng):
    text = sentence(rng)
    words = text.rstrip(".").split()
    first = rng.random() < 0.5
    ask = f"What is the {'first' if first else 'last'} word of this sentence?"
    return ask, text, f"The {'first' if first else 'last'} word is {words[0] if first else words[-1]}."


def add_numbers(rng):
    a, b = rng.randint(1, 49), rng.randint(1, 49)
    return rng.choice(["Add these two numbers.", "What is the sum of the two numbers?"]), f"{a} and {b}", f"{a} plus {b} equals {a + b}."


def sort_words(rng):
    pool = rng.choice([FRUITS, ANIMALS, COLORS])
    words = rng.sample(pool, rng.randint(3, 5))
    return rng.choice(["Sort these words in alphabetical order.", "Put the words in alphabetical order."]), ", ".join(words), ", ".join(sorted(words))


def opposite(rng):
    word = rng.choice(sorted(OPPOSITES))
    return rng.choice([f"What is the opposite of {word}?", f"Give the opposite of the word {word}."]), "", f"The opposite of {word} is {OPPOSITES[word]}."


def plural(rng):
    word = rng.choice(sorted(PLURALS))
    return rng.choice([f"What is the plural of {word}?", f"Write the plural form of {word}."]), "", f"The plural of {word} is {PLURALS[word]}."


def spell_number(rng):
    n = rng.randint(0, 99)
    return rng.choice([f"Write the number {n} in words.", f"Spell out the number {n}."]), "", f"{n} is written as {number_words(n)}."


def join_sentences(rng):
    first, second = sentence(rng), sentence(rng)
    joined = first.rstrip(".") + " and " + second[0].lower() + second[1:]
    return "Join the two sentences with the word and.", f"{first} {second}", joined


def who_did(rng):
    who, did, what = rng.choice(WHO), rng.choice(DID), rng.choice(WHAT)
    return rng.choice(["Who is doing something in this sentence?", "Name the person in the sentence."]), f"{who} {did} {what} {rng.choice(WHEN)}.", f"{who}."


def list_items(rng):
    name, pool = rng.choice([("colors", COLORS), ("fruits", FRUITS), ("animals", ANIMALS)])
    k = rng.randint(2, 4)
    items = rng.sample(pool, k)
    return f"List {number_words(k)} {name}.", "", "\n".join(f"{i + 1}. {item}" for i, item in enumerate(items))


def write_review(rng):
    positive = rng.random() < 0.5
    kind = rng.choice(KINDS)
    return f"Write a short {'positive' if positive else 'negative'} review of a {kind}.", "", review(rng, positive)


def which_bigger(rng):
    a, b = rng.sample(range(1, 100), 2)
    return "Which number is bigger?", f"{a} or {b}", f"{max(a, b)} is bigger than {min(a, b)}."


TASKS = [sentiment, count_words, reverse_words, last_word, add_numbers, sort_words, opposite, plural, spell_number,
         join_sentences, who_did, list_items, write_review, which_bigger]


def rows(rng, n, seen):
    """n rows whose (instruction, input) pair is not in `seen` (so the test rows never appear in training)."""
    out = []
    while len(out) < n:
        instruction, inp, output = rng.choice(TASKS)(rng)
        if (instruction, inp) in seen:
            continue
        seen.add((instruction, inp))
        out.append({"instruction": instruction, "input": inp, "output": output})
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "assets" / "instruct"))
    parser.add_argument("--train", type=int, default=600)
    parser.add_argument("--test", type=int, default=40)
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    seen = set()
    test = rows(rng, args.test, seen)
    train = rows(rng, args.train, seen)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, data in (("train", train), ("test", test)):
        with open(out / f"{name}.jsonl", "w", encoding="utf-8") as f:
            for row in data:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {out}/train.jsonl ({len(train)} rows) and test.jsonl ({len(test)} rows)")


if __name__ == "__main__":
    main()
