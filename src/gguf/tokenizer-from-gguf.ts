// A GGUF file's tokenizer as Hugging Face files: tokenizer.json (the tokenizers library's format)
// and tokenizer_config.json, built from the `tokenizer.*` metadata llama.cpp writes. The target is
// transformers' own conversion (AutoTokenizer.from_pretrained(dir, gguf_file=...), transformers 5,
// integrations/gguf/gguf_tokenizer_mapping.py): the same pipeline, vocabulary, merges and added
// tokens, hence the same ids, so a model imported from GGUF is trained on the ids a Python user of
// that file would get. Where transformers and llama.cpp differ (the split regex of some `pre`
// names, `add_space_prefix`), we follow transformers and say so below.
// Not here: reading the file (reader.ts) or writing the files.
//
// tokenizer.ggml.model -> what is built:
//   gpt2   byte-level BPE: merges from the file, ByteLevel pre-tokenizer, or a Split regex picked
//          by tokenizer.ggml.pre (tokenizer-byte-level.ts);
//   llama  SentencePiece BPE with byte fallback: Metaspace ("▁" for spaces, one prepended to the
//          text), merges from the file or rebuilt from the scores (tokenizer-merges.ts); Gemma
//          (gemma, gemma2, gemma3) and Phi-3 architectures have their own variants;
//   gemma4 SentencePiece BPE the Gemma way, never adding BOS.
// t5 (Unigram) and the rest are refused with GGUF_UNSUPPORTED.

import { ErrorCode, SftError } from '../errors.js';
import { GgufErrorCode } from './errors.js';
import { byteLevelSpelling, isByteLevelSpelled, PRE_TOKENIZER_SPLITS } from './tokenizer-byte-level.js';
import { mergesFromVocab } from './tokenizer-merges.js';

export interface GgufTokenizerFiles {
  /** tokenizer.json: write with JSON.stringify (some MB for a 262k vocabulary). */
  tokenizerJson: Record<string, unknown>;
  /** tokenizer_config.json: named special tokens, add_bos/eos flags, chat template, added tokens. */
  tokenizerConfig: Record<string, unknown>;
}

export interface GgufTokenizerOptions {
  /**
   * model_max_length of tokenizer_config.json. Default: the metadata's `<arch>.context_length`
   * (arch = general.architecture); left out when neither is known, as transformers does.
   */
  modelMaxLength?: number;
}

/** llama.cpp's token types (tokenizer.ggml.token_type). */
const TokenType = { Normal: 1, Unknown: 2, Control: 3, UserDefined: 4, Unused: 5, Byte: 6 } as const;

const SPACE_PIECE = '\u2581'; // "▁", SentencePiece's spelling of a space

/** Architectures whose `llama`-type vocabulary transformers builds the Gemma or Phi-3 way. */
const GEMMA_ARCHS = new Set(['gemma', 'gemma2', 'gemma3']);
/** Architectures AutoTokenizer wraps in GemmaTokenizer, which adds mask_token "<mask>" by default. */
const GEMMA_TOKENIZER_ARCHS = new Set(['gemma', 'gemma2', 'gemma3', 'gemma3_text']);

/** The tokenizer metadata, checked. Arrays as the file lists them (index = token id). */
interface TokenizerMetadata {
  architecture: string;
  model: string;
  pre: string | undefined;
  tokens: readonly string[];
  tokenTypes: readonly number[];
  scores: readonly number[] | undefined;
  merges: readonly string[] | undefined;
  bosId: number | undefined;
  eosId: number | undefined;
  unkId: number | undefined;
  padId: number | undefined;
  addBos: boolean | undefined;
  addEos: boolean | undefined;
  chatTemplate: string | undefined;
  contextLength: number | undefined;
}

