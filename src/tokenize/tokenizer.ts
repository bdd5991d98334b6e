// The model's tokenizer: text <-> ids through Hugging Face's Rust tokenizers (the same core as
// Python's), loaded the way transformers 5 loads a directory with a tokenizer.json, plus the chat
// template. Not here: prompt wording, truncation and padding of batches (src/data does those).

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer as RustTokenizer } from 'tokenizers';
import { ErrorCode, SftError } from '../errors.js';
import {
  ChatTemplate,
  readChatTemplates,
  selectChatTemplate,
  type ChatMessage,
  type ChatTemplateOptions,
  type ChatTemplateSource,
} from './chat-template.js';

export type { ChatMessage, ChatTemplateOptions } from './chat-template.js';

export interface EncodeOptions {
  /** Apply tokenizer.json's post-processor (e.g. Gemma's BOS). Default true, as in transformers. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens (BOS, <|im_end|>, ...) from the text. Default false, as in transformers. */
  skipSpecialTokens?: boolean;
}

// The named special tokens transformers knows; other `*_token` keys (Gemma3's boi_token, ...) are
// model-specific named tokens and reach the chat template too.
const NAMED_SPECIAL_TOKENS = [
  'bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token',
] as const;

/**
 * Loads dir/tokenizer.json and dir/tokenizer_config.json (plus a chat template file when present).
 * Mirrors transformers 5's AutoTokenizer for a directory that has a tokenizer.json:
 * - the tokenizer.json post-processor alone decides which special tokens encode() adds; the
 *   add_bos_token/add_eos_token keys of tokenizer_config.json are dropped by transformers 5 in that
 *   case (tokenization_utils_base.from_pretrained), so they are read and ignored here as well;
 * - named special tokens missing from tokenizer.json's added tokens are added as special tokens;
 * - truncation and padding baked into tokenizer.json are switched off (transformers does so on
 *   every call that does not ask for them).
 */
export async function loadTokenizer(dir: string): Promise<Tokenizer> {
  const tokenizerPath = join(dir, 'tokenizer.json');
  const configPath = join(dir, 'tokenizer_config.json');
  const tokenizerText = await readRequired(tokenizerPath, dir);
  const configText = await readRequired(configPath, dir);

  const tokenizerJson = parseJsonObject(tokenizerText, tokenizerPath);
  const config = parseJsonObject(configText, configPath);

  let rust: RustTokenizer;
  try {
    rust = RustTokenizer.fromString(tokenizerText);
  } catch (e) {
    throw new SftError(
      `${tokenizerPath} is not a tokenizer the tokenizers library can load: ${(e as Error).message}`,
      ErrorCode.TokenizerInvalid,
    );
  }
  rust.disableTruncation();
  rust.disablePadding();

  const specialTokens = readSpecialTokens(config, configPath);
  const addedContents = new Set(readAddedTokenContents(tokenizerJson));
  const missing = [...new Set([...Object.values(specialTokens), ...readAdditionalSpecialTokens(config)])].filter(
    (token) => !addedContents.has(token),
  );
  if (missing.length > 0) rust.addSpecialTokens(missing);

  const modelType = isRecord(tokenizerJson.model) ? tokenizerJson.model.type : undefined;
  // transformers 5 skips clean_up_tokenization for BPE models even when the config asks for it.
  const cleanUpSpaces = config.clean_up_tokenization_spaces === true && modelType !== 'BPE';

  const templates = await readChatTemplates(dir, config, configPath);
  const tokenizer = new Tokenizer(dir, rust, specialTokens, templates, cleanUpSpaces);
  await tokenizer.probeAddedSpecialTokens();
  return tokenizer;
}

export class Tokenizer {
  /** The directory the tokenizer was loaded from. */
  readonly dir: string;
  /** Named special tokens as strings (bos_token, eos_token, ..., boi_token): the template variables. */
  readonly specialTokens: Readonly<Record<string, string>>;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly padToken: string | null;
  readonly unkToken: string | null;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  readonly unkTokenId: number | null;
  /** Number of ids, added tokens included (transformers' len(tokenizer)); ids are < vocabSize. */
  readonly vocabSize: number;
  private addsBos = false;
  private addsEos = false;
  private readonly compiled = new Map<string, ChatTemplate>();

