#!/usr/bin/env python3
"""Instruction-data fixtures for src/data's format readers (issue 16), written by tools other than ours:

- test/fixtures/data/instruct/alpaca.jsonl           json.dumps, one row per line (instruction / input / output)
- test/fixtures/data/instruct/sharegpt.json          one JSON array ({"conversations": [{from, value}]})
- test/fixtures/data/instruct/messages.parquet       pyarrow, `messages` a nested list<struct<role, content>> column
- test/fixtures/data/instruct/prompt-completion.csv  Python's csv module (quoting, embedded newlines)
- test/fixtures/data/instruct/expected.json          what each row must become, derived here from the rows as
  Python holds them (pyarrow's nested values, json, csv): the turns of good rows, the 1-based numbers of the
  rows a reader must skip, and the seed's alpaca prompt rendered with str.format (with and without input).

usage: .venv-ref/bin/python scripts/reference/make_instruction_fixtures.py
"""
import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

OUT = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "data" / "instruct"

# The seed's alpaca prompt (issue 16), and Stanford Alpaca's input-less variant of it.
ALPACA_WITH_INPUT = (
    "Below is an instruction that describes a task, write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{}\n\n### Input:\n{}\n\n### Response:\n{}"
)
ALPACA_NO_INPUT = (
    "Below is an instruction that describes a task, write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{}\n\n### Response:\n{}"
)

ALPACA = [
    {"instruction": "Give three tips for staying healthy.", "input": "", "output": "1. Eat well.\n2. Sleep.\n3. Move."},
    {"instruction": "Translate to French.", "input": "Good morning, {friend}!", "output": "Bonjour, {ami} !"},
    {"instruction": "Résume ce texte 📚", "input": "Le chat dort. 猫が寝ている。", "output": "Un chat dort."},
    {"instruction": "Empty output row", "input": "x", "output": ""},  # skipped: empty output
    {"instruction": "No input key at all", "output": "Fine."},
]

SHAREGPT = [
    {"conversations": [
        {"from": "system", "value": "You are terse."},
        {"from": "human", "value": "Capital of France?"},
        {"from": "gpt", "value": "Paris."},
        {"from": "human", "value": "And of Italy?"},
        {"from": "gpt", "value": "Rome."},
    ]},
    {"conversations": [{"from": "human", "value": "2+2?"}, {"from": "gpt", "value": "4"}]},
    {"conversations": [{"from": "human", "value": "a"}, {"from": "human", "value": "b"}, {"from": "gpt", "value": "c"}]},  # skipped
    {"conversations": [{"from": "human", "value": "call it"}, {"from": "function_call", "value": "{}"}]},  # skipped
    {"conversations": [{"from": "human", "value": "only a question"}]},  # skipped: no answer
]

MESSAGES = [
    [{"role": "user", "content": "Name a prime."}, {"role": "assistant", "content": "7"},
     {"role": "user", "content": "Another?"}, {"role": "assistant", "content": "11"}],
    [{"role": "system", "content": "Reply in German."}, {"role": "user", "content": "Thank you"},
     {"role": "assistant", "content": "Danke"}],
    [{"role": "assistant", "content": "I speak first"}, {"role": "user", "content": "no"}],  # skipped
]

PROMPT_COMPLETION = [
    {"prompt": "The sky is", "completion": " blue."},
    {"prompt": "Line one,\nline \"two\"", "completion": "A, B"},
    {"prompt": "", "completion": "orphan"},  # skipped: empty prompt
]


def turns_from(items, role_key, text_key, roles):
    return [{"role": roles[t[role_key]], "content": t[text_key]} for t in items]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    expected = {}

    with open(OUT / "alpaca.jsonl", "w", encoding="utf-8") as f:
        for row in ALPACA:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    good = []
    rendered = []
    for i, row in enumerate(ALPACA, start=1):
        if not row["output"].strip():
            continue
        inp = row.get("input", "")
        user = row["instruction"] + ("\n\n" + inp if inp.strip() else "")
        good.append({"row": i, "turns": [{"role": "user", "content": user}, {"role": "assistant", "content": row["output"]}]})
        text = (ALPACA_WITH_INPUT.format(row["instruction"], inp, row["output"]) if inp.strip()
                else ALPACA_NO_INPUT.format(row["instruction"], row["output"]))
        prompt = (ALPACA_WITH_INPUT.format(row["instruction"], inp, "") if inp.strip()
                  else ALPACA_NO_INPUT.format(row["instruction"], ""))
        rendered.append({"row": i, "text": text, "prompt": prompt})
    expected["alpaca.jsonl"] = {"format": "alpaca", "examples": good, "skipped": [4], "alpaca_template": rendered}

    with open(OUT / "sharegpt.json", "w", encoding="utf-8") as f:
        json.dump(SHAREGPT, f, ensure_ascii=False, indent=1)
    roles = {"system": "system", "human": "user", "gpt": "assistant"}
    expected["sharegpt.json"] = {
        "format": "sharegpt",
        "examples": [{"row": i, "turns": turns_from(r["conversations"], "from", "value", roles)} for i, r in enumerate(SHAREGPT[:2], start=1)],
        "skipped": [3, 4, 5],
    }

    message_type = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
    table = pa.table({"messages": pa.array(MESSAGES, type=message_type), "id": pa.array([10, 11, 12], type=pa.int64())})
    pq.write_table(table, OUT / "messages.parquet")
    read_back = pq.read_table(OUT / "messages.parquet").to_pylist()
    expected["messages.parquet"] = {
        "format": "messages",
        "examples": [{"row": i, "turns": [dict(t) for t in r["messages"]]} for i, r in enumerate(read_back[:2], start=1)],
        "skipped": [3],
    }

    with open(OUT / "prompt-completion.csv", "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["prompt", "completion"])
        writer.writeheader()
        writer.writerows(PROMPT_COMPLETION)
    with open(OUT / "prompt-completion.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    expected["prompt-completion.csv"] = {
        "format": "prompt-completion",
        "examples": [{"row": i, "turns": [{"role": "user", "content": r["prompt"]}, {"role": "assistant", "content": r["completion"]}]}
                     for i, r in enumerate(rows, start=1) if r["prompt"].strip()],
        "skipped": [3],
    }

    with open(OUT / "expected.json", "w", encoding="utf-8") as f:
        json.dump({"generated_by": "scripts/reference/make_instruction_fixtures.py", "pyarrow": pa.__version__, "files": expected},
                  f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
