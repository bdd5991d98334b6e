// acc, resp_acc and the confusion matrix on a hand-computed example and edge cases.
import { describe, expect, it } from 'vitest';
import { computeMetrics } from '../../src/eval/metrics.js';
import { ErrorCode } from '../../src/errors.js';
import { expectSftError } from '../helpers/errors.js';

const classes = [
  { name: 'positive', answer: '1' },
  { name: 'negative', answer: '0' },
];

describe('computeMetrics', () => {
  it('matches a hand-computed example', () => {
    // 10 rows. True positive (6): 4 predicted positive, 1 negative, 1 invalid.
    // True negative (4): 1 predicted positive, 2 negative, 1 invalid.
    // correct = 4 + 2 = 6 -> acc 0.6; valid = 10 - 2 invalid = 8 -> resp_acc 0.8.
    const items = [
      ...Array.from({ length: 4 }, () => ({ label: 'positive', prediction: 'positive' })),
      { label: 'positive', prediction: 'negative' },
      { label: 'positive', prediction: null },
      { label: 'negative', prediction: 'positive' },
      { label: 'negative', prediction: 'negative' },
      { label: 'negative', prediction: 'negative' },
      { label: 'negative', prediction: null },
    ];
    const m = computeMetrics(items, classes, 1.5);
    expect(m).toEqual({
      n: 10,
      acc: 0.6,
      resp_acc: 0.8,
      correct: 6,
      valid: 8,
      confusion: {
        labels: ['positive', 'negative'],
        counts: [
          [4, 1, 1],
          [1, 2, 1],
        ],
      },
      seconds: 1.5,
    });
  });

  it('orders rows and columns by the classes given, with a class never seen', () => {
    const three = [...classes, { name: 'neutral', answer: '2' }];
    const m = computeMetrics(
      [
        { label: 'negative', prediction: 'negative' },
        { label: 'negative', prediction: null },
        { label: 'positive', prediction: 'negative' },
      ],
      three,
      0,
    );
    expect(m.confusion.labels).toEqual(['positive', 'negative', 'neutral']);
    expect(m.confusion.counts).toEqual([
      [0, 1, 0, 0],
      [0, 1, 0, 1],
      [0, 0, 0, 0],
    ]);
    expect(m.acc).toBeCloseTo(1 / 3, 15);
    expect(m.resp_acc).toBeCloseTo(2 / 3, 15);
  });

  it('returns zeros, not NaN, for no items', () => {
    const m = computeMetrics([], classes, 0);
    expect(m).toMatchObject({ n: 0, acc: 0, resp_acc: 0, correct: 0, valid: 0 });
    expect(m.confusion.counts).toEqual([
      [0, 0, 0],
      [0, 0, 0],
    ]);
  });

  it('rejects a label or prediction outside the classes, naming it', () => {
    expectSftError(() => computeMetrics([{ label: 'neutral', prediction: null }], classes, 0), ErrorCode.InvalidArgument, "'neutral'", 'item 0');
    expectSftError(
      () => computeMetrics([{ label: 'positive', prediction: 'positive' }, { label: 'positive', prediction: '1' }], classes, 0),
      ErrorCode.InvalidArgument,
      "prediction '1'",
      'item 1',
    );
  });

  it('rejects repeated class names', () => {
    expectSftError(() => computeMetrics([], [...classes, { name: 'positive', answer: '2' }], 0), ErrorCode.InvalidArgument, 'repeat');
  });
});
