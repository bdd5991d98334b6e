// Training batches: right padding, labels -100 on prompt and padding by position (so an EOS
// that shares its id with the pad token keeps its label), and the causal target count.
import { describe, expect, it } from 'vitest';
import { IGNORE_INDEX, collate, countTargets, promptResponseExample } from '../../src/data/collate.js';

const EOS = 2;

describe('collate', () => {
  it('right-pads, masks padding, and keeps the EOS label when pad == eos', () => {
    const a = promptResponseExample([5, 6, 7], [9, EOS]);
    const b = promptResponseExample([5], [8, 8, EOS]);
    const batch = collate([a, b], EOS);
    expect(batch.ids).toEqual([[5, 6, 7, 9, EOS], [5, 8, 8, EOS, EOS]]);
    expect(batch.attentionMask).toEqual([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]]);
    expect(batch.labels).toEqual([
      [IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, 9, EOS],
      [IGNORE_INDEX, 8, 8, EOS, IGNORE_INDEX],
    ]);
    expect(countTargets(batch)).toBe(2 + 3);
  });

  it('trains on the prompt when asked (the first token is never a target)', () => {
    const batch = collate([promptResponseExample([5, 6], [9], true)], 0);
    expect(batch.labels).toEqual([[5, 6, 9]]);
    expect(countTargets(batch)).toBe(2);
  });

  it('rejects mismatched ids and labels, naming the example', () => {
    expect(() => collate([{ ids: [1, 2], labels: [1] }], 0)).toThrow(/example 0/);
    expect(() => collate([], 0)).toThrow(/no examples/);
  });
});
