// Byte-level BPE pieces for tokenizer-from-gguf.ts: GPT-2's byte alphabet (every byte written as
// one printable character) and the pre-tokenizer split regexes that transformers picks from a GGUF
// file's `tokenizer.ggml.pre` name.

/** Byte -> its character in GPT-2's byte-level alphabet (transformers' bytes_to_unicode). */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  // Printable Latin-1 bytes stand for themselves; the other 68 (controls, space, 0x7f-0xa0, 0xad)
  // are moved, in byte order, to U+0100 onwards so that no token holds whitespace or a control.
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const out: string[] = [];
  let moved = 0;
  for (let b = 0; b < 256; b++) out.push(String.fromCharCode(printable(b) ? b : 256 + moved++));
  return out;
})();

const ALPHABET = new Set(BYTE_TO_CHAR.map((c) => c.charCodeAt(0)));
const utf8 = new TextEncoder();

/** Whether every character of `token` is in the byte alphabet (an empty token is). */
export function isByteLevelSpelled(token: string): boolean {
  // The alphabet lies in U+0021..U+0143: one UTF-16 unit per character, no surrogates.
  for (let i = 0; i < token.length; i++) if (!ALPHABET.has(token.charCodeAt(i))) return false;
  return true;
}

/**
 * A vocabulary entry as the byte-level BPE model must see it. GGUF files (llama.cpp's converter)
 * store most tokens already spelled in the byte alphabet ("Ġthe"), but some hold the raw text
 * ("<|im_start|>" is both); transformers keeps a token made of alphabet characters as it is and
 * spells any other through its UTF-8 bytes. We do the same so that ids match.
 */
export function byteLevelSpelling(token: string): string {
  if (isByteLevelSpelled(token)) return token;
  let out = '';
  for (const b of utf8.encode(token)) out += BYTE_TO_CHAR[b]!;
  return out;
}

// The split regexes, by the pattern's family. Each is the one the family's own tokenizer.json uses.
const LLAMA3 =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}" +
  '| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+';
const QWEN2 =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}" +
  '| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+';
const QWEN35 =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}" +
  '| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+';
// Upper-then-lower runs as one word ("Hello", "HTTPServer" -> "HTTP", "Server").
const UPPER = '[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]';
const LOWER = '[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]';
const TEKKEN =
  `[^\\r\\n\\p{L}\\p{N}]?${UPPER}*${LOWER}+|[^\\r\\n\\p{L}\\p{N}]?${UPPER}+${LOWER}*` +
  '|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+';
const CONTRACTIONS = "(?i:'s|'t|'re|'ve|'m|'ll|'d)?";
const GPT4O =
  `[^\\r\\n\\p{L}\\p{N}]?${UPPER}*${LOWER}+${CONTRACTIONS}|[^\\r\\n\\p{L}\\p{N}]?${UPPER}+${LOWER}*${CONTRACTIONS}` +
  '|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+';

/**
 * `tokenizer.ggml.pre` names -> the regex transformers (5.x, integrations/gguf) splits with.
 * Names not listed (smollm, gpt2, starcoder, default, ...) keep GPT-2's ByteLevel regex in
 * transformers, even where llama.cpp splits differently (for 'smollm' it isolates each digit):
 * we follow transformers, which is what a Python user of the same file gets.
 */
export const PRE_TOKENIZER_SPLITS: Readonly<Record<string, string>> = {
  llama3: LLAMA3,
  'llama-v3': LLAMA3,
  'llama-bpe': LLAMA3,
  falcon3: LLAMA3,
  'falcon-h1': LLAMA3,
  pixtral: LLAMA3,
  'midm-2.0': LLAMA3,
  lfm2: LLAMA3,
  'jina-v5-nano': LLAMA3,
  dbrx: LLAMA3,
  'smaug-bpe': LLAMA3,
  tekken: TEKKEN,
  qwen2: QWEN2,
  'deepseek-r1-qwen': QWEN2,
  kormo: QWEN2,
  f2llmv2: QWEN2,
  megrez: QWEN2,
  qwen35: QWEN35,
  'gpt-4o': GPT4O,
  llama4: GPT4O,
  kanana2: GPT4O,
  talkie: GPT4O,
  'minimax-m2': GPT4O,
};
