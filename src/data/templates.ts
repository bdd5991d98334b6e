// Prompt templates: the text around the input that a fine-tuned model learns to answer. A
// template is a builtin name or a file. It holds exactly one placeholder, `{text}` (or its alias
// `{review}`), and writes a literal brace as `{{` or `}}`, as Python's str.format does; any other
// brace is an error, so a typo like `{txt}` cannot slip into every prompt unnoticed.
//
// The prompt builder cuts the input to fit a token budget, so besides render() a template
// exposes the fixed `prefix` and `suffix` around the placeholder: prompt = prefix + text + suffix.
// A template file is read as UTF-8 and used verbatim apart from CRLF -> LF: a trailing newline
// in the file is part of the suffix (the imdb template ends with "### Response:\n" on purpose).
import { ErrorCode, SftError } from '../errors.js';
import { templateText } from './template-source.js';

export interface PromptTemplate {
  /** The builtin name, or the file path it was read from. */
  name: string;
  /** The template as written (placeholder and escapes included). */
  text: string;
  /** Everything before the placeholder, escapes resolved. */
  prefix: string;
  /** Everything after the placeholder, escapes resolved. */
  suffix: string;
  /** prefix + text + suffix. */
  render(text: string): string;
}

/** Builtin templates by name. */
export const BUILTIN_TEMPLATES: Readonly<Record<string, string>> = {
  // The seed experiments' Alpaca-style prompt, character for character; its answers are 0 and 1.
  imdb:
    'Below is an instruction that describes a task, paired with an input that provides further context. ' +
    'Write a response that appropriately completes the request.\n\n' +
    '### Instruction:\nAnalyze the given text from an online review and determine the sentiment polarity. ' +
    'Return a single number of either 0 and 1, with 0 being negative and 1 being the positive sentiment.\n\n' +
    '### Input:\n{text}\n\n### Response:\n',
  // The bundled demo model's prompt, answered with the words positive / negative.
  demo: 'Review: {text}\nIs this review positive or negative?',
};

const PLACEHOLDERS = ['{text}', '{review}'];

function templateError(name: string, what: string): SftError {
  return new SftError(`Template ${name}: ${what}`, ErrorCode.InvalidArgument);
}

/** Parses template text (see the rules at the top of the file); `name` is used in errors. */
export function parseTemplate(name: string, text: string): PromptTemplate {
  const parts: string[] = [''];
  for (let i = 0; i < text.length; ) {
    const placeholder = PLACEHOLDERS.find((p) => text.startsWith(p, i));
    const ch = text[i] as string;
    if (placeholder !== undefined) {
      if (parts.length > 1) throw templateError(name, `more than one placeholder (a second ${placeholder} at offset ${i}); a template takes the input text once`);
      parts.push('');
      i += placeholder.length;
    } else if ((ch === '{' || ch === '}') && text[i + 1] === ch) {
      parts[parts.length - 1] += ch;
      i += 2;
    } else if (ch === '{' || ch === '}') {
      const context = JSON.stringify(text.slice(Math.max(0, i - 10), i + 10));
      throw templateError(name, `unexpected '${ch}' at offset ${i} (near ${context}); the placeholder is {text} (or {review}), and a literal brace is written {{ or }}`);
    } else {
      parts[parts.length - 1] += ch;
      i += 1;
    }
  }
  if (parts.length !== 2) throw templateError(name, 'no {text} placeholder; a template must say where the input text goes');
  const [prefix, suffix] = parts as [string, string];
  return { name, text, prefix, suffix, render: (input) => prefix + input + suffix };
}

/** A builtin template by name, else a template file by path (builtin names win over files). */
export function resolveTemplate(nameOrPath: string): PromptTemplate {
  return parseTemplate(nameOrPath, templateText(nameOrPath, BUILTIN_TEMPLATES, 'builtin template'));
}
