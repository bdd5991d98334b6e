// Causal-LM cross-entropy over a model's final hidden states without materializing fp32
// logits for the whole batch: logits are formed a chunk of positions at a time, each chunk's
// loss is differentiated at once into its slice of the hidden-state gradient, and the caller
// backpropagates that gradient through the model once.
// Numerics per chunk follow transformers' ForCausalLMLoss: logits (soft-capped in the compute
// dtype when the model caps them) -> fp32 -> per-position cross-entropy, summed in fp64.
// Not here: the causal shift and the choice of positions (the caller passes only positions
// whose shifted label is a real token), normalization policy (the caller's gradScale).
//
// Shapes: N selected positions, C hidden size, V vocab.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>

namespace nq {

struct ChunkedLoss {
  double lossSum = 0.0;  // sum of the per-position cross-entropies
  at::Tensor gradHidden;  // (N, C) in the hidden dtype: d(lossSum * gradScale) / d hidden
};

// hidden (N, C) final-normed hidden states (any grad state; treated as a constant);
// labels (N) int64, each in [0, V); lmHead (V, C); softcap > 0 applies tanh soft-capping;
// chunkRows positions per chunk (>= 1).
ChunkedLoss chunkedCrossEntropy(const at::Tensor& hidden, const at::Tensor& labels, const at::Tensor& lmHead,
                                double softcap, double gradScale, int64_t chunkRows);

// Positions per chunk so one chunk's fp32 logits stay near 2^25 elements (128 MiB).
int64_t defaultLossChunkRows(int64_t vocabSize);

}  // namespace nq
