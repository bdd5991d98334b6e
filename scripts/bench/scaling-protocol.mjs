// The scaling benchmark's protocol (scaling-ours.mjs; anchor.py's scaling phase holds the same
// numbers and the same generator): LoRA settings, the batch at each length, and the token ids.
export const SCALING_PROTOCOL = { loraR: 16, loraAlpha: 32, loraTargets: ['q_proj', 'k_proj', 'v_proj'], masked: 64, lr: 1e-4, tokensPerStep: 8192 };

/** Rows per step at sequence length `len`: 8,192 tokens a step up to 8,192, then one row. */
export const scalingBatch = (len) => Math.max(1, Math.floor(SCALING_PROTOCOL.tokensPerStep / len));

/**
 * The token ids of the step at length `len`: scalingBatch(len) rows from a 32-bit LCG
 * (Numerical Recipes' constants) seeded with `len`, each id the state's top bits mod vocab.
 */
export function scalingRows(len, vocab) {
  let state = len >>> 0;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state >>> 8) % vocab;
  };
  return Array.from({ length: scalingBatch(len) }, () => Array.from({ length: len }, next));
}
