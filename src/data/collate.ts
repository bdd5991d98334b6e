// Turns tokenized examples into a training batch: right-padded ids, an attention mask and
// labels with -100 wherever no loss is taken (prompt tokens unless trained on, padding).
import { ErrorCode, SftError } from '../errors.js';

export const IGNORE_INDEX = -100;

export interface TokenizedExample {
  /** Token ids of the whole example (prompt + response, the response ending in EOS). */
  ids: number[];
  /** Same length as ids: the target id where loss is taken, IGNORE_INDEX elsewhere. */
  labels: number[];
}

export interface Batch {
  ids: number[][];
  attentionMask: number[][];
  labels: number[][];
}

/** An example whose loss covers only the response (the prompt is masked with -100). */
export function promptResponseExample(promptIds: number[], responseIds: number[], trainOnPrompt = false): TokenizedExample {
  return {
    ids: [...promptIds, ...responseIds],
    labels: [...(trainOnPrompt ? promptIds : promptIds.map(() => IGNORE_INDEX)), ...responseIds],
  };
}

export function collate(examples: TokenizedExample[], padTokenId: number): Batch {
  if (examples.length === 0) throw new SftError('collate: no examples', ErrorCode.InvalidArgument);
  const width = Math.max(...examples.map((e) => e.ids.length));
  const batch: Batch = { ids: [], attentionMask: [], labels: [] };
  examples.forEach((e, i) => {
    if (e.ids.length !== e.labels.length) {
      throw new SftError(`collate: example ${i} has ${e.ids.length} ids but ${e.labels.length} labels`, ErrorCode.InvalidArgument);
    }
    const pad = width - e.ids.length;
    batch.ids.push([...e.ids, ...Array<number>(pad).fill(padTokenId)]);
    batch.attentionMask.push([...e.ids.map(() => 1), ...Array<number>(pad).fill(0)]);
    batch.labels.push([...e.labels, ...Array<number>(pad).fill(IGNORE_INDEX)]);
  });
  return batch;
}

/** Loss-bearing targets of a batch: label t is predicted from position t - 1 (the causal shift). */
export function countTargets(batch: Batch): number {
  let n = 0;
  for (const row of batch.labels) for (let t = 1; t < row.length; t++) if (row[t] !== IGNORE_INDEX) n++;
  return n;
}