/** What a builder makes: the tokenizers BPE model and the pipeline around it. */
interface Pipeline {
  /** token -> id; for duplicate tokens the last id, as a Python dict built from the list keeps. */
  vocab: Map<string, number>;
  merges: [string, string][];
  /** The BPE model's options (everything but vocab and merges). */
  model: Record<string, unknown>;
  normalizer: object | null;
  preTokenizer: object | null;
  decoder: object | null;
  /**
   * The special tokens of the transformers class behind the builder, which it adds when created
   * (GPT2Tokenizer's "<|endoftext|>", LlamaTokenizer's "<s>" ...): matched whole in text even when
   * the file marks them normal, and appended as new ids when the vocabulary lacks them.
   */
  classSpecialTokens: string[];
}

/**
 * Builds tokenizer.json and tokenizer_config.json from a GGUF file's metadata (arrays as plain JS
 * arrays, ids as numbers). Throws GGUF_INVALID for missing or malformed tokenizer keys and
 * GGUF_UNSUPPORTED for tokenizer types other than gpt2, llama and gemma4.
 */
export function tokenizerFilesFromGguf(
  metadata: Record<string, unknown>,
  options: GgufTokenizerOptions = {},
): GgufTokenizerFiles {
  const md = readTokenizerMetadata(metadata);
  const modelMaxLength = options.modelMaxLength ?? md.contextLength;
  if (modelMaxLength !== undefined && !(Number.isSafeInteger(modelMaxLength) && modelMaxLength > 0)) {
    throw new SftError(
      `Expected a positive integer for modelMaxLength but received ${String(modelMaxLength)}`,
      ErrorCode.InvalidArgument,
    );
  }
  const pipeline = buildPipeline(md);

  // transformers replaces the pre-tokenizer whenever the `pre` name is one it knows, whatever the
  // tokenizer type; the Split does the regex work, so ByteLevel only maps bytes.
  if (md.pre !== undefined && Object.hasOwn(PRE_TOKENIZER_SPLITS, md.pre)) {
    pipeline.preTokenizer = {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: PRE_TOKENIZER_SPLITS[md.pre] }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    };
  }

  const named = namedSpecialTokens(md);
  const added = addedTokens(md, pipeline, named);

  // BOS: the file's flag; a SentencePiece file without one gets BOS (llama.cpp's default for
  // such files, and transformers'); Gemma 4 never (its chat template writes <bos> itself).
  let addBos = md.model === 'gemma4' ? false : (md.addBos ?? md.model === 'llama');
  let addEos = md.addEos ?? false;
  if (named.bos_token === undefined) addBos = false;
  if (named.eos_token === undefined) addEos = false;
  const idOf = (token: string) => added.idOf(token) ?? pipeline.vocab.get(token)!;
  const postProcessor = templateProcessing(
    addBos ? { token: named.bos_token!, id: idOf(named.bos_token!) } : undefined,
    addEos ? { token: named.eos_token!, id: idOf(named.eos_token!) } : undefined,
  );

  const vocabJson: Record<string, number> = Object.create(null) as Record<string, number>;
  for (const [token, id] of pipeline.vocab) vocabJson[token] = id; // null prototype: "__proto__" is a token too
  const addedList = added.list();
  const tokenizerJson: Record<string, unknown> = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedList.map((t) => ({
      id: t.id,
      content: t.content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: t.special,
    })),
    normalizer: pipeline.normalizer,
    pre_tokenizer: pipeline.preTokenizer,
    post_processor: postProcessor,
    decoder: pipeline.decoder,
    model: { ...pipeline.model, vocab: vocabJson, merges: pipeline.merges },
  };

  const addedTokensDecoder: Record<string, unknown> = {};
  for (const t of addedList) {
    addedTokensDecoder[String(t.id)] = {
      content: t.content,
      lstrip: false,
      normalized: false,
      rstrip: false,
      single_word: false,
      special: t.special,
    };
  }
  const tokenizerConfig: Record<string, unknown> = {
    // Loads tokenizer.json as it is, in transformers 4 and 5 alike (5 aliases it to TokenizersBackend).
    tokenizer_class: 'PreTrainedTokenizerFast',
    ...named,
    add_bos_token: addBos,
    add_eos_token: addEos,
    clean_up_tokenization_spaces: false,
    ...(modelMaxLength === undefined ? {} : { model_max_length: modelMaxLength }),
    ...(md.chatTemplate === undefined ? {} : { chat_template: md.chatTemplate }),
    added_tokens_decoder: addedTokensDecoder,
  };
  return { tokenizerJson, tokenizerConfig };
}

