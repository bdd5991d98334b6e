// Classification metrics against scikit-learn (scripts/reference/make_classify_metric_fixtures.py):
// log_loss with its clip, accuracy, macro F1 and the confusion matrix, and our float64 softmax
// against scipy's.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { classifyScores, logLoss, macroF1, softmax } from '../../src/eval/classify-metrics.js';

interface MetricCase {
  name: string;
  numLabels: number;
  logits: number[][];
  truth: number[];
  probabilities: number[][];
  predicted: number[];
  logLoss: number;
  accuracy: number;
  macroF1: number;
  confusion: number[][];
}
const fixture = JSON.parse(readFileSync(new URL('../fixtures/classify-metrics/metrics.json', import.meta.url), 'utf8')) as { cases: MetricCase[] };

describe('classification metrics equal scikit-learn', () => {
  for (const c of fixture.cases) {
    it(c.name, () => {
      const ours = c.logits.map((row) => softmax(Float32Array.from(row)));
      ours.forEach((row, i) => row.forEach((p, k) => expect(p).toBeCloseTo((c.probabilities[i] as number[])[k] as number, 14)));
      // scikit-learn's numbers from scikit-learn's probabilities, and from ours
      expect(logLoss(c.truth, c.probabilities, c.numLabels)).toBeCloseTo(c.logLoss, 12);
      const scores = classifyScores(c.truth, ours, c.numLabels);
      expect(scores.logLoss).toBeCloseTo(c.logLoss, 10);
      expect(scores.predicted).toEqual(c.predicted);
      expect(scores.accuracy).toBeCloseTo(c.accuracy, 15);
      expect(scores.macroF1).toBeCloseTo(c.macroF1, 15);
      expect(scores.confusion).toEqual(c.confusion);
      expect(scores.n).toBe(c.truth.length);
    });
  }

  it('clips as log_loss does: a probability of 0 costs -ln(2^-52), not Infinity', () => {
    expect(logLoss([0], [[0, 1]], 2)).toBeCloseTo(52 * Math.LN2, 12);
    expect(logLoss([1], [[0, 1]], 2)).toBeGreaterThan(0);
  });

  it('leaves a class that is neither true nor predicted out of the macro mean', () => {
    // classes 0 and 1 perfect, class 2 absent: sklearn's default labels give 1, not 2/3
    expect(macroF1([0, 1], [0, 1], 3)).toBe(1);
  });

  it('names the bad input', () => {
    expect(() => logLoss([3], [[0.5, 0.5]], 2)).toThrow(/row 0 has true class 3/);
    expect(() => logLoss([0, 1], [[0.5, 0.5]], 2)).toThrow(/2 true labels but 1 probability rows/);
    expect(() => classifyScores([0], [[1, 0, 0]], 2)).toThrow(/3 probabilities, expected 2/);
  });
});
