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

  // positions: (...) int64. Returns cos, sin: (..., rotaryDim) in `dtype` on positions' device,
  // computed once per forward and shared by every layer with this spec. longrope picks its long
  // factors when max(positions) + 1 exceeds the original context, per call, as transformers'
  // dynamic update does.
  std::pair<at::Tensor, at::Tensor> table(const at::Tensor& positions, at::ScalarType dtype) const;

  // x: (..., heads, headDim) token-major, cos/sin (..., rotaryDim) from table() for the same
  // leading dims. Rotates the first rotaryDim dims of every head (x * cos + rotate_half(x) * sin,
  // rounded as transformers rounds it), passes the rest through. Returns a new tensor.
  at::Tensor apply(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) const;
  // The gradient of apply: dy -> dx (the transposed rotation).
  at::Tensor applyBackward(const at::Tensor& dy, const at::Tensor& cos, const at::Tensor& sin) const;

  int64_t rotaryDim() const { return spec_.rotaryDim; }
  const RopeSpec& spec() const { return spec_; }

 private:
  RopeSpec spec_;
  at::Tensor invFreq_;      // (rotaryDim / 2) fp32, CPU
  at::Tensor longInvFreq_;  // longrope only
  // The same on the device last asked for: a host-to-device copy per call cannot be captured in
  // a CUDA graph, and costs a sync-free but needless transfer per forward.
  mutable at::Tensor deviceInvFreq_, deviceLongInvFreq_;
};

// The ATen reference of Rope::apply / applyBackward (x token-major, cos/sin broadcast over heads).
at::Tensor ropeApplyReference(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, int64_t rotaryDim,
                              bool inverse);

bool sameRope(const RopeSpec& a, const RopeSpec& b);

}  // namespace nq