/**
 * bos/eos/unk/pad_token: the tokens at the file's ids, spelled as the file spells them. Gemma's
 * class (AutoTokenizer's pick for gemma* architectures) also names mask_token "<mask>" by default.
 */
function namedSpecialTokens(md: TokenizerMetadata): Record<string, string> {
  const named: Record<string, string> = {};
  const set = (name: string, id: number | undefined, key: string) => {
    if (id === undefined) return;
    const token = md.tokens[id];
    if (token === undefined) {
      throw invalid(`tokenizer.ggml.${key} is ${id} but the vocabulary has ${md.tokens.length} tokens`);
    }
    named[name] = token;
  };
  set('bos_token', md.bosId, 'bos_token_id');
  set('eos_token', md.eosId, 'eos_token_id');
  set('unk_token', md.unkId, 'unknown_token_id');
  set('pad_token', md.padId, 'padding_token_id');
  if (GEMMA_TOKENIZER_ARCHS.has(md.architecture)) named.mask_token = '<mask>';
  return named;
}

// ---------------------------------------------------------------- builders

function buildPipeline(md: TokenizerMetadata): Pipeline {
  switch (md.model) {
    case 'gpt2':
      return byteLevelPipeline(md);
    case 'llama':
      if (GEMMA_ARCHS.has(md.architecture)) return gemmaPipeline(md);
      if (md.architecture === 'phi3') return phi3Pipeline(md);
      return llamaPipeline(md);
    case 'gemma4':
      return gemmaLikePipeline(vocabOf(md.tokens), sentencePieceMerges(md, md.tokens));
    default:
      throw new SftError(
        `tokenizer.ggml.model is "${md.model}": only "gpt2" (byte-level BPE), "llama" (SentencePiece BPE) ` +
          'and "gemma4" tokenizers can be converted from GGUF',
        GgufErrorCode.Unsupported,
      );
  }
}

/** GPT-2 style byte-level BPE (SmolLM, Qwen, Llama 3 ...): GPT2Tokenizer in transformers. */
function byteLevelPipeline(md: TokenizerMetadata): Pipeline {
  if (md.merges === undefined) throw invalid('a "gpt2" tokenizer needs tokenizer.ggml.merges, which is missing');
  const vocab = new Map<string, number>();
  md.tokens.forEach((token, id) => vocab.set(byteLevelSpelling(token), id));
  return {
    vocab,
    merges: mergesFromFile(md.merges),
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
    },
    normalizer: null,
    // GPT-2's regex inside ByteLevel; replaced by a Split when `pre` names a known family.
    preTokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    classSpecialTokens: ['<|endoftext|>'],
  };
}

/**
 * Llama 2 / Mistral SentencePiece: LlamaTokenizer in transformers. Metaspace prepends "▁" to the
 * text's start whatever tokenizer.ggml.add_space_prefix says: transformers reads that flag but no
 * builder uses it (llama.cpp does; a file with add_space_prefix=false would differ there).
 */
function llamaPipeline(md: TokenizerMetadata): Pipeline {
  const vocab = vocabOf(md.tokens);
  return {
    vocab,
    merges: sentencePieceMerges(md, md.tokens),
    model: sentencePieceModel(null),
    normalizer: null,
    preTokenizer: { type: 'Metaspace', replacement: SPACE_PIECE, prepend_scheme: 'first', split: false },
    decoder: llamaDecoder(),
    classSpecialTokens: ['<s>', '</s>', '<unk>'],
  };
}

/**
 * Phi-3: as Llama 2, but the "▁" prefix comes from a normalizer, which prepends it to every text,
 * so "  hi" becomes "▁▁▁hi" where Metaspace gives "▁▁hi" (transformers' phi3_tokenizer).
 */
