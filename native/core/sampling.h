// Sampling policy for decoding: transformers' logits warpers (temperature, then top-k, then
// top-p, in the order its generate() applies them) and one draw per row from the warped
// distribution. The draw is an inverse-CDF lookup with a uniform from a counter-based generator
// keyed by (row seed, step), so a row's text depends on its seed and logits only: never on the
// batch it shares or its place in it. Not here: the decode loop (generate.cpp).
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace nq {

struct SamplingOptions {
  double temperature = 1.0;  // > 0; logits are divided by it
  int64_t topK = 0;          // 0: off; else keep the tokens whose logit is >= the k-th largest
  double topP = 1.0;         // in (0, 1]; 1: off; else keep the smallest top set of mass >= topP
};

// (B, V) float logits -> the same with filtered tokens at -inf (transformers' warpers, with a
// stable sort where top-p orders the tokens).
at::Tensor warpLogits(const at::Tensor& logits, const SamplingOptions& options);

// (B, steps) float64 uniforms in (0, 1): entry (b, t) depends only on seeds[b] and t.
at::Tensor samplingUniforms(const std::vector<uint64_t>& seeds, int64_t steps, at::Device device);

// One token per row from softmax(warped): the first token whose cumulative probability
// reaches u (B) times the total, so a token of probability 0 is never drawn.
at::Tensor sampleTokens(const at::Tensor& warped, const at::Tensor& u);

}  // namespace nq
