// Instruction-data formats (issue 16): alpaca JSONL, ShareGPT JSON, chat messages in parquet
// (a nested list<struct> column) and prompt/completion CSV become the turns that
// scripts/reference/make_instruction_fixtures.py derived with json / pyarrow / csv; bad rows are
// skipped with a reason; formats are detected from the columns or named; the seed's alpaca
// template renders as Python's str.format does, input-less variant included.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadLabelledData, loadTaskData } from '../../src/api/dataset.js';
import { resolveDataFormat } from '../../src/data/format-detect.js';
import { referenceResponse, promptTurns, type InstructionFormat } from '../../src/data/instruction-example.js';
import { toInstructionExamples } from '../../src/data/instruction-rows.js';
import { parseInstructionTemplate, resolveInstructionTemplate } from '../../src/data/instruction-template.js';
import { readRows } from '../../src/data/read-rows.js';
import type { DataRow } from '../../src/data/row.js';

const DIR = join(import.meta.dirname, '..', 'fixtures', 'data', 'instruct');
interface Expected {
  format: InstructionFormat;
  examples: { row: number; turns: { role: string; content: string }[] }[];
  skipped: number[];
  alpaca_template?: { row: number; text: string; prompt: string }[];
}
const EXPECTED = (JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as { files: Record<string, Expected> }).files;
const LABEL = { textColumn: 'review', labelColumn: 'sentiment' };

describe('instruction formats match the reference reading of each file', () => {
  for (const [name, expected] of Object.entries(EXPECTED)) {
    it(`${name}: ${expected.format}, detected from the columns`, async () => {
      const { rows } = await readRows(join(DIR, name));
      expect(resolveDataFormat(rows, LABEL)).toBe(expected.format);
      const { examples, skipped } = toInstructionExamples(rows, expected.format);
      expect(examples.map((e) => ({ row: e.row, turns: e.turns }))).toEqual(expected.examples);
      expect(skipped.map((s) => s.row)).toEqual(expected.skipped);
      for (const s of skipped) expect(s.reason.length).toBeGreaterThan(5);
    });
  }

  it('the seed alpaca template renders like str.format, the input-less variant when the input is empty', async () => {
    const expected = EXPECTED['alpaca.jsonl'] as Expected;
    const { examples } = toInstructionExamples((await readRows(join(DIR, 'alpaca.jsonl'))).rows, 'alpaca');
    const template = resolveInstructionTemplate('alpaca');
    for (const want of expected.alpaca_template ?? []) {
      const example = examples.find((e) => e.row === want.row);
      const { prompt, response } = template.render(example?.fields ?? {});
      expect(prompt).toBe(want.prompt);
      expect(prompt + response).toBe(want.text);
    }
    expect(expected.alpaca_template?.some((r) => !r.prompt.includes('### Input:'))).toBe(true);
  });
});

function rowsOf(values: Record<string, string | null>[]): DataRow[] {
  return values.map((v, i) => ({ file: 'mem.jsonl', row: i + 1, values: v }));
}

describe('format detection and bad rows', () => {
  it('label rows win when the label column exists; --format overrides; unknown columns are an error naming them', () => {
    const both = rowsOf([{ review: 'r', sentiment: 'positive', instruction: 'i', output: 'o' }]);
    expect(resolveDataFormat(both, LABEL)).toBe('label');
    expect(resolveDataFormat(both, { ...LABEL, format: 'alpaca' })).toBe('alpaca');
    expect(() => resolveDataFormat(rowsOf([{ question: 'q', answer: 'a' }]), LABEL)).toThrow(/"question", "answer".*--format/);
    expect(() => resolveDataFormat(rowsOf([{ review: 'r', label: 'positive' }]), LABEL)).toThrow('--label-column "sentiment" is not a column of mem.jsonl; its columns are "review", "label"');
    expect(() => resolveDataFormat(rowsOf([{ instruction: 'q' }]), { ...LABEL, format: 'alpaca' })).toThrow(/--format alpaca needs the column "output", which mem.jsonl does not have/);
  });

  it('a conversation cell that is not JSON, a tool turn, or a trailing user turn is a skipped row with its reason', () => {
    const { examples, skipped } = toInstructionExamples(
      rowsOf([
        { messages: 'not json' },
        { messages: JSON.stringify([{ role: 'user', content: 'q' }, { role: 'tool', content: '{}' }]) },
        { messages: JSON.stringify([{ role: 'user', content: 'q' }, { role: 'assistant', content: 'a' }, { role: 'user', content: 'q2' }]) },
        { messages: JSON.stringify([{ role: 'user', content: [{ type: 'text', text: 'hi ' }, { type: 'text', text: 'there' }] }, { role: 'assistant', content: 'yo' }]) },
      ]),
      'messages',
    );
    expect(skipped.map((s) => [s.row, s.reason])).toEqual([
      [1, 'messages is not a JSON list of turns (it starts "not json")'],
      [2, 'messages[1] has role "tool"; expected one of system, user, assistant'],
      [3, 'the last turn is not an assistant turn, so there is nothing to learn from it'],
    ]);
    expect(examples).toHaveLength(1);
    expect(promptTurns(examples[0]!)).toEqual([{ role: 'user', content: 'hi there' }]);
    expect(referenceResponse(examples[0]!)).toBe('yo');
  });

  it('conversational prompt/completion rows (trl) become the prompt turns plus the completion turn', () => {
    const { examples } = toInstructionExamples(
      rowsOf([{ prompt: JSON.stringify([{ role: 'system', content: 's' }, { role: 'user', content: 'q' }]), completion: JSON.stringify([{ role: 'assistant', content: 'a' }]) }]),
      'prompt-completion',
    );
    expect(examples[0]?.turns).toEqual([
      { role: 'system', content: 's' },
      { role: 'user', content: 'q' },
      { role: 'assistant', content: 'a' },
    ]);
  });

  it('loadTaskData reads label rows as before and instruction rows as InstructionExamples', async () => {
    const label = await loadTaskData({ data: join(DIR, '..', 'reviews.csv'), textColumn: 'text', labelColumn: 'label', labelMap: 'positive=1,negative=0', valSplit: 0, testSplit: 0, seed: 1 }, 'train');
    expect(label.kind).toBe('label');
    const alpaca = await loadTaskData({ data: join(DIR, 'alpaca.jsonl'), textColumn: 'review', labelColumn: 'sentiment', labelMap: 'a=1', valSplit: 1, testSplit: 0, seed: 1 }, 'train');
    expect(alpaca.kind).toBe('instruction');
    if (alpaca.kind === 'instruction') {
      expect(alpaca.data.format).toBe('alpaca');
      expect(alpaca.data.train.length + alpaca.data.val.length).toBe(4);
      expect(alpaca.data.val).toHaveLength(1);
      expect(alpaca.data.skipped.map((s) => s.reason)).toEqual(['empty output']);
    }
  });
});

