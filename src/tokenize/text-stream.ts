// Token ids in, text out as it grows: each push decodes the ids so far (special tokens skipped)
// and returns what the text gained. A token that ends inside a multi-byte character decodes to
// U+FFFD until the rest arrives, so text ending in one is held back; decoding the whole sequence
// each time keeps word-joining pieces (SentencePiece's leading spaces) right.
import type { Tokenizer } from './tokenizer.js';

export class TextStream {
  readonly #ids: number[] = [];
  #sent = '';

  constructor(private readonly tokenizer: Tokenizer) {}

  /** Adds one token; returns the new text ('' while nothing printable was added). */
  async push(id: number): Promise<string> {
    this.#ids.push(id);
    const text = await this.tokenizer.decode(this.#ids, { skipSpecialTokens: true });
    if (text.endsWith('\uFFFD') || !text.startsWith(this.#sent)) return '';
    const piece = text.slice(this.#sent.length);
    this.#sent = text;
    return piece;
  }

  /** Everything decoded so far. */
  get text(): string {
    return this.#sent;
  }
}
