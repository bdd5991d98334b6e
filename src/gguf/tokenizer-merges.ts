// BPE merges recovered from a SentencePiece vocabulary, for tokenizer-from-gguf.ts. SentencePiece
// GGUFs (Llama 2, Mistral, Gemma) list tokens and scores but no merges, while the tokenizers
// library's BPE model needs the merges, ranked. transformers rebuilds them (generate_merges in
// tokenization_utils_base.py); the ids only match if ours are the same pairs in the same order.

/**
 * Every split of every token into two tokens of the vocabulary, best first.
 *
 * `vocab` maps token -> id; its iteration order is the order tokens first appear in the file, its
 * value the id of their last appearance (a Python dict built from the token list behaves so).
 * `priority(id)` ranks the token whose last id that is: higher merges earlier.
 *
 * Order, as transformers' stable sort with reverse=True gives it: priority descending, then the
 * left piece's length descending, then the right piece's, then the token's place in `vocab`.
 * Lengths count code points (Python's len), not UTF-16 units. Within one token the left lengths
 * differ, so no further tie-break is ever needed.
 */
export function mergesFromVocab(
  vocab: ReadonlyMap<string, number>,
  priority: (id: number) => number,
): [string, string][] {
  const lefts: string[] = [];
  const rights: string[] = [];
  const scores: number[] = [];
  const leftLens: number[] = [];
  const rightLens: number[] = [];
  const order: number[] = [];

  const ends: number[] = []; // UTF-16 offsets where each code point of the token ends
  let place = 0;
  for (const [token, id] of vocab) {
    place++;
    if (token.length < 2) continue;
    ends.length = 0;
    for (let i = 0; i < token.length; ) {
      i += token.codePointAt(i)! > 0xffff ? 2 : 1;
      ends.push(i);
    }
    const count = ends.length;
    if (count < 2) continue;
    let score: number | undefined;
    for (let k = 0; k < count - 1; k++) {
      const left = token.slice(0, ends[k]);
      if (!vocab.has(left)) continue;
      const right = token.slice(ends[k]);
      if (!vocab.has(right)) continue;
      score ??= priority(id);
      lefts.push(left);
      rights.push(right);
      scores.push(score);
      leftLens.push(k + 1);
      rightLens.push(count - k - 1);
      order.push(place);
    }
  }

  const index = new Uint32Array(lefts.length);
  for (let i = 0; i < index.length; i++) index[i] = i;
  index.sort(
    (a, b) =>
      scores[b]! - scores[a]! || leftLens[b]! - leftLens[a]! || rightLens[b]! - rightLens[a]! || order[a]! - order[b]!,
  );
  const merges = new Array<[string, string]>(index.length);
  for (let i = 0; i < index.length; i++) merges[i] = [lefts[index[i]!]!, rights[index[i]!]!];
  return merges;
}
