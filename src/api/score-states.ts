// The before/after of an evaluation, whatever the task scores: the base model first (when there
// is no adapter, or with compare), then the adapter loaded onto the same model and scored again;
// the model is disposed either way.
import { resolve } from 'node:path';
import type { Model } from './model.js';

export interface BeforeAfter<M, P> {
  base?: M;
  adapter?: M & { path: string };
  /** The base model's predictions, then the adapter's. */
  predictions: P[];
}

export async function scoreBeforeAfter<M, P>(
  model: Model,
  o: { adapter?: string | undefined; compare: boolean },
  score: (which: 'base' | 'adapter') => Promise<{ metrics: M; predictions: P[] }>,
): Promise<BeforeAfter<M, P>> {
  const out: BeforeAfter<M, P> = { predictions: [] };
  try {
    if (o.adapter === undefined || o.compare) {
      const base = await score('base');
      out.base = base.metrics;
      out.predictions.push(...base.predictions);
    }
    if (o.adapter !== undefined) {
      await model.loadAdapter(o.adapter);
      const tuned = await score('adapter');
      out.adapter = { ...tuned.metrics, path: resolve(o.adapter) };
      out.predictions.push(...tuned.predictions);
    }
  } finally {
    await model.dispose();
  }
  return out;
}
