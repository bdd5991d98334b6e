// Prompt templates: the builtins (the seed's imdb prompt verbatim), placeholder and brace rules,
// prefix/suffix for the prompt builder, and template files.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILTIN_TEMPLATES, parseTemplate, resolveTemplate } from '../../src/data/templates.js';
import { ErrorCode } from '../../src/errors.js';
import { expectSftError } from '../helpers/errors.js';

const SEED_PROMPT =
  'Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n### Instruction:\nAnalyze the given text from an online review and determine the sentiment polarity. Return a single number of either 0 and 1, with 0 being negative and 1 being the positive sentiment.\n\n### Input:\nGREAT MOVIE\n\n### Response:\n';

describe('builtin templates', () => {
  it('imdb renders the seed experiments\' prompt character for character', () => {
    expect(resolveTemplate('imdb').render('GREAT MOVIE')).toBe(SEED_PROMPT);
  });

  it('demo is the bundled demo model\'s prompt', () => {
    const demo = resolveTemplate('demo');
    expect(demo.render('Loved it.')).toBe('Review: Loved it.\nIs this review positive or negative?');
    expect([demo.name, demo.prefix, demo.suffix]).toEqual(['demo', 'Review: ', '\nIs this review positive or negative?']);
  });

  it('every builtin has prefix + text + suffix == render(text)', () => {
    for (const name of Object.keys(BUILTIN_TEMPLATES)) {
      const t = resolveTemplate(name);
      expect(t.prefix + 'X' + t.suffix).toBe(t.render('X'));
    }
  });
});

describe('parseTemplate', () => {
  it('accepts {review} as the placeholder and {{ }} as literal braces', () => {
    const t = parseTemplate('t', 'JSON {{"a": 1}}\n{review}\n}}');
    expect([t.prefix, t.suffix]).toEqual(['JSON {"a": 1}\n', '\n}']);
    expect(t.text).toBe('JSON {{"a": 1}}\n{review}\n}}');
  });

  it('rejects no placeholder, two placeholders and stray braces, naming the template', () => {
    expectSftError(() => parseTemplate('mine.txt', 'Review: \nAnswer:'), ErrorCode.InvalidArgument, 'mine.txt', 'no {text} placeholder');
    expectSftError(() => parseTemplate('mine.txt', '{text} and {review}'), ErrorCode.InvalidArgument, 'more than one placeholder');
    expectSftError(() => parseTemplate('mine.txt', 'Review: {txt}'), ErrorCode.InvalidArgument, "unexpected '{' at offset 8", '{{');
    expectSftError(() => parseTemplate('mine.txt', '{text} }'), ErrorCode.InvalidArgument, "unexpected '}'");
  });
});

describe('resolveTemplate', () => {
  it('reads a template file verbatim apart from CRLF, keeping its final newline', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'sft-tpl-')), 'prompt.txt');
    writeFileSync(file, '\uFEFFQ: {text}\r\nA:\r\n');
    const t = resolveTemplate(file);
    expect(t.name).toBe(file);
    expect(t.render('hi')).toBe('Q: hi\nA:\n');
  });

  it('lists the builtin names when the argument is neither a builtin nor a file', () => {
    expectSftError(() => resolveTemplate('alpaca'), ErrorCode.InvalidArgument, '--template "alpaca"', 'imdb, demo');
    expectSftError(() => resolveTemplate('toString'), ErrorCode.InvalidArgument, 'imdb, demo');
  });
});
