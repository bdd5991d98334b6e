// The data and prompt settings an evaluation report records (eval.json's settings), the same for
// every task that scores label rows, so a report says which rows and prompts it scored.
import type { LabelClass } from '../data/label-map.js';
import type { ResolvedEvalOptions } from '../config/run-options.js';

export function labelDataSettings(o: ResolvedEvalOptions, template: string, labels: readonly LabelClass[]): Record<string, unknown> {
  return {
    maxSeqLen: o.maxSeqLen,
    template,
    chat: o.chat,
    labels,
    textColumn: o.textColumn,
    labelColumn: o.labelColumn,
    seed: o.seed,
    valSplit: o.valSplit,
    testSplit: o.testSplit,
    ...(o.folds !== undefined ? { folds: o.folds, fold: o.fold ?? 0 } : {}),
    ...(o.limit !== undefined ? { limit: o.limit } : {}),
  };
}
