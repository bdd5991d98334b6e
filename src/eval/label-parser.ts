// Turns a model's generated text into one of the task's classes, or null when no label can be
// read from it (an "invalid" output: resp_acc counts these, acc counts them as wrong).
// It does not judge whether the label is right; metrics.ts does that.
//
// The rules, in order:
//  1. Unicode NFKC ("１" is "1"), then special tokens the decoder may leave in the text
//     (<|im_end|>, <|eot_id|>, <end_of_turn>, </s>, [INST], ...) become spaces.
//  2. Reasoning is not an answer. A closed <think>...</think> block is dropped. A `</think>`
//     without its opening tag (the chat template opened the block in the prompt) drops everything
//     before it. An unclosed `<think>` drops everything after it: the model was still thinking,
//     so "<think>" alone and "<think>\n1" are both invalid, while "1 <think>" reads as 1.
//  3. Each class is recognized by its answer (what the model is trained to write, e.g. "1"), its
//     name (the value in the data, e.g. "positive") and optional extra aliases; case-insensitive,
//     whitespace inside an alias matches any whitespace.
//  4. Whole words only: an alias must not touch a letter, digit or "_" on a side where it starts
//     or ends with one. So "10", "1st", "x1" and "positively" are not labels. Inflections are
//     deliberately not guessed (a stem match would also read "negatively-worded" or "positivity"
//     as labels); pass them as aliases when a model writes them. A numeric alias must also not be
//     part of a larger number: "1.5", "0.1", "1,000" and "-1" are not "1" (but "1." and "1," are).
//  5. The first label in the text wins, even if a different one follows: the model answered
//     first, and what follows with 3 new tokens is noise or an echo of the prompt. "1 (negative)"
//     reads as the class of "1"; "0 or 1" reads as 0. Negation is not understood: "not positive"
//     reads as positive. At one position the longest alias wins ("very positive" over "very").
//
// Aliases are checked when the parser is built: an answer shared by two classes, a name shared by
// two classes, or an alias given for an unknown class is an error. When an alias is one class's
// answer and another class's name (label map 1=0,0=1), the answer wins because the model is trained
// to write answers; the same precedence puts names before extra aliases.
import type { LabelClass } from '../data/label-map.js';
import { ErrorCode, SftError } from '../errors.js';

export interface LabelParserOptions {
  /** Extra words recognized as a class, keyed by class name, e.g. { positive: ['pos', 'good'] }. */
  aliases?: Record<string, string[]>;
}

/** Parses one output; returns the class name or null. Build once per class set, call per output. */
export type LabelParser = (output: string) => string | null;

// Tokens chat templates and tokenizers use as markers; a decode that keeps special tokens leaves
// them in the text, usually glued to the answer ("1<|im_end|>").
const SPECIAL_TOKEN =
  /<\|[^|<>\s]{1,64}\|>|<\/?s>|<(?:bos|eos|pad|unk|mask|start_of_turn|end_of_turn|start_of_image|end_of_image)>|\[\/?INST\]/giu;
const THINK_BLOCK = /<think>[\s\S]*?<\/think>/gu;
const THINK_OPEN = '<think>';
const THINK_CLOSE = '</think>';

const WORD_CHAR = '[\\p{L}\\p{N}_]';
const IS_WORD_CHAR = new RegExp(`^${WORD_CHAR}$`, 'u');

/** The text in which labels are searched: normalized, special tokens and reasoning removed. */
export function answerText(output: string): string {
  // Case is folded first: lowering can change a string's length, so indexes are taken after it.
  let text = output.normalize('NFKC').toLowerCase().replace(SPECIAL_TOKEN, ' ');
  text = text.replace(THINK_BLOCK, ' ');
  const orphanClose = text.lastIndexOf(THINK_CLOSE);
  if (orphanClose >= 0) text = text.slice(orphanClose + THINK_CLOSE.length);
  const open = text.indexOf(THINK_OPEN);
  if (open >= 0) text = text.slice(0, open);
  return text;
}

