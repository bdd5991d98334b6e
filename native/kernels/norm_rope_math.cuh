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

}  // namespace nq::kernels::detail
