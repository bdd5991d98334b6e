// packBatch and the typed-array forms of token rows (src/data/pack.ts): what the native engine
// receives for training, logits and generation.
import { describe, expect, it } from 'vitest';
import { collate, countTargets, IGNORE_INDEX, promptResponseExample } from '../../src/data/collate.js';
import { countPackedTargets, isPackedBatch, packBatch, packRows, tokenMatrix, unpackRows } from '../../src/data/pack.js';

const I = IGNORE_INDEX;

describe('packBatch', () => {
  it('keeps each row\'s tokens where the mask is 1, in order, with their labels and lengths', () => {
    const packed = packBatch({
      ids: [
        [5, 6, 7, 0],
        [8, 9, 0, 0],
        [1, 2, 3, 4],
      ],
      attentionMask: [
        [1, 1, 1, 0],
        [1, 1, 0, 0],
        [1, 1, 1, 1],
      ],
      labels: [
        [I, 6, 7, I],
        [I, 9, I, I],
        [I, I, 3, 4],
      ],
    });
    expect(Array.from(packed.ids)).toEqual([5, 6, 7, 8, 9, 1, 2, 3, 4]);
    expect(Array.from(packed.labels)).toEqual([I, 6, 7, I, 9, I, I, 3, 4]);
    expect(Array.from(packed.seqLens)).toEqual([3, 2, 4]);
    expect(packed.ids).toBeInstanceOf(Int32Array);
    expect(isPackedBatch(packed)).toBe(true);
  });

  it('drops a row with no tokens and skips masked positions anywhere in a row', () => {
    const packed = packBatch({
      ids: [
        [0, 0, 0],
        [0, 4, 5],
      ],
      attentionMask: [
        [0, 0, 0],
        [0, 1, 1],
      ],
      labels: [
        [I, I, I],
        [I, I, 5],
      ],
    });
    expect(Array.from(packed.ids)).toEqual([4, 5]);
    expect(Array.from(packed.labels)).toEqual([I, 5]);
    expect(Array.from(packed.seqLens)).toEqual([2]);
  });

  it('gives collate()\'s batches the same target and input-token counts as the padded form', () => {
    const examples = [
      promptResponseExample([3, 4, 5], [6, 7, 2]),
      promptResponseExample([3], [9, 2]),
      promptResponseExample([3, 4, 5, 6, 7], [8, 2], true),
    ];
    const batch = collate(examples, 0);
    const packed = packBatch(batch);
    expect(isPackedBatch(batch)).toBe(false);
    expect(countPackedTargets(packed)).toBe(countTargets(batch));
    const inputTokens = batch.attentionMask.flat().reduce((a, b) => a + b, 0);
    expect(packed.ids.length).toBe(inputTokens);
    expect(Array.from(packed.seqLens)).toEqual(examples.map((e) => e.ids.length));
  });

  it('the first label of a sequence is no target: nothing before it in that sequence predicts it', () => {
    const packed = { ids: Int32Array.of(1, 2, 3, 4), labels: Int32Array.of(1, 2, 3, 4), seqLens: Int32Array.of(2, 2) };
    expect(countPackedTargets(packed)).toBe(2);
  });

  it('names the row or element at fault', () => {
    const good = { ids: [[1, 2]], attentionMask: [[1, 1]], labels: [[I, 2]] };
    expect(() => packBatch({ ...good, labels: [[I, 2, 3]] })).toThrow(/row 0 has 2 ids, 2 mask entries and 3 labels/);
    expect(() => packBatch({ ...good, attentionMask: [] })).toThrow(/ids has 1 rows, attentionMask 0/);
    expect(() => packBatch({ ...good, ids: [[1, 2.5]] })).toThrow(/ids\[0\]\[1\]: expected a token id .* but received 2\.5/);
    expect(() => packBatch({ ...good, labels: [[-1, 2]] })).toThrow(/labels\[0\]\[0\]: expected a token id \(an integer >= 0 or -100\)/);
    expect(() => packBatch({ ...good, ids: [[1, 2 ** 31]] })).toThrow(/ids\[0\]\[1\]/);
    let caught: unknown;
    try {
      packBatch({ ...good, ids: [[-3, 2]] });
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('ids[0][0]') });
  });
});

describe('token rows as typed arrays', () => {
  it('packRows and unpackRows are inverses, for rows of any length', () => {
    const rows = [[1, 2, 3], [4], [5, 6]];
    const packed = packRows(rows, 'ids');
    expect(Array.from(packed.ids)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(packed.seqLens)).toEqual([3, 1, 2]);
    expect(unpackRows(packed)).toEqual(rows);
    expect(() => packRows([[1], [2, -1]], 'prompts')).toThrow(/prompts\[1\]\[1\]/);
  });

  it('tokenMatrix takes equal rows and a mask of their shape', () => {
    const m = tokenMatrix([[1, 2], [3, 0]], [[1, 1], [1, 0]]);
    expect(Array.from(m.ids)).toEqual([1, 2, 3, 0]);
    expect(m.shape).toEqual([2, 2]);
    expect(Array.from(m.attentionMask!)).toEqual([1, 1, 1, 0]);
    expect(tokenMatrix([[7]]).attentionMask).toBeNull();
    expect(() => tokenMatrix([[1, 2, 3], [4]])).toThrow(/attentionMask.*sequence 1 has 1 tokens/);
    expect(() => tokenMatrix([[1, 2]], [[1]])).toThrow(/attentionMask: expected the shape of ids \(1 x 2\)/);
    expect(() => tokenMatrix([])).toThrow(/at least one sequence/);
  });
});