interface Alias {
  className: string;
  pattern: RegExp;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A global regex matching `alias` as a whole word (rule 4), case already folded. */
function aliasPattern(alias: string): RegExp {
  const body = alias.split(/\s+/u).map(escapeRegExp).join('\\s+');
  const chars = Array.from(alias);
  const first = chars[0] as string;
  const last = chars[chars.length - 1] as string;
  let before = '';
  let after = '';
  if (IS_WORD_CHAR.test(first)) before += `(?<!${WORD_CHAR})`;
  // A leading digit must not continue a number ("0.1", "1,000") or carry a minus sign ("-1").
  if (/^\p{N}$/u.test(first)) before += '(?<!\\p{N}[.,])(?<![-\u2212])';
  if (IS_WORD_CHAR.test(last)) after += `(?!${WORD_CHAR})`;
  if (/^\p{N}$/u.test(last)) after += '(?![.,]\\p{N})';
  return new RegExp(`${before}${body}${after}`, 'gu');
}

function normalizeAlias(alias: string): string {
  return alias.normalize('NFKC').trim().replace(/\s+/gu, ' ').toLowerCase();
}

/** Aliases in precedence order (answers, then names, then extras), each claimed by one class. */
function buildAliases(classes: readonly LabelClass[], options: LabelParserOptions): Alias[] {
  if (classes.length === 0) throw new SftError('label parser: no classes given (expected a label map such as positive=1,negative=0)', ErrorCode.InvalidArgument);
  const names = new Set(classes.map((c) => c.name));
  for (const key of Object.keys(options.aliases ?? {})) {
    if (!names.has(key)) {
      throw new SftError(`label parser: aliases given for '${key}', which is not a class (classes: ${[...names].join(', ')})`, ErrorCode.InvalidArgument);
    }
  }
  const tiers: { what: string; entries: [string, string][] }[] = [
    { what: 'answer', entries: classes.map((c) => [c.name, c.answer]) },
    { what: 'name', entries: classes.map((c) => [c.name, c.name]) },
    { what: 'alias', entries: classes.flatMap((c) => (options.aliases?.[c.name] ?? []).map((a): [string, string] => [c.name, a])) },
  ];
  const owner = new Map<string, string>();
  const aliases: Alias[] = [];
  for (const tier of tiers) {
    const claimedInTier = new Map<string, string>();
    for (const [className, raw] of tier.entries) {
      const alias = normalizeAlias(raw);
      if (alias === '') {
        if (tier.what === 'answer') throw new SftError(`label parser: class '${className}' has an empty answer`, ErrorCode.InvalidArgument);
        continue;
      }
      const sameTier = claimedInTier.get(alias);
      if (sameTier !== undefined && sameTier !== className) {
        throw new SftError(`label parser: ${tier.what} '${raw}' belongs to both '${sameTier}' and '${className}'; each ${tier.what} must name one class`, ErrorCode.InvalidArgument);
      }
      claimedInTier.set(alias, className);
      if (owner.has(alias)) continue; // a higher tier (or the same class) already claimed it
      owner.set(alias, className);
      aliases.push({ className, pattern: aliasPattern(alias) });
    }
  }
  return aliases;
}

/** Builds a parser for one class set (regexes compiled once). See the rules at the top of the file. */
export function createLabelParser(classes: readonly LabelClass[], options: LabelParserOptions = {}): LabelParser {
  const aliases = buildAliases(classes, options);
  return (output: string): string | null => {
    const text = answerText(output);
    let best: { index: number; length: number; className: string } | null = null;
    for (const alias of aliases) {
      alias.pattern.lastIndex = 0;
      const m = alias.pattern.exec(text);
      if (!m) continue;
      const index = m.index;
      const length = m[0].length;
      if (best === null || index < best.index || (index === best.index && length > best.length)) {
        best = { index, length, className: alias.className };
      }
    }
    return best?.className ?? null;
  };
}

/** One-off parse; in a loop build the parser once with createLabelParser. */
export function parseLabel(output: string, classes: readonly LabelClass[], options: LabelParserOptions = {}): string | null {
  return createLabelParser(classes, options)(output);
}
