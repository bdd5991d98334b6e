// --folds N --fold I (src/data/kfold.ts): per-class fold counts equal scikit-learn's
// StratifiedKFold (scripts/reference/make_classify_metric_fixtures.py), the split is a function
// of (rows, seed, folds), every row is held out exactly once, and eval reproduces train's split.
import { readFileSync } from 'node:fs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyFolds, stratifiedFoldOf, stratifiedKFold } from '../../src/data/kfold.js';
import { loadLabelledData } from '../../src/api/dataset.js';

interface KFoldCase {
  name: string;
  labels: string[];
  folds: number;
  classes: string[];
  counts: number[][];
}
const fixture = JSON.parse(readFileSync(new URL('../fixtures/classify-metrics/kfold.json', import.meta.url), 'utf8')) as { cases: KFoldCase[] };
const self = (s: string) => s;

describe('stratified k-fold', () => {
  for (const c of fixture.cases) {
    it(`per-class fold counts equal StratifiedKFold's: ${c.name}`, () => {
      for (const seed of [0, 3407]) {
        const foldOf = stratifiedFoldOf(c.labels, self, { folds: c.folds, seed });
        const counts = Array.from({ length: c.folds }, (_, f) => c.classes.map((cls) => c.labels.filter((l, i) => l === cls && foldOf[i] === f).length));
        expect(counts).toEqual(c.counts);
      }
    });
  }

  it('holds out every row exactly once over the folds, and depends only on the seed', () => {
    const rows = fixture.cases[1]?.labels.map((label, id) => ({ id, label })) ?? [];
    const seen = new Set<number>();
    for (let fold = 0; fold < 5; fold++) {
      const a = stratifiedKFold(rows, (r) => r.label, { folds: 5, fold, seed: 7 });
      const b = stratifiedKFold(rows, (r) => r.label, { folds: 5, fold, seed: 7 });
      expect(a).toEqual(b);
      expect(a.train.length + a.heldOut.length).toBe(rows.length);
      for (const r of a.heldOut) {
        expect(seen.has(r.id)).toBe(false);
        seen.add(r.id);
      }
    }
    expect(seen.size).toBe(rows.length);
    const other = stratifiedKFold(rows, (r) => r.label, { folds: 5, fold: 0, seed: 8 });
    expect(other.heldOut.map((r) => r.id)).not.toEqual(stratifiedKFold(rows, (r) => r.label, { folds: 5, fold: 0, seed: 7 }).heldOut.map((r) => r.id));
  });

  it('refuses bad fold options naming them', () => {
    expect(() => stratifiedKFold(['a', 'b', 'a'], self, { folds: 1, fold: 0, seed: 0 })).toThrow(/--folds/);
    expect(() => stratifiedKFold(['a', 'b', 'a'], self, { folds: 2, fold: 2, seed: 0 })).toThrow(/\[0, 1\] for --fold/);
    expect(() => stratifiedKFold(['a', 'b'], self, { folds: 3, fold: 0, seed: 0 })).toThrow(/at least 3 rows/);
    expect(() => applyFolds({ train: ['a', 'b'], val: [], test: [] }, self, { folds: 2, fold: 0, seed: 0, valSplit: 0.1 })).toThrow(/--val-split 0.1 and --folds 2/);
  });

  it('train and eval load the same held-out fold from the same options', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nq-kfold-'));
    const file = join(dir, 'rows.csv');
    const lines = ['review,sentiment', ...Array.from({ length: 47 }, (_, i) => `text number ${i},${i % 3 === 0 ? 'negative' : 'positive'}`)];
    writeFileSync(file, `${lines.join('\n')}\n`);
    const o = { data: file, textColumn: 'review', labelColumn: 'sentiment', labelMap: 'positive=1,negative=0', valSplit: 0, testSplit: 5, seed: 11, folds: 4, fold: 2 };
    const forTrain = await loadLabelledData(o, 'train');
    const forEval = await loadLabelledData(o, 'eval');
    expect(forEval.val).toEqual(forTrain.val);
    expect(forEval.train).toEqual(forTrain.train);
    expect(forTrain.test).toHaveLength(5);
    expect(forTrain.val.length + forTrain.train.length).toBe(42);
    // stratified: the held-out fold's negatives are a quarter of the non-test negatives (floor or ceil)
    const negatives = [...forTrain.train, ...forTrain.val].filter((e) => e.label === 'negative').length;
    const held = forTrain.val.filter((e) => e.label === 'negative').length;
    expect([Math.floor(negatives / 4), Math.ceil(negatives / 4)]).toContain(held);
    const noFolds = await loadLabelledData({ ...o, folds: undefined, fold: undefined }, 'train');
    expect(noFolds.val).toHaveLength(0);
    expect(noFolds.test).toEqual(forTrain.test);
  });
});
