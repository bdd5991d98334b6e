// The arithmetic that RMSNorm's output and the rotary embedding do per element, and how a norm's
// row is split among threads: shared by the kernels that apply them (rms_norm.cu, rope.cu and
// the fused decoding step of decode_qkv.cu), so that a fused kernel gives the same bits as the
// separate ones. Not a kernel itself.
#pragma once
#include "kernels/kernel_util.cuh"

namespace nq::kernels::detail {

// Threads of an RMSNorm block; a row plan's group of this size means "the whole block".
constexpr int kNormThreads = 256;

// RMSNorm's output element before its final rounding to T (transformers' roundings):
//   weightPlusOne false: float(weight) * float(round(x * rstd)); true: x * rstd * (1 + weight).
// __fmul_rn: never contracted, so the products round exactly as ATen's separate ops do.
template <typename T>
__device__ __forceinline__ float rmsNormScale(float x, float rstd, float w, bool plusOne) {
  return plusOne ? __fmul_rn(__fmul_rn(x, rstd), 1.0f + w) : __fmul_rn(w, roundTo<T>(__fmul_rn(x, rstd)));
}

// RMSNorm's 1 / sqrt(mean of the squares + eps) from the sum of the squares of n elements: 1 /
// sqrtf, both correctly rounded (rsqrtf is an approximation off by up to 2 ulp).
__device__ __forceinline__ float rmsNormRstd(float sumSquares, int64_t n, float eps) {
  return 1.0f / sqrtf(sumSquares / static_cast<float>(n) + eps);
}

// The rotary embedding of the pair (a = x[i], b = x[i + half]) before the final rounding to T:
// lo = round(a * cos[i]) + round(-b * sin[i]), hi = round(b * cos[i + half]) + round(a * sin[i + half])
// (transformers' bf16 `q * cos + rotate_half(q) * sin`, each product rounded).
template <typename T>
__device__ __forceinline__ void ropeRotate(float a, float b, float c1, float c2, float s1, float s2, float& lo,
                                           float& hi) {
  lo = __fadd_rn(roundTo<T>(__fmul_rn(a, c1)), roundTo<T>(__fmul_rn(-b, s1)));
  hi = __fadd_rn(roundTo<T>(__fmul_rn(b, c2)), roundTo<T>(__fmul_rn(a, s2)));
}

// How an RMSNorm row of C elements is split among threads: V elements per access (vector: 16
// bytes), G threads per row. The order in which a row's squares are summed follows from it, so
// every kernel that must match rmsNormForward's rstd bit for bit plans its rows here.
struct RowPlan {
  bool vector;  // 16-byte accesses
  int group;    // 8, 32 or kNormThreads
};

inline RowPlan planRows(int64_t C, int64_t vecElems, bool aligned) {
  const bool vector = aligned && C % vecElems == 0;
  const int64_t accesses = vector ? C / vecElems : C;
  // A thread should do a few accesses per pass, and a group should not idle: 8 threads for up
  // to 16 accesses (C = 64..128 bf16), a warp for up to 256, the block beyond.
  const int group = accesses <= 16 ? 8 : accesses <= 256 ? 32 : kNormThreads;
  return {vector, group};
}

// A norm weight as the kernels read it, checked against the rows it scales (x: their dtype and
// device; C elements): x's dtype T, or fp32 (a gemma weight of a third dtype is converted once:
// C elements, negligible next to the rows). `name` is the argument's name in the messages.
inline at::Tensor normWeight(const at::Tensor& weight, const char* name, const at::Tensor& x, int64_t C, bool plusOne,
                             const char* fn) {
  TORCH_CHECK(weight.defined() && weight.is_cuda() && weight.device() == x.device(), fn, ": ", name,
              " must be a CUDA tensor on ", x.device());
  TORCH_CHECK(weight.numel() == C, fn, ": ", name, " must have ", C, " elements, got shape ", weight.sizes());
  if (!plusOne) {
    TORCH_CHECK(weight.scalar_type() == x.scalar_type(), fn, ": ", name, " must have the dtype ", x.scalar_type(),
                " (transformers multiplies in that dtype), got ", weight.scalar_type());
    return weight.contiguous();
  }
  const at::ScalarType wt = weight.scalar_type();
  TORCH_CHECK(wt == at::kFloat || wt == at::kBFloat16 || wt == at::kHalf, fn, ": ", name,
              " must be float32, bfloat16 or float16, got ", wt);
  return (wt == x.scalar_type() ? weight : weight.to(at::kFloat)).contiguous();
}

}  // namespace nq::kernels::detail
