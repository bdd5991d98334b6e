"""Small data files for src/data's tests, written by tools other than ours:

- reviews.csv      the awkward CSV cases byte for byte: UTF-8 BOM, CRLF records, a quoted field
                   with an embedded CRLF and "" escapes, commas inside quotes, IMDB's `<br /><br />`,
                   and bad rows (empty text, missing label, a label outside the map).
- reviews.parquet  written by pyarrow with snappy compression (the pandas / pyarrow default):
                   a string column with a null, int64, float64 and bool columns.
- mixed/           a directory: a.csv, b.jsonl, c.parquet and notes.txt (which readRows ignores).
- mulberry32.json  an independent Python implementation of src/data/shuffle.ts's generator and
                   shuffle, so the TypeScript stream is checked against something it did not write.

usage: pip install pyarrow; python3 scripts/reference/make_data_fixtures.py -> test/fixtures/data/
"""
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

OUT = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "data"
M32 = 0xFFFFFFFF

CSV_ROWS = [
    # id, quoted text (CSV-escaped by hand below), label
    ("1", "Great film.<br /><br />Loved it, truly.", "positive"),
    ("2", 'Line one\r\nline two with "quotes"', "negative"),
    ("3", "", "positive"),  # empty text
    ("4", "Fine movie", ""),  # missing label
    ("5", "Meh.", "neutral"),  # label outside the map
    ("6", "Solid, with a twist<BR>ending", " Positive "),  # label matched after trim, ignoring case
]


def csv_quote(field: str) -> str:
    return '"' + field.replace('"', '""') + '"'


def write_reviews_csv(path: Path) -> None:
    lines = ["id,text,label"] + [f"{i},{csv_quote(text)},{label}" for i, text, label in CSV_ROWS]
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")


def write_reviews_parquet(path: Path) -> None:
    table = pa.table({
        "text": pa.array(["A fine film", None, "Dull<br />and long"], pa.string()),
        "label": pa.array(["positive", "negative", "negative"], pa.string()),
        "stars": pa.array([9, 2, 3], pa.int64()),
        "score": pa.array([0.5, 1.0, None], pa.float64()),
        "liked": pa.array([True, False, False], pa.bool_()),
    })
    pq.write_table(table, path, compression="snappy")
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "SNAPPY"


def write_mixed_dir(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "a.csv").write_text("review,sentiment\nGood one,positive\nBad one,negative\n")
    (folder / "b.jsonl").write_text(
        json.dumps({"review": "JSON good", "sentiment": "positive"}) + "\n\n"
        + json.dumps({"review": "JSON bad", "sentiment": "negative", "extra": 1}) + "\n"
    )
    pq.write_table(pa.table({"review": ["Parquet good"], "sentiment": ["positive"]}), folder / "c.parquet",
                   compression="snappy")
    (folder / "notes.txt").write_text("not data\n")


def mulberry32(seed: int):
    state = seed % 2**32

    def imul(a: int, b: int) -> int:
        return (a * b) & M32

    def next_u32() -> int:
        nonlocal state
        state = (state + 0x6D2B79F5) & M32
        t = state
        t = imul(t ^ (t >> 15), t | 1)
        t ^= (t + imul(t ^ (t >> 7), t | 61)) & M32
        return (t ^ (t >> 14)) & M32

    return next_u32


def shuffle(items: list, seed: int) -> list:
    out = list(items)
    draw = mulberry32(seed)
    for i in range(len(out) - 1, 0, -1):
        j = (draw() * (i + 1)) >> 32
        out[i], out[j] = out[j], out[i]
    return out


def write_prng_reference(path: Path) -> None:
    seeds = [0, 1, 42, 2**32 - 1, -7]
    ref = {
        "streams": [{"seed": s, "u32": take(mulberry32(s), 8)} for s in seeds],
        "shuffles": [{"seed": s, "n": n, "order": shuffle(list(range(n)), s)} for s in (0, 42, 1234) for n in (10, 100)],
    }
    path.write_text(json.dumps(ref) + "\n")


def take(draw, n: int) -> list:
    return [draw() for _ in range(n)]


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    write_reviews_csv(OUT / "reviews.csv")
    write_reviews_parquet(OUT / "reviews.parquet")
    write_mixed_dir(OUT / "mixed")
    write_prng_reference(OUT / "mulberry32.json")
    print(f"wrote {sorted(p.relative_to(OUT).as_posix() for p in OUT.rglob('*') if p.is_file())}")


if __name__ == "__main__":
    main()