function phi3Pipeline(md: TokenizerMetadata): Pipeline {
  const pipeline = llamaPipeline(md);
  pipeline.normalizer = {
    type: 'Sequence',
    normalizers: [
      { type: 'Prepend', prepend: SPACE_PIECE },
      { type: 'Replace', pattern: { String: ' ' }, content: SPACE_PIECE },
    ],
  };
  pipeline.preTokenizer = null;
  return pipeline;
}

/**
 * Gemma 1-3 (transformers' gemma_tokenizer). Two fixes its files need:
 * - tokens of 2+ spaces are stored as real spaces ("  ") while the pipeline, which turns spaces
 *   into "▁" before the model sees them, looks up "▁▁": they are respelled before anything else;
 * - there are no merges, and the scores do not rank them: the file's token order does (earlier
 *   tokens merge first), so merges are rebuilt from positions.
 */
function gemmaPipeline(md: TokenizerMetadata): Pipeline {
  const respelled = md.tokens.map((t) => (t.includes(' ') && t.trim() === '' ? SPACE_PIECE.repeat(codePoints(t)) : t));
  const vocab = vocabOf(respelled);
  const merges = md.merges !== undefined ? mergesFromFile(md.merges) : mergesFromVocab(vocab, (id) => -id);
  return gemmaLikePipeline(vocab, merges);
}

/** GemmaTokenizer's pipeline: spaces become "▁" in the normalizer, no prefix, byte fallback. */
function gemmaLikePipeline(vocab: Map<string, number>, merges: [string, string][]): Pipeline {
  return {
    vocab,
    merges,
    model: sentencePieceModel('<unk>'),
    normalizer: { type: 'Replace', pattern: { String: ' ' }, content: SPACE_PIECE },
    preTokenizer: { type: 'Split', pattern: { String: ' ' }, behavior: 'MergedWithPrevious', invert: false },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: SPACE_PIECE }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
      ],
    },
    classSpecialTokens: ['<bos>', '<eos>', '<unk>', '<pad>', '<mask>'],
  };
}

function sentencePieceModel(unkToken: string | null): Record<string, unknown> {
  return {
    type: 'BPE',
    dropout: null,
    unk_token: unkToken,
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: true,
    byte_fallback: true,
    ignore_merges: false,
  };
}

function llamaDecoder(): object {
  return {
    type: 'Sequence',
    decoders: [
      { type: 'Replace', pattern: { String: SPACE_PIECE }, content: ' ' },
      { type: 'ByteFallback' },
      { type: 'Fuse' },
      // The prepended "▁" decodes to a space at the start: drop it.
      { type: 'Strip', content: ' ', start: 1, stop: 0 },
    ],
  };
}

/** The file's merges, or ones rebuilt from the scores (higher score merges first). */
function sentencePieceMerges(md: TokenizerMetadata, tokens: readonly string[]): [string, string][] {
  if (md.merges !== undefined) return mergesFromFile(md.merges);
  const scores = md.scores;
  if (scores === undefined) {
    throw invalid('a SentencePiece tokenizer without tokenizer.ggml.merges needs tokenizer.ggml.scores, which is missing');
  }
  if (scores.length !== tokens.length) {
    throw invalid(`tokenizer.ggml.scores has ${scores.length} values for ${tokens.length} tokens`);
  }
  return mergesFromVocab(vocabOf(tokens), (id) => scores[id]!);
}

/** "left right" lines, split at the one space (tokens of both kinds spell spaces otherwise). */
function mergesFromFile(lines: readonly string[]): [string, string][] {
  return lines.map((line, i) => {
    const parts = line.split(' ');
    if (parts.length !== 2) {
      throw invalid(`tokenizer.ggml.merges[${i}] is ${JSON.stringify(line)}: expected two tokens separated by a space`);
    }
    return parts as [string, string];
  });
}

