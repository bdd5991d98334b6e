// The training losses. Classification (score head, R-Drop, SupCon): see the lower half.
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
#include <vector>

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

// --- Sequence classification (heads.h's score head) ---
// Per sequence i, over P passes of the same rows (P = 2 with R-Drop: independent dropout):
//   CE_i     = mean over passes of cross-entropy(score(pooled_p[i]), label_i)
//   KL_i     = (KL(P1 || P2) + KL(P2 || P1)) / 2 of the passes' softmaxes (R-Drop; 0 for P = 1)
//   SupCon_i = mean over passes of the supervised contrastive loss of anchor i (Khosla et al.,
//              one view): the features z = pooled / ||pooled|| of the S rows, and
//              -1/|P(i)| sum_{j in P(i)} log( exp(z_i.z_j / T) / sum_{k != i} exp(z_i.z_k / T) ),
//              P(i) the other rows with i's label; 0 when P(i) is empty (as HobbitLong's
//              SupConLoss with base_temperature = temperature)
//   loss_i   = (1 - supconWeight) CE_i + supconWeight SupCon_i + rdropAlpha KL_i
// (R-Drop alone: (CE1 + CE2) / 2 + alpha x the symmetric KL / 2, the paper's objective halved.)
struct ClassificationLossOptions {
  double rdropAlpha = 0.0;    // weight of KL_i; needs two passes
  double supconWeight = 0.0;  // in [0, 1]
  double supconTemperature = 0.0;  // > 0 when supconWeight > 0
};

struct ClassificationLoss {
  double lossSum = 0.0;                 // sum over sequences of loss_i
  std::vector<at::Tensor> gradPooled;   // per pass (S, C) in the pooled dtype: d(lossSum * gradScale) / d pooled_p
  at::Tensor gradWeight;                // (K, C) fp32
};

// pooled: one (S, C) tensor per pass (final-normed hidden states at each sequence's last token);
// weight (K, C) fp32; labels (S) int64 in [0, K). Math in fp32 with autograd; inputs are constants.
ClassificationLoss classificationLoss(const std::vector<at::Tensor>& pooled, const at::Tensor& weight,
                                      const at::Tensor& labels, const ClassificationLossOptions& options,
                                      double gradScale);

}  // namespace nq
