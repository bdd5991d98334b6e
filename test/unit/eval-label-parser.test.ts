// The label parser against a table of model outputs, ordinary and adversarial.
import { describe, expect, it } from 'vitest';
import type { LabelClass } from '../../src/data/label-map.js';
import { answerText, createLabelParser, parseLabel } from '../../src/eval/label-parser.js';
import { ErrorCode } from '../../src/errors.js';
import { expectSftError } from '../helpers/errors.js';

const sentiment: LabelClass[] = [
  { name: 'positive', answer: '1' },
  { name: 'negative', answer: '0' },
];

// [output, expected class or null]
const cases: [string, string | null][] = [
  // digits
  ['1', 'positive'],
  ['0', 'negative'],
  [' 1\n', 'positive'],
  ['1.', 'positive'],
  ['0,', 'negative'],
  ['Answer: 1', 'positive'],
  ['answer:0', 'negative'],
  ['**1**', 'positive'],
  ["'0'", 'negative'],
  ['(1)', 'positive'],
  ['１', 'positive'], // full-width digit, NFKC
  // words, any case, in sentences
  ['positive', 'positive'],
  ['Positive', 'positive'],
  ['NEGATIVE', 'negative'],
  ['The sentiment is negative.', 'negative'],
  ['Sentiment: Positive!', 'positive'],
  ['positive-ish', 'positive'],
  // special tokens left by the decoder
  ['1<|im_end|>', 'positive'],
  ['<|im_start|>assistant\n0<|im_end|>', 'negative'],
  ['0<|eot_id|><|end_of_text|>', 'negative'],
  ['<start_of_turn>model\n1<end_of_turn>', 'positive'],
  ['1</s>', 'positive'],
  ['[INST]0[/INST]', 'negative'],
  // reasoning blocks
  ['<think>\n\n</think>\n\n1', 'positive'],
  ['<think>the review says 0 but</think> 1', 'positive'],
  ['<think>0</think><think>negative</think>positive', 'positive'],
  ['<THINK>0</THINK>1', 'positive'],
  ['<think>', null],
  ['<think>\n', null],
  ['<think>\n1', null], // still thinking: not an answer
  ['1 <think>', 'positive'],
  ['<think>1</think>', null],
  ['mulling it over 0 </think> 1', 'positive'], // template opened the block in the prompt
  // whole words only
  ['10', null],
  ['01', null],
  ['1st', null],
  ['x1', null],
  ['1_000', null],
  ['positively', null],
  ['negativity', null],
  ['unpositive', null],
  ['1.5', null],
  ['0.1', null],
  ['1,000', null],
  ['-1', null],
  ['\u22121', null], // U+2212 minus sign
  ['10 then 1', 'positive'], // "10" is skipped, the later whole "1" is found
  // first label wins
  ['1 (negative)', 'positive'],
  ['0 or 1', 'negative'],
  ['negative, not positive', 'negative'],
  ['positive 0', 'positive'],
  ['not positive', 'positive'], // negation is not understood (documented)
  // nothing usable
  ['', null],
  ['   \n', null],
  ['I cannot tell', null],
  ['<|im_end|>', null],
  ['neutral', null],
];

describe('parseLabel', () => {
  const parse = createLabelParser(sentiment);
  it.each(cases)('%j -> %s', (output, expected) => {
    expect(parse(output)).toBe(expected);
    expect(parseLabel(output, sentiment)).toBe(expected);
  });
});

describe('class sets', () => {
  it('recognizes word answers and multi-word aliases, longest alias at one position', () => {
    const classes: LabelClass[] = [
      { name: 'pos', answer: 'yes' },
      { name: 'neg', answer: 'no' },
    ];
    const parse = createLabelParser(classes, { aliases: { pos: ['very good', 'good'], neg: ['very  bad'] } });
    expect(parse('Yes.')).toBe('pos');
    expect(parse('nope')).toBeNull();
    expect(parse('very\nbad')).toBe('neg');
    expect(parse('Very good')).toBe('pos');
    expect(parse('good')).toBe('pos');
    expect(parse('no')).toBe('neg');
    expect(parse('neg')).toBe('neg'); // the class name is recognized too
  });

  it('lets answers win over names when a label map swaps them (1=0, 0=1)', () => {
    const swapped: LabelClass[] = [
      { name: '1', answer: '0' },
      { name: '0', answer: '1' },
    ];
    const parse = createLabelParser(swapped);
    expect(parse('1')).toBe('0');
    expect(parse('0')).toBe('1');
  });

  it('matches answers that start or end with punctuation', () => {
    const classes: LabelClass[] = [
      { name: 'up', answer: '+' },
      { name: 'down', answer: '-' },
    ];
    const parse = createLabelParser(classes);
    expect(parse(' + ')).toBe('up');
    expect(parse('a-b')).toBe('down');
    expect(parse('none')).toBeNull();
  });

  it('handles more than two classes and regex metacharacters in answers', () => {
    const classes: LabelClass[] = [
      { name: 'a', answer: 'A)' },
      { name: 'b', answer: 'B)' },
      { name: 'c', answer: '2' },
    ];
    const parse = createLabelParser(classes);
    expect(parse('b) is right')).toBe('b');
    expect(parse('A)')).toBe('a');
    expect(parse('option 2')).toBe('c');
    expect(parse('AB)')).toBeNull();
  });
});

describe('answerText', () => {
  it('removes special tokens and reasoning and folds case', () => {
    expect(answerText('<think>x</think>Positive<|im_end|>')).toBe(' positive ');
    expect(answerText('<think>\n1')).toBe('');
  });
});

describe('label parser arguments', () => {
  it('rejects an empty class list', () => {
    expectSftError(() => createLabelParser([]), ErrorCode.InvalidArgument, 'no classes');
  });
  it('rejects two classes with the same answer', () => {
    expectSftError(
      () => createLabelParser([{ name: 'positive', answer: '1' }, { name: 'negative', answer: ' 1' }]),
      ErrorCode.InvalidArgument,
      "answer ' 1'",
      'positive',
      'negative',
    );
  });
  it('rejects an empty answer', () => {
    expectSftError(() => createLabelParser([{ name: 'positive', answer: '  ' }]), ErrorCode.InvalidArgument, 'empty answer');
  });
  it('rejects aliases for an unknown class', () => {
    expectSftError(() => createLabelParser(sentiment, { aliases: { neutral: ['meh'] } }), ErrorCode.InvalidArgument, "'neutral'", 'positive, negative');
  });
  it('rejects one alias for two classes', () => {
    expectSftError(
      () => createLabelParser(sentiment, { aliases: { positive: ['ok'], negative: ['OK'] } }),
      ErrorCode.InvalidArgument,
      "alias 'OK'",
    );
  });
});