  /** Use loadTokenizer(dir). @internal */
  constructor(
    dir: string,
    private readonly rust: RustTokenizer,
    specialTokens: Record<string, string>,
    private readonly templates: ReadonlyMap<string, ChatTemplateSource>,
    private readonly cleanUpSpaces: boolean,
  ) {
    this.dir = dir;
    this.specialTokens = Object.freeze({ ...specialTokens });
    this.bosToken = specialTokens.bos_token ?? null;
    this.eosToken = specialTokens.eos_token ?? null;
    this.padToken = specialTokens.pad_token ?? null;
    this.unkToken = specialTokens.unk_token ?? null;
    this.bosTokenId = this.bosToken === null ? null : this.tokenToId(this.bosToken);
    this.eosTokenId = this.eosToken === null ? null : this.tokenToId(this.eosToken);
    this.padTokenId = this.padToken === null ? null : this.tokenToId(this.padToken);
    this.unkTokenId = this.unkToken === null ? null : this.tokenToId(this.unkToken);
    this.vocabSize = rust.getVocabSize(true);
  }

  /** Whether encode() with special tokens puts BOS first (decided by tokenizer.json). */
  get addsBosToken(): boolean {
    return this.addsBos;
  }

  /** Whether encode() with special tokens puts EOS last (decided by tokenizer.json). */
  get addsEosToken(): boolean {
    return this.addsEos;
  }

  /** Whether the model has a chat template. */
  get hasChatTemplate(): boolean {
    return this.templates.size > 0;
  }

  /** @internal Called once by loadTokenizer: what the post-processor adds to an empty text. */
  async probeAddedSpecialTokens(): Promise<void> {
    const ids = await this.encode('', { addSpecialTokens: true });
    this.addsBos = this.bosTokenId !== null && ids[0] === this.bosTokenId;
    this.addsEos = this.eosTokenId !== null && ids[ids.length - 1] === this.eosTokenId;
  }

  async encode(text: string, options: EncodeOptions = {}): Promise<number[]> {
    const encoding = await this.rust.encode(text, null, { addSpecialTokens: options.addSpecialTokens ?? true });
    return encoding.getIds();
  }

  async encodeBatch(texts: readonly string[], options: EncodeOptions = {}): Promise<number[][]> {
    const encodings = await this.rust.encodeBatch([...texts], { addSpecialTokens: options.addSpecialTokens ?? true });
    return encodings.map((e) => e.getIds());
  }

  /** Ids past the vocabulary are skipped, as Python's tokenizers does; non-integers are refused. */
  async decode(ids: readonly number[], options: DecodeOptions = {}): Promise<string> {
    checkIds(ids, 'ids');
    const text = await this.rust.decode([...ids], options.skipSpecialTokens ?? false);
    return this.cleanUpSpaces ? cleanUpTokenization(text) : text;
  }

  async decodeBatch(batch: readonly (readonly number[])[], options: DecodeOptions = {}): Promise<string[]> {
    batch.forEach((ids, i) => checkIds(ids, `batch[${i}]`));
    const texts = await this.rust.decodeBatch(batch.map((ids) => [...ids]), options.skipSpecialTokens ?? false);
    return this.cleanUpSpaces ? texts.map(cleanUpTokenization) : texts;
  }

  /** The id of a token string (added tokens included), or null when the vocabulary lacks it. */
  tokenToId(token: string): number | null {
    return this.rust.tokenToId(token) ?? null;
  }

  /** The token string of an id, or null when the id is out of range. */
  idToToken(id: number): string | null {
    if (!Number.isSafeInteger(id) || id < 0) return null;
    return this.rust.idToToken(id) ?? null;
  }

