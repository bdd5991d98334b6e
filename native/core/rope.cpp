// See rope.h. Every step mirrors transformers' fp32 arithmetic so that cos/sin match bit for bit.
#include "core/rope.h"

#include <cmath>

#include "core/errors.h"

#ifdef NQ_WITH_CUDA
#include "kernels/kernels.h"
#endif

namespace nq {

namespace {
// `c / tensor` as Python evaluates it (reciprocal, then multiply): C++'s Scalar / Tensor is a
// single division and can differ in the last bit.
at::Tensor rdiv(double c, const at::Tensor& t) { return t.reciprocal() * c; }

// 1 / (base ** (arange(0, dim, 2) / dim)) in fp32, as _compute_default_rope_parameters.
at::Tensor baseExponents(int64_t dim) {
  return at::arange(0, dim, 2, at::kLong).to(at::kFloat) / static_cast<double>(dim);
}

at::Tensor defaultInvFreq(double theta, int64_t dim) {
  return rdiv(1.0, at::pow(theta, baseExponents(dim)));
}

at::Tensor llama3InvFreq(const RopeSpec& s) {
  at::Tensor invFreq = defaultInvFreq(s.theta, s.rotaryDim);
  const double oldContext = static_cast<double>(s.originalMaxPositionEmbeddings);
  const double lowFreqWavelen = oldContext / s.lowFreqFactor;
  const double highFreqWavelen = oldContext / s.highFreqFactor;
  at::Tensor wavelen = rdiv(2 * M_PI, invFreq);
  at::Tensor scaled = at::where(wavelen > lowFreqWavelen, invFreq / s.factor, invFreq);
  at::Tensor smooth = (rdiv(oldContext, wavelen) - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
  at::Tensor smoothed = (1 - smooth) * scaled / s.factor + smooth * scaled;
  at::Tensor isMedium = (wavelen < highFreqWavelen).logical_not() & (wavelen > lowFreqWavelen).logical_not();
  return at::where(isMedium, smoothed, scaled);
}

at::Tensor longropeInvFreq(const RopeSpec& s, const std::vector<double>& factors) {
  if (static_cast<int64_t>(factors.size()) != s.rotaryDim / 2) {
    throw Error("CONFIG_INVALID", "longrope factor lists must have rotary_dim / 2 = " +
                                      std::to_string(s.rotaryDim / 2) + " entries, got " +
                                      std::to_string(factors.size()));
  }
  at::Tensor ext = at::tensor(std::vector<float>(factors.begin(), factors.end()), at::kFloat);
  return rdiv(1.0, ext * at::pow(s.theta, baseExponents(s.rotaryDim)));
}
}  // namespace

Rope::Rope(const RopeSpec& spec) : spec_(spec) {
  if (spec.rotaryDim <= 0 || spec.rotaryDim % 2 != 0) {
    throw Error("CONFIG_INVALID", "rotary dimension must be a positive even number, got " +
                                      std::to_string(spec.rotaryDim));
  }
  switch (spec.type) {
    case RopeType::Default:
      invFreq_ = defaultInvFreq(spec.theta, spec.rotaryDim);
      break;
    case RopeType::Linear:
      invFreq_ = defaultInvFreq(spec.theta, spec.rotaryDim) / spec.factor;
      break;
    case RopeType::Llama3:
      invFreq_ = llama3InvFreq(spec);
      break;
    case RopeType::LongRope:
      invFreq_ = longropeInvFreq(spec, spec.shortFactor);
      longInvFreq_ = longropeInvFreq(spec, spec.longFactor);
      break;
  }
}

std::pair<at::Tensor, at::Tensor> Rope::table(const at::Tensor& positions, at::ScalarType dtype) const {
  bool useLong = false;
  if (spec_.type == RopeType::LongRope) {
    const int64_t seqLen = positions.max().item<int64_t>() + 1;
    useLong = seqLen > spec_.originalMaxPositionEmbeddings;
  }
  at::Tensor& cached = useLong ? deviceLongInvFreq_ : deviceInvFreq_;
  if (!cached.defined() || cached.device() != positions.device()) {
    cached = (useLong ? longInvFreq_ : invFreq_).to(positions.device());
  }
  const at::Tensor& invFreq = cached;
  at::Tensor freqs = positions.unsqueeze(-1).to(at::kFloat) * invFreq;  // (..., rot/2)
  at::Tensor emb = at::cat({freqs, freqs}, -1);
  at::Tensor cos = emb.cos(), sin = emb.sin();
  if (spec_.attentionScaling != 1.0) {
    cos = cos * spec_.attentionScaling;
    sin = sin * spec_.attentionScaling;
  }
  return {cos.to(dtype).contiguous(), sin.to(dtype).contiguous()};
}

namespace {
// rotate_half: (x1, x2) -> (-x2, x1); its transpose: (z1, z2) -> (z2, -z1).
at::Tensor rotateHalf(const at::Tensor& x, bool transposed) {
  const int64_t half = x.size(-1) / 2;
  if (transposed) return at::cat({x.slice(-1, half), x.slice(-1, 0, half).neg()}, -1);
  return at::cat({x.slice(-1, half).neg(), x.slice(-1, 0, half)}, -1);
}
}  // namespace

at::Tensor ropeApplyReference(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, int64_t rotaryDim,
                              bool inverse) {
  at::Tensor c = cos.unsqueeze(-2), s = sin.unsqueeze(-2);  // broadcast over heads
  auto rotate = [&](const at::Tensor& r) {
    return inverse ? r * c + rotateHalf(r * s, /*transposed=*/true) : r * c + rotateHalf(r, false) * s;
  };
  if (rotaryDim == x.size(-1)) return rotate(x);
  return at::cat({rotate(x.slice(-1, 0, rotaryDim)), x.slice(-1, rotaryDim)}, -1);
}

namespace {
at::Tensor ropeDispatch(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, int64_t rotaryDim, bool inverse) {
#ifdef NQ_WITH_CUDA
  if (x.is_cuda() && x.dim() >= 2) {
    const int64_t H = x.size(-2), D = x.size(-1);
    // The kernel takes (N, heads, D) with unit dim stride, head stride D and any token stride.
    at::Tensor x3 = x.stride(-1) == 1 && x.stride(-2) == D ? x.reshape({-1, H, D}) : x.contiguous().view({-1, H, D});
    at::Tensor out = kernels::ropeApply(x3, cos.reshape({-1, rotaryDim}).contiguous(),
                                        sin.reshape({-1, rotaryDim}).contiguous(), rotaryDim, inverse);
    return out.view(x.sizes());
  }
#endif
  return ropeApplyReference(x, cos, sin, rotaryDim, inverse);
}
}  // namespace

at::Tensor Rope::apply(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) const {
  return ropeDispatch(x, cos, sin, spec_.rotaryDim, false);
}

at::Tensor Rope::applyBackward(const at::Tensor& dy, const at::Tensor& cos, const at::Tensor& sin) const {
  return ropeDispatch(dy, cos, sin, spec_.rotaryDim, true);
}

bool sameRope(const RopeSpec& a, const RopeSpec& b) {
  return a.type == b.type && a.theta == b.theta && a.rotaryDim == b.rotaryDim && a.factor == b.factor &&
         a.lowFreqFactor == b.lowFreqFactor && a.highFreqFactor == b.highFreqFactor &&
         a.originalMaxPositionEmbeddings == b.originalMaxPositionEmbeddings && a.shortFactor == b.shortFactor &&
         a.longFactor == b.longFactor && a.attentionScaling == b.attentionScaling;
}

}  // namespace nq