function vocabOf(tokens: readonly string[]): Map<string, number> {
  const vocab = new Map<string, number>();
  tokens.forEach((token, id) => vocab.set(token, id));
  return vocab;
}

function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

// ---------------------------------------------------------------- added tokens

interface AddedToken {
  id: number;
  content: string;
  special: boolean;
}

/** The tokenizers library's added vocabulary, as far as ids and the special flag go. */
class AddedVocabulary {
  private readonly byContent = new Map<string, AddedToken>();
  private readonly byId = new Map<number, AddedToken>();
  private maxId = -1;

  constructor(private readonly vocab: ReadonlyMap<string, number>) {}

  idOf(content: string): number | undefined {
    return this.byContent.get(content)?.id;
  }

  has(content: string): boolean {
    return this.byContent.has(content) || this.vocab.has(content);
  }

  /**
   * Adding content the vocabulary holds reuses its id; other content gets the next id past the
   * vocabulary. Adding it again keeps its id, and a token once special stays special: the library
   * keeps it in its set of special tokens (decode(skip_special_tokens) drops it) even though it
   * would serialize the later, plain flags. We write the flag it behaves by.
   */
  add(content: string, special: boolean): void {
    if (content === '') return;
    const previous = this.byContent.get(content);
    if (previous !== undefined) {
      previous.special ||= special;
      return;
    }
    let id = this.vocab.get(content);
    if (id === undefined) {
      // Past the model's size (its number of distinct tokens) and past every added id.
      const size = this.vocab.size;
      id = this.maxId < 0 ? size : this.maxId >= size || size === 0 ? this.maxId + 1 : size;
    }
    const token = { id, content, special };
    // Two contents on one id only happen with duplicate tokens; the later one wins, as in the library.
    const other = this.byId.get(id);
    if (other !== undefined) this.byContent.delete(other.content);
    this.byContent.set(content, token);
    this.byId.set(id, token);
    this.maxId = Math.max(this.maxId, id);
  }

  list(): AddedToken[] {
    return [...this.byId.values()].sort((a, b) => a.id - b.id);
  }
}

/**
 * The added tokens, in the order transformers adds them (the order decides the ids of tokens new
 * to the vocabulary): the builder class's own special tokens; the tokens the file marks control,
 * as special; those it marks user-defined (like "<think>" or Gemma's "\n\n"), as plain added
 * tokens, matched whole in text; last the named special tokens not added yet.
 */
function addedTokens(md: TokenizerMetadata, pipeline: Pipeline, named: Record<string, string>): AddedVocabulary {
  const added = new AddedVocabulary(pipeline.vocab);
  for (const token of pipeline.classSpecialTokens) added.add(token, true);

  const count = Math.min(md.tokens.length, md.tokenTypes.length);
  const byteLevel = md.model === 'gpt2';
  for (let id = 0; id < count; id++) {
    const token = md.tokens[id]!;
    // In a byte-level vocabulary a control token outside the byte alphabet is a converter's
    // mislabel: transformers skips it rather than grow the vocabulary past the model's size.
    if (md.tokenTypes[id] === TokenType.Control && (!byteLevel || isByteLevelSpelled(token))) added.add(token, true);
  }
  for (let id = 0; id < count; id++) {
    const token = md.tokens[id]!;
    // As the file spells it: Gemma's "  " (respelled "▁▁" in the vocabulary) is not added.
    if (md.tokenTypes[id] === TokenType.UserDefined && added.has(token)) added.add(token, false);
  }
  for (const token of Object.values(named)) if (added.idOf(token) === undefined) added.add(token, true);
  return added;
}

// ---------------------------------------------------------------- post-processor