  /**
   * Renders a conversation with the model's chat template, as transformers'
   * apply_chat_template(tokenize=False) does. Throws CHAT_TEMPLATE when the model has none or the
   * template fails (the message names the template's file).
   */
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
    const source = selectChatTemplate(this.templates, options.tools !== undefined, this.dir);
    let template = this.compiled.get(source.name);
    if (template === undefined) {
      template = new ChatTemplate(source);
      this.compiled.set(source.name, template);
    }
    return template.render(messages, this.specialTokens, options);
  }

  /**
   * Renders then encodes without adding special tokens, as apply_chat_template(tokenize=True) does:
   * the template already writes BOS where the model wants it, so encode() would double it.
   */
  async encodeChat(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): Promise<number[]> {
    return this.encode(this.applyChatTemplate(messages, options), { addSpecialTokens: false });
  }
}

// The binding would read -1 as an empty token, 1.5 as 1 and NaN as 0: refuse them instead.
function checkIds(ids: readonly number[], what: string): void {
  const bad = ids.findIndex((id) => !Number.isSafeInteger(id) || id < 0);
  if (bad !== -1) {
    throw new SftError(
      `Expected non-negative integer token ids for ${what} but received ${String(ids[bad])} at index ${bad}`,
      ErrorCode.InvalidArgument,
    );
  }
}

/** transformers' clean_up_tokenization (applied only to non-BPE models, see loadTokenizer). */
function cleanUpTokenization(text: string): string {
  return text
    .replaceAll(' .', '.')
    .replaceAll(' ?', '?')
    .replaceAll(' !', '!')
    .replaceAll(' ,', ',')
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

/** Named special tokens from tokenizer_config.json: strings, or AddedToken objects {content}. */
function readSpecialTokens(config: Record<string, unknown>, configPath: string): Record<string, string> {
  const tokens: Record<string, string> = {};
  const named = new Set<string>(NAMED_SPECIAL_TOKENS);
  for (const [key, value] of Object.entries(config)) {
    if (!key.endsWith('_token') || value === null || value === undefined) continue;
    const content = tokenContent(value);
    if (content !== undefined) tokens[key] = content;
    else if (named.has(key)) {
      throw new SftError(
        `Expected a string or {"content": string} for "${key}" in ${configPath} but received ${JSON.stringify(value)}`,
        ErrorCode.TokenizerInvalid,
      );
    }
    // Other *_token keys with non-token values (add_bos_token: true, ...) are flags, not tokens.
  }
  // transformers 5 also accepts model-specific named tokens under extra_special_tokens as a dict.
  if (isRecord(config.extra_special_tokens)) {
    for (const [key, value] of Object.entries(config.extra_special_tokens)) {
      const content = tokenContent(value);
      if (content !== undefined && !(key in tokens)) tokens[key] = content;
    }
  }
  return tokens;
}

/** Unnamed special tokens: additional_special_tokens, or extra_special_tokens given as a list. */
function readAdditionalSpecialTokens(config: Record<string, unknown>): string[] {
  const lists = [config.additional_special_tokens, config.extra_special_tokens].filter(Array.isArray);
  return lists.flat().map(tokenContent).filter((t): t is string => t !== undefined);
}

function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (isRecord(value) && typeof value.content === 'string') return value.content;
  return undefined;
}

function readAddedTokenContents(tokenizerJson: Record<string, unknown>): string[] {
  const added = tokenizerJson.added_tokens;
  if (!Array.isArray(added)) return [];
  return added.map(tokenContent).filter((t): t is string => t !== undefined);
}

async function readRequired(path: string, dir: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new SftError(
        `${path} not found: ${dir} must hold a Hugging Face tokenizer (tokenizer.json and tokenizer_config.json)`,
        ErrorCode.FileNotFound,
      );
    }
    throw new SftError(`Cannot read ${path}: ${(e as Error).message}`, ErrorCode.FileNotFound);
  }
}

function parseJsonObject(text: string, path: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new SftError(`${path} is not valid JSON: ${(e as Error).message}`, ErrorCode.TokenizerInvalid);
  }
  if (!isRecord(value)) {
    throw new SftError(`Expected a JSON object in ${path} but received ${typeof value}`, ErrorCode.TokenizerInvalid);
  }
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
