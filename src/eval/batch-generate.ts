// Generation (greedy, or sampled with a seed) over many prompts in batches: prompts are grouped by length (longest
// first, so the first batch shows at once whether memory suffices and padding stays small),
// generated left-padded by the engine, and returned in input order as decoded text.
import type { GenerateOptions, Model } from '../engine/model.js';
import { ErrorCode, SftError } from '../errors.js';
import type { Tokenizer } from '../tokenize/tokenizer.js';

export interface BatchGenerateOptions {
  batchSize: number;
  maxNewTokens: number;
  /** Sampling (temperature, topK, topP, seed) and the stop ids; absent: greedy, the model's EOS ids. */
  generate?: Omit<GenerateOptions, 'maxNewTokens'>;
  /** Called after each batch with prompts done so far and the total. */
  onBatch?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface GeneratedText {
  ids: number[];
  /** New tokens decoded with special tokens skipped. */
  text: string;
}

export async function generateBatched(
  model: Model,
  tokenizer: Tokenizer,
  prompts: readonly number[][],
  o: BatchGenerateOptions,
): Promise<GeneratedText[]> {
  const order = prompts.map((_, i) => i).sort((a, b) => (prompts[b] as number[]).length - (prompts[a] as number[]).length || a - b);
  const out = new Array<GeneratedText>(prompts.length);
  for (let start = 0; start < order.length; start += o.batchSize) {
    if (o.signal?.aborted) throw new SftError(`evaluation stopped after ${start} of ${order.length} prompts (aborted)`, ErrorCode.Aborted);
    const indices = order.slice(start, start + o.batchSize);
    const generated = await model.generate(
      indices.map((i) => prompts[i] as number[]),
      { ...o.generate, maxNewTokens: o.maxNewTokens },
    );
    const texts = await tokenizer.decodeBatch(generated, { skipSpecialTokens: true });
    indices.forEach((i, j) => {
      out[i] = { ids: generated[j] as number[], text: texts[j] as string };
    });
    o.onBatch?.(Math.min(start + o.batchSize, order.length), order.length);
  }
  return out;
}