describe('the label path and instruction data', () => {
  it('loadLabelledData names the instruction format instead of a missing text column', async () => {
    const o = { data: join(DIR, 'messages.parquet'), textColumn: 'review', labelColumn: 'sentiment', labelMap: 'positive=1,negative=0', valSplit: 0, testSplit: 0, seed: 1 };
    await expect(loadLabelledData(o, 'eval')).rejects.toThrow(/messages.parquet holds messages rows \(instruction data\), not text \+ label rows/);
    await expect(loadLabelledData({ ...o, format: 'label' }, 'eval')).rejects.toThrow(/--text-column "review" is not a column/);
  });
});

describe('user instruction templates', () => {
  it('named placeholders, any column, literal braces, and the response from {output} on', () => {
    const t = parseInstructionTemplate('t', '[{topic}] {{Q}} {instruction}\n\nInput: {input}\n\nA: {output} <end>');
    expect(t.fields).toEqual(['topic', 'instruction', 'input', 'output']);
    expect(t.render({ topic: 'math', instruction: 'add', input: '1 2', output: '3' })).toEqual({ prompt: '[math] {Q} add\n\nInput: 1 2\n\nA: ', response: '3 <end>' });
    expect(t.render({ topic: 'math', instruction: 'add', input: ' ', output: '3' })).toEqual({ prompt: '[math] {Q} add\n\nA: ', response: '3 <end>' });
  });

  it('{completion} marks the response as {output} does', () => {
    expect(parseInstructionTemplate('t', 'Q: {prompt}\nA:{completion}!').render({ prompt: 'p', completion: ' c', output: ' c' })).toEqual({ prompt: 'Q: p\nA:', response: ' c!' });
    expect(() => parseInstructionTemplate('t', '{output}{completion}')).toThrow(/more than one \{output\} \(or \{completion\}\)/);
  });

  it('a template without {output} is all prompt; the output follows it', () => {
    expect(parseInstructionTemplate('t', 'Q: {instruction}\nA:').render({ instruction: 'x', output: 'y' })).toEqual({ prompt: 'Q: x\nA:', response: 'y' });
  });

  it('errors name the template and the bad placeholder', () => {
    expect(() => parseInstructionTemplate('f.txt', 'Q: {instr uction}')).toThrow(/Template f.txt: unexpected '\{' at offset 3/);
    expect(() => parseInstructionTemplate('f.txt', '{output}{output}')).toThrow(/more than one \{output\}/);
    expect(() => parseInstructionTemplate('f.txt', 'no placeholder')).toThrow(/no placeholder/);
    expect(() => parseInstructionTemplate('f.txt', '{input} {output}')).toThrow(/paragraph holding \{input\} also holds \{output\}/);
    expect(() => parseInstructionTemplate('f.txt', '{topic}: {output}').render({ output: 'o', instruction: 'i' })).toThrow(/\{topic\} names no field of the row; it has \{output\}, \{instruction\}/);
    expect(() => resolveInstructionTemplate('/nonexistent/t.txt')).toThrow(/neither a builtin instruction template \(alpaca\) nor a file/);
  });
});
