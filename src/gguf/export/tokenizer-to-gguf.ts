// A Hugging Face tokenizer (tokenizer.json + tokenizer_config.json + the chat template) as the
// `tokenizer.*` metadata llama.cpp reads: the mirror of tokenizer-from-gguf.ts, which reads it
// back (the export test holds the two to the same ids).
//   byte-level BPE (ByteLevel pre-tokenizer / decoder: Llama 3, Qwen, SmolLM)
//       -> model "gpt2", merges, and `pre` named by the split regex (tokenizer-byte-level.ts's table)
//   SentencePiece-style BPE (byte_fallback, Metaspace or the "▁" replace normalizer: Llama 2, Mistral, Gemma)
//       -> model "llama", merges and scores (higher = merged earlier), <0xXX> tokens typed BYTE
// Token types are llama.cpp's: NORMAL 1, UNKNOWN 2, CONTROL 3 (special added tokens),
// USER_DEFINED 4 (other added tokens), UNUSED 5 ([PADn] up to the embedding rows), BYTE 6.
// Other tokenizer models (Unigram, WordPiece) are refused with GGUF_UNSUPPORTED.

import { SftError } from '../../errors.js';
import { GgufErrorCode } from '../errors.js';
import { PRE_TOKENIZER_SPLITS } from '../tokenizer-byte-level.js';
import type { MetaEntry } from './metadata.js';

const TokenType = { Normal: 1, Unknown: 2, Control: 3, UserDefined: 4, Unused: 5, Byte: 6 } as const;

/** The `pre` name written for a split regex: llama.cpp's usual name for it (first in the table). */
const PRE_FOR_REGEX = new Map<string, string>();
for (const [name, regex] of Object.entries(PRE_TOKENIZER_SPLITS)) if (!PRE_FOR_REGEX.has(regex)) PRE_FOR_REGEX.set(regex, name);

export interface TokenizerSources {
  /** tokenizer.json, parsed. */
  tokenizerJson: Record<string, unknown>;
  /** tokenizer_config.json, parsed ({} when absent). */
  tokenizerConfig: Record<string, unknown>;
  /** config.json's (and generation_config.json's) token ids, the fallback for named special tokens. */
  modelIds: { bos?: number; eos?: number; pad?: number };
  chatTemplate: string | undefined;
  /** Rows of the embedding matrix: the vocabulary is padded to it. */
  vocabRows: number;
  /** Named in errors. */
  source: string;
}

type Json = Record<string, unknown>;

function unsupported(source: string, what: string): SftError {
  return new SftError(`${source}: ${what}; GGUF export writes byte-level BPE ("gpt2") and SentencePiece-style BPE ("llama") tokenizers`, GgufErrorCode.Unsupported);
}

/** Every pre-tokenizer / normalizer node of a (possibly Sequence) tree. */
function nodes(node: unknown): Json[] {
  if (!node || typeof node !== 'object') return [];
  const n = node as Json;
  const children = (n.pretokenizers ?? n.normalizers ?? n.decoders) as unknown[] | undefined;
  return [n, ...(Array.isArray(children) ? children.flatMap(nodes) : [])];
}

function splitRegex(pre: unknown): string | undefined {
  for (const n of nodes(pre)) {
    if (n.type === 'Split') {
      const pattern = n.pattern as { Regex?: string } | undefined;
      if (pattern?.Regex !== undefined) return pattern.Regex;
    }
  }
  return undefined;
}

/** The token text of a tokenizer_config value (a string or an AddedToken dict). */
function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return undefined;
}

/** Whether the post-processor puts `token` first in a single sequence (how tokenizer.json adds BOS). */
function postProcessorAdds(post: unknown, token: string | undefined, where: 'first' | 'last'): boolean | undefined {
  if (token === undefined) return undefined;
  for (const n of nodes(post)) {
    if (n.type === 'Sequence' && Array.isArray(n.processors)) {
      for (const p of n.processors) {
        const r = postProcessorAdds(p, token, where);
        if (r !== undefined) return r;
      }
    }
    if (n.type === 'TemplateProcessing' && Array.isArray(n.single)) {
      const items = n.single as Json[];
      const item = where === 'first' ? items[0] : items[items.length - 1];
      const special = (item?.SpecialToken as Json | undefined)?.id;
      return special === token;
    }
  }
  return undefined;
}

