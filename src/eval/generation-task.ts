// Open-ended generation scored against reference answers (sft eval --task generate): each
// held-out prompt is continued (greedy, or sampled with a seed) up to maxNewTokens, and the
// generations are scored with ROUGE-1/2/L/Lsum (rouge-score's, mean over examples) and corpus
// BLEU (sacrebleu's), as the seed's instruction-tuning experiment reports them.
// Not here: building the prompts (data/instruction-builder.ts) or the report files.
import type { Model } from '../engine/model.js';
import type { Tokenizer } from '../tokenize/tokenizer.js';
import { generateBatched, type BatchGenerateOptions } from './batch-generate.js';
import { corpusBleu, type BleuScore } from './text-metrics/bleu.js';
import { rouge, type RougeF } from './text-metrics/rouge.js';

export const GENERATION_METRICS = ['rouge', 'bleu'] as const;
export type GenerationMetric = (typeof GENERATION_METRICS)[number];

export interface GenerationMetrics {
  /** Rows generated and scored. */
  n: number;
  /** ROUGE F-measures in [0, 1], mean over the rows (with --metrics rouge). */
  rouge?: RougeF;
  /** Corpus BLEU (with --metrics bleu). */
  bleu?: BleuScore;
  /** New tokens generated (each row's through its EOS), and the wall time of the generation pass. */
  newTokens: number;
  seconds: number;
  newTokensPerSecond: number;
}

export interface GenerationPredictionLine {
  which: 'base' | 'adapter';
  file: string;
  row: number;
  /** The reference answer (the row's last assistant turn). */
  reference: string;
  /** The generation, decoded with special tokens skipped. */
  output: string;
  newTokens: number;
  /** This row's ROUGE F-measures (with --metrics rouge). */
  rouge?: RougeF;
}

export interface GenerationRow {
  file: string;
  row: number;
  reference: string;
}

/** The metrics of `outputs` against `references` (one each, in order). */
export function scoreGenerationTexts(outputs: readonly string[], references: readonly string[], metrics: readonly GenerationMetric[]): { rouge?: ReturnType<typeof rouge>; bleu?: BleuScore } {
  const r = metrics.includes('rouge') ? rouge(outputs, references) : undefined;
  const b = metrics.includes('bleu') ? corpusBleu(outputs, references) : undefined;
  return { ...(r ? { rouge: r } : {}), ...(b ? { bleu: b } : {}) };
}

/** Generates a continuation of every prompt and scores it against its row's reference. */
export async function scoreGenerations(
  model: Model,
  tokenizer: Tokenizer,
  prompts: readonly number[][],
  rows: readonly GenerationRow[],
  o: Omit<BatchGenerateOptions, 'onBatch'> & { metrics: readonly GenerationMetric[]; which: 'base' | 'adapter'; onBatch?: (done: number, total: number) => void },
): Promise<{ metrics: GenerationMetrics; predictions: GenerationPredictionLine[] }> {
  const started = performance.now();
  const generated = await generateBatched(model, tokenizer, prompts, o);
  const seconds = (performance.now() - started) / 1000;
  const outputs = generated.map((g) => g.text);
  const references = rows.map((r) => r.reference);
  const scores = scoreGenerationTexts(outputs, references, o.metrics);
  const newTokens = generated.reduce((sum, g) => sum + g.ids.length, 0);
  const predictions = rows.map((r, i) => ({
    which: o.which,
    file: r.file,
    row: r.row,
    reference: r.reference,
    output: outputs[i] as string,
    newTokens: (generated[i] as { ids: number[] }).ids.length,
    ...(scores.rouge ? { rouge: scores.rouge.perExample[i] as RougeF } : {}),
  }));
  const metrics: GenerationMetrics = {
    n: rows.length,
    ...(scores.rouge ? { rouge: { rouge1: scores.rouge.rouge1, rouge2: scores.rouge.rouge2, rougeL: scores.rouge.rougeL, rougeLsum: scores.rouge.rougeLsum } } : {}),
    ...(scores.bleu ? { bleu: scores.bleu } : {}),
    newTokens,
    seconds,
    newTokensPerSecond: seconds > 0 ? newTokens / seconds : 0,
  };
  return { metrics, predictions };
}
