// Prompt templates for instruction data: text with named placeholders ({instruction}, {input},
// {output}, {system}, or any column of the row), literal braces written {{ and }} as in Python's
// str.format. Everything before {output} is the prompt the model reads; {output} and whatever
// follows it is the response it learns to write (the builder appends the EOS token). {completion}
// (prompt/completion rows' own name for it) marks the response the same way. A template without
// either is all prompt, and the output follows it.
//
// The input-less variant (as Stanford Alpaca's prompt_no_input): when a row's input is empty,
// the paragraph holding {input} (the text between the blank lines around it) is left out, so the
// alpaca template renders "### Instruction:\n...\n\n### Response:\n..." without an empty
// "### Input:" section.
//
// Not here: label templates with one {text} placeholder (templates.ts), tokenization
// (instruction-builder.ts).
import { ErrorCode, SftError } from '../errors.js';
import { templateText } from './template-source.js';

type Piece = { text: string } | { field: string };

export interface InstructionTemplate {
  /** The builtin name, or the file path it was read from. */
  name: string;
  /** The template as written. */
  text: string;
  /** The placeholder names it reads. */
  fields: readonly string[];
  /** The prompt (text before {output}) and the response ({output} and after) for a row's fields. */
  render(fields: Readonly<Record<string, string>>): { prompt: string; response: string };
}

/** Builtin instruction templates by name. */
export const BUILTIN_INSTRUCTION_TEMPLATES: Readonly<Record<string, string>> = {
  // The seed's alpaca prompt, character for character (its input-less variant drops the
  // "### Input:" paragraph); the EOS token follows the output.
  alpaca:
    'Below is an instruction that describes a task, write a response that appropriately completes the request.\n\n' +
    '### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n{output}',
};

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Placeholders where the response begins. */
const RESPONSE_FIELDS: readonly string[] = ['output', 'completion'];

function templateError(name: string, what: string): SftError {
  return new SftError(`Template ${name}: ${what}`, ErrorCode.InvalidArgument);
}

function parsePieces(name: string, text: string): Piece[] {
  const pieces: Piece[] = [];
  let literal = '';
  for (let i = 0; i < text.length; ) {
    const ch = text[i] as string;
    if ((ch === '{' || ch === '}') && text[i + 1] === ch) {
      literal += ch;
      i += 2;
    } else if (ch === '{') {
      const close = text.indexOf('}', i);
      const field = close === -1 ? '' : text.slice(i + 1, close);
      if (!NAME.test(field)) {
        const context = JSON.stringify(text.slice(Math.max(0, i - 10), i + 20));
        throw templateError(name, `unexpected '{' at offset ${i} (near ${context}); a placeholder is {name} (a column, or instruction / input / output / system), and a literal brace is written {{ or }}`);
      }
      if (literal !== '') pieces.push({ text: literal });
      literal = '';
      pieces.push({ field });
      i = close + 1;
    } else if (ch === '}') {
      throw templateError(name, `unexpected '}' at offset ${i}; a literal brace is written }}`);
    } else {
      literal += ch;
      i += 1;
    }
  }
  if (literal !== '') pieces.push({ text: literal });
  const outputs = pieces.filter((p) => 'field' in p && RESPONSE_FIELDS.includes(p.field)).length;
  if (outputs > 1) throw templateError(name, 'more than one {output} (or {completion}) placeholder; the response is written once');
  return pieces;
}

/** The template text without the paragraph that holds {input}, or undefined when it has no {input}. */
function withoutInputParagraph(name: string, text: string): string | undefined {
  const at = text.indexOf('{input}');
  if (at === -1) return undefined;
  const before = text.lastIndexOf('\n\n', at);
  const after = text.indexOf('\n\n', at);
  const start = before === -1 ? 0 : before;
  const end = after === -1 ? text.length : before === -1 ? after + 2 : after;
  const paragraph = text.slice(start, end);
  if (RESPONSE_FIELDS.some((f) => paragraph.includes(`{${f}}`))) {
    throw templateError(name, 'the paragraph holding {input} also holds {output}, so the input-less variant cannot leave it out; put a blank line between them');
  }
  return text.slice(0, start) + text.slice(end);
}

function renderPieces(name: string, pieces: readonly Piece[], fields: Readonly<Record<string, string>>): { prompt: string; response: string } {
  let prompt = '';
  let response = '';
  let inResponse = false;
  for (const piece of pieces) {
    let value: string;
    if ('text' in piece) value = piece.text;
    else {
      if (RESPONSE_FIELDS.includes(piece.field)) inResponse = true;
      const field = Object.hasOwn(fields, piece.field) ? fields[piece.field] : undefined;
      if (field === undefined) {
        throw templateError(name, `the placeholder {${piece.field}} names no field of the row; it has ${Object.keys(fields).map((f) => `{${f}}`).join(', ')}`);
      }
      value = field;
    }
    if (inResponse) response += value;
    else prompt += value;
  }
  if (!inResponse) response = fields.output ?? '';
  return { prompt, response };
}

/** Parses an instruction template (see the rules at the top of the file); `name` is used in errors. */
export function parseInstructionTemplate(name: string, text: string): InstructionTemplate {
  const full = parsePieces(name, text);
  const inputLessText = withoutInputParagraph(name, text);
  const inputLess = inputLessText === undefined ? full : parsePieces(name, inputLessText);
  const fields = [...new Set(full.flatMap((p) => ('field' in p ? [p.field] : [])))];
  if (fields.length === 0) throw templateError(name, 'no placeholder; an instruction template names the fields it reads, e.g. {instruction} and {output}');
  return {
    name,
    text,
    fields,
    render: (values) => renderPieces(name, (values.input ?? '').trim() === '' ? inputLess : full, values),
  };
}

/** A builtin instruction template by name, else a template file by path (builtin names win). */
export function resolveInstructionTemplate(nameOrPath: string): InstructionTemplate {
  return parseInstructionTemplate(nameOrPath, templateText(nameOrPath, BUILTIN_INSTRUCTION_TEMPLATES, 'builtin instruction template'));
}
