// Rotary position embeddings, computed as transformers does (modeling_rope_utils): fp32
// inverse frequencies per rope type, cos/sin = (position * inv_freq) duplicated over the two
// halves, times the attention scaling, cast to the compute dtype.
// Not here: which positions a token has (the model derives them from the attention mask).
#pragma once
#include <ATen/ATen.h>

#include "core/arch.h"

namespace nq {

class Rope {
 public:
  explicit Rope(const RopeSpec& spec);

  // positions: (B, T) int64. Returns cos, sin: (B, 1, T, rotaryDim) in `dtype` on positions'
  // device. longrope picks its long factors when max(positions) + 1 exceeds the original
  // context, per call, as transformers' dynamic update does.
  std::pair<at::Tensor, at::Tensor> cosSin(const at::Tensor& positions, at::ScalarType dtype) const;

  // x: (B, heads, T, headDim); rotates the first rotaryDim dims, passes the rest through.
  at::Tensor apply(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) const;

  int64_t rotaryDim() const { return spec_.rotaryDim; }

 private:
  RopeSpec spec_;
  at::Tensor invFreq_;      // (rotaryDim / 2) fp32, CPU
  at::Tensor longInvFreq_;  // longrope only
};

}  // namespace nq