/** TemplateProcessing that puts BOS/EOS around each sequence, as transformers' update_post_processor. */
function templateProcessing(
  bos: { token: string; id: number } | undefined,
  eos: { token: string; id: number } | undefined,
): object {
  const special = (token: { token: string } | undefined, typeId: number) =>
    token === undefined ? [] : [{ SpecialToken: { id: token.token, type_id: typeId } }];
  const sequence = (id: 'A' | 'B', typeId: number) => [
    ...special(bos, typeId),
    { Sequence: { id, type_id: typeId } },
    ...special(eos, typeId),
  ];
  const specialTokens: Record<string, object> = {};
  for (const t of [bos, eos]) if (t !== undefined) specialTokens[t.token] = { id: t.token, ids: [t.id], tokens: [t.token] };
  return {
    type: 'TemplateProcessing',
    single: sequence('A', 0),
    pair: [...sequence('A', 0), ...sequence('B', 1)],
    special_tokens: specialTokens,
  };
}

// ---------------------------------------------------------------- metadata

function readTokenizerMetadata(metadata: Record<string, unknown>): TokenizerMetadata {
  const architecture = optionalString(metadata, 'general.architecture') ?? '';
  const model = optionalString(metadata, 'tokenizer.ggml.model');
  if (model === undefined) throw invalid('tokenizer.ggml.model is missing: the file carries no tokenizer');
  const tokens = stringArray(metadata, 'tokenizer.ggml.tokens');
  if (tokens === undefined) throw invalid('tokenizer.ggml.tokens is missing');
  const contextLength = architecture === '' ? undefined : metadata[`${architecture}.context_length`];
  return {
    architecture,
    model,
    pre: optionalString(metadata, 'tokenizer.ggml.pre'),
    tokens,
    tokenTypes: numberArray(metadata, 'tokenizer.ggml.token_type') ?? [],
    scores: numberArray(metadata, 'tokenizer.ggml.scores'),
    merges: stringArray(metadata, 'tokenizer.ggml.merges'),
    bosId: tokenId(metadata, 'tokenizer.ggml.bos_token_id'),
    eosId: tokenId(metadata, 'tokenizer.ggml.eos_token_id'),
    unkId: tokenId(metadata, 'tokenizer.ggml.unknown_token_id'),
    padId: tokenId(metadata, 'tokenizer.ggml.padding_token_id'),
    addBos: optionalBoolean(metadata, 'tokenizer.ggml.add_bos_token'),
    addEos: optionalBoolean(metadata, 'tokenizer.ggml.add_eos_token'),
    chatTemplate: optionalString(metadata, 'tokenizer.chat_template'),
    contextLength:
      typeof contextLength === 'number' && Number.isSafeInteger(contextLength) && contextLength > 0
        ? contextLength
        : undefined,
  };
}

function invalid(what: string): SftError {
  return new SftError(`Cannot build a tokenizer from this GGUF metadata: ${what}`, GgufErrorCode.Invalid);
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  return typeof value === 'bigint' ? `${value}n` : String(value);
}

function expected(key: string, what: string, value: unknown): SftError {
  return invalid(`expected ${what} for ${key} but received ${describe(value)}`);
}

function optionalString(metadata: Record<string, unknown>, key: string): string | undefined {
  const value = metadata[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw expected(key, 'a string', value);
  return value;
}

function optionalBoolean(metadata: Record<string, unknown>, key: string): boolean | undefined {
  const value = metadata[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw expected(key, 'a boolean', value);
  return value;
}

function tokenId(metadata: Record<string, unknown>, key: string): number | undefined {
  const value = metadata[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw expected(key, 'a token id (a non-negative integer)', value);
  }
  return value;
}

function stringArray(metadata: Record<string, unknown>, key: string): readonly string[] | undefined {
  const value = metadata[key];
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw expected(key, 'an array of strings', value);
  const bad = value.findIndex((v) => typeof v !== 'string');
  if (bad !== -1) throw expected(`${key}[${bad}]`, 'a string', value[bad]);
  return value as string[];
}

function numberArray(metadata: Record<string, unknown>, key: string): readonly number[] | undefined {
  const value = metadata[key];
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw expected(key, 'an array of numbers', value);
  const bad = value.findIndex((v) => typeof v !== 'number');
  if (bad !== -1) throw expected(`${key}[${bad}]`, 'a number', value[bad]);
  return value as number[];
}
