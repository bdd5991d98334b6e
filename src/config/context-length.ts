// Sequence lengths checked against the model's context length (max_position_embeddings in
// config.json, ArchConfig.maxPositionEmbeddings) before anything is allocated for them: a
// prompt plus its new tokens must fit the positions the model was built for, or the KV cache
// and the attention scores grow with a length the model cannot use (a 100k-token prompt on a
// small model was killed by the kernel at 24 GB before this check).
import { ErrorCode, SftError } from '../errors.js';

/**
 * Refuses prompts whose length plus `maxNewTokens` exceeds `contextLength`, naming the first
 * such prompt (its index), its length and the limit.
 */
export function checkPromptsFitContext(promptLengths: readonly number[], maxNewTokens: number, contextLength: number, where = 'prompt'): void {
  const i = promptLengths.findIndex((n) => n + maxNewTokens > contextLength);
  if (i < 0) return;
  const n = promptLengths[i] as number;
  const index = promptLengths.length > 1 ? ` ${i}` : '';
  throw new SftError(
    `${where}${index} has ${n} tokens; with max-new-tokens ${maxNewTokens} that is ${n + maxNewTokens}, beyond the model's context length of ${contextLength} tokens (max_position_embeddings). ` +
      `Shorten the ${where} or lower --max-new-tokens to at most ${Math.max(0, contextLength - n)}`,
    ErrorCode.InvalidArgument,
  );
}

/**
 * max-seq-len for the rows of train / eval: a value beyond the model's context length is lowered
 * to that length (label rows' texts are then cut to fit it; instruction rows longer than it are
 * skipped); `note` says so when it happened.
 */
export function seqLenWithinContext(maxSeqLen: number, contextLength: number): { maxSeqLen: number; note?: string } {
  if (maxSeqLen <= contextLength) return { maxSeqLen };
  return {
    maxSeqLen: contextLength,
    note: `max-seq-len ${maxSeqLen} is beyond the model's context length (max_position_embeddings ${contextLength}); using ${contextLength} tokens instead (label rows' texts are cut to fit; longer instruction rows are skipped, each with its reason)`,
  };
}
