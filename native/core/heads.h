// The sequence-classification head, as transformers' *ForSequenceClassification builds it: a
// `score` linear (numLabels x hidden, no bias) applied to the final-normed hidden state of each
// sequence's last real token. Held in fp32 (trainable, with the adapters); the hidden state is
// cast to fp32 before the product. The lm head is model.cpp's (logitsOf); the classification
// losses and their gradients are loss.h's.
//
// Shapes: B rows, T columns, S sequences, C hidden size, K labels.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>

namespace nq {

// (K, C) fp32 on `device`, normal(0, std) drawn from a CPU generator seeded with `seed`
// (transformers' _init_weights for a Linear: normal_(mean=0, std=initializer_range)).
at::Tensor makeScoreWeight(int64_t numLabels, int64_t hidden, double std, uint64_t seed, at::Device device);

// pooled (S, C) final-normed hidden states, any float dtype; weight (K, C) fp32 -> (S, K) fp32.
at::Tensor scoreForward(const at::Tensor& pooled, const at::Tensor& weight);

}  // namespace nq