export function tokenizerMetadata(src: TokenizerSources): MetaEntry[] {
  const tj = src.tokenizerJson;
  const model = tj.model as Json | undefined;
  if (!model || model.type !== 'BPE') throw unsupported(src.source, `tokenizer model ${JSON.stringify(model?.type ?? null)}`);
  const vocab = model.vocab as Record<string, number>;
  const added = (Array.isArray(tj.added_tokens) ? tj.added_tokens : []) as Json[];

  const byId = new Map<number, string>();
  for (const [token, id] of Object.entries(vocab)) byId.set(id, token);
  for (const t of added) byId.set(t.id as number, t.content as string);
  let size = 0;
  for (const id of byId.keys()) size = Math.max(size, id + 1); // no spread: vocabularies reach 262k ids
  if (size > src.vocabRows) {
    throw new SftError(`${src.source}: the tokenizer has ${size} tokens but the embedding only ${src.vocabRows} rows`, GgufErrorCode.Invalid);
  }

  const byteLevel = nodes(tj.pre_tokenizer).some((n) => n.type === 'ByteLevel') || nodes(tj.decoder).some((n) => n.type === 'ByteLevel');
  const sentencePiece =
    !byteLevel &&
    model.byte_fallback === true &&
    (nodes(tj.pre_tokenizer).some((n) => n.type === 'Metaspace') || nodes(tj.normalizer).some((n) => n.type === 'Replace' || n.type === 'Prepend'));
  if (!byteLevel && !sentencePiece) throw unsupported(src.source, 'a BPE tokenizer that is neither byte-level nor SentencePiece-style (byte_fallback + Metaspace)');

  const addedById = new Map(added.map((t) => [t.id as number, t]));
  const tokens: string[] = [];
  const types: number[] = [];
  const unkText = typeof model.unk_token === 'string' ? model.unk_token : undefined;
  for (let id = 0; id < src.vocabRows; id++) {
    const text = byId.get(id);
    if (text === undefined) {
      tokens.push(`[PAD${id}]`);
      types.push(TokenType.Unused);
      continue;
    }
    tokens.push(text);
    const a = addedById.get(id);
    if (a) types.push(a.special === true ? TokenType.Control : TokenType.UserDefined);
    else if (text === unkText) types.push(TokenType.Unknown);
    else if (sentencePiece && /^<0x[0-9A-F]{2}>$/.test(text)) types.push(TokenType.Byte);
    else types.push(TokenType.Normal);
  }

  const rawMerges = (model.merges ?? []) as (string | [string, string])[];
  const merges = rawMerges.map((m) => (typeof m === 'string' ? m : `${m[0]} ${m[1]}`));

  const out: MetaEntry[] = [['tokenizer.ggml.model', { type: 'string', value: byteLevel ? 'gpt2' : 'llama' }]];
  if (byteLevel) {
    const regex = splitRegex(tj.pre_tokenizer);
    // SmolLM's Digits(individual) + ByteLevel is llama.cpp's 'smollm' (GPT-2's split with each digit apart).
    const digits = nodes(tj.pre_tokenizer).some((n) => n.type === 'Digits' && n.individual_digits === true);
    const pre = regex === undefined ? (digits ? 'smollm' : 'gpt2') : PRE_FOR_REGEX.get(regex);
    if (pre === undefined) throw unsupported(src.source, `the pre-tokenizer split regex ${JSON.stringify(regex)} has no llama.cpp name`);
    out.push(['tokenizer.ggml.pre', { type: 'string', value: pre }]);
  } else {
    out.push(['tokenizer.ggml.pre', { type: 'string', value: 'default' }]);
  }
  out.push(['tokenizer.ggml.tokens', { type: 'array', itemType: 'string', value: tokens }]);
  if (sentencePiece) {
    // SentencePiece scores: a merge's result scores by its rank (earlier = higher); other pieces 0.
    const rank = new Map<string, number>();
    merges.forEach((m, i) => {
      const piece = m.replace(' ', '');
      if (!rank.has(piece)) rank.set(piece, i);
    });
    const scores = tokens.map((t, id) => (types[id] === TokenType.Normal && rank.has(t) ? -(rank.get(t)! + 1) : 0));
    out.push(['tokenizer.ggml.scores', { type: 'array', itemType: 'f32', value: scores }]);
  }
  out.push(['tokenizer.ggml.token_type', { type: 'array', itemType: 'i32', value: types }]);
  out.push(['tokenizer.ggml.merges', { type: 'array', itemType: 'string', value: merges }]);

  const cfg = src.tokenizerConfig;
  const idOf = (key: string): number | undefined => {
    const text = tokenText(cfg[key]);
    if (text === undefined) return undefined;
    const id = tokens.indexOf(text);
    return id >= 0 ? id : undefined;
  };
  const bos = idOf('bos_token') ?? src.modelIds.bos;
  const eos = idOf('eos_token') ?? src.modelIds.eos;
  const unk = idOf('unk_token');
  const pad = idOf('pad_token') ?? src.modelIds.pad;
  if (bos !== undefined) out.push(['tokenizer.ggml.bos_token_id', { type: 'u32', value: bos }]);
  if (eos !== undefined) out.push(['tokenizer.ggml.eos_token_id', { type: 'u32', value: eos }]);
  if (unk !== undefined) out.push(['tokenizer.ggml.unknown_token_id', { type: 'u32', value: unk }]);
  if (pad !== undefined) out.push(['tokenizer.ggml.padding_token_id', { type: 'u32', value: pad }]);
  const bosText = bos === undefined ? undefined : tokens[bos];
  const eosText = eos === undefined ? undefined : tokens[eos];
  const addBos = typeof cfg.add_bos_token === 'boolean' ? cfg.add_bos_token : (postProcessorAdds(tj.post_processor, bosText, 'first') ?? false);
  const addEos = typeof cfg.add_eos_token === 'boolean' ? cfg.add_eos_token : (postProcessorAdds(tj.post_processor, eosText, 'last') ?? false);
  out.push(['tokenizer.ggml.add_bos_token', { type: 'bool', value: addBos }]);
  out.push(['tokenizer.ggml.add_eos_token', { type: 'bool', value: addEos }]);
  if (sentencePiece) {
    const prepends = nodes(tj.pre_tokenizer).some((n) => n.type === 'Metaspace' && n.prepend_scheme !== 'never') || nodes(tj.normalizer).some((n) => n.type === 'Prepend');
    out.push(['tokenizer.ggml.add_space_prefix', { type: 'bool', value: prepends }]);
  }
  if (src.chatTemplate !== undefined) out.push(['tokenizer.chat_template', { type: 'string', value: src.chatTemplate }]);
  return out;
}
