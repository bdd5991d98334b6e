// Attention of one decoding step (contract in kernels.h): for each query head, its scores over
// the whole cache, the softmax and the weighted sum of the values, in one launch. The separate
// path is three (a batched GEMM for the scores with the mask added, softmax, a batched GEMM for
// the values); at batch 1 each is a few microseconds of launch and latency.
//
// Numerics as the separate path rounds: score = round(scale * q.k + bias) (baddbmm's one
// rounding), p = round(exp(score - max) / sum) with max and sum in fp32 (softmax of a 16-bit
// input), out = round(sum_s p[s] * v[s]) in fp32. The sums run in this kernel's order (cuBLAS and
// the softmax kernel have their own), so a bit may differ from the separate path; a head's
// result does not depend on the batch it is in.
// Not here: the mask (the model's decodingBias) and the choice of when to call it
// (native/core/attention.cpp).
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include <cmath>

#include "kernels/kernel_util.cuh"
#include "kernels/pdl.cuh"
#include "kernels/kernels.h"

namespace nq::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kKeyLanes = 8;                           // lanes that share one key's dot product
constexpr int kKeysPerPass = kWarps * (32 / kKeyLanes);  // keys scored per pass of the block
constexpr int64_t kMaxKeys = 4096;

__device__ __forceinline__ float blockMax(float v, float* scratch) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float m = lane < kWarps ? scratch[lane] : -INFINITY;
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
  __syncthreads();
  return m;
}

// One block per (row, query head). NVK: 16-byte vectors of the head per lane in the score pass
// (D = kKeyLanes * NVK * V); EL = D / 32: elements per lane in the value pass.
template <typename T, int NVK>
__global__ void __launch_bounds__(kThreads)
    decodeAttentionKernel(const T* __restrict__ q, const T* __restrict__ keys, const T* __restrict__ values,
                          const T* __restrict__ bias, int64_t biasStride, int64_t H, int64_t KV, int64_t S, float scale,
                          T* __restrict__ out) {
  pdl::waitPrerequisites();  // launched overlapping the kernel before (pdl.cuh)
  pdl::allowDependents();
  constexpr int V = 16 / sizeof(T);
  constexpr int D = kKeyLanes * NVK * V;
  constexpr int EL = D / 32;
  extern __shared__ float sDynamic[];
  float* sScore = sDynamic;            // (S): scores, then probabilities
  float* sPart = sDynamic + S;         // (kWarps, D): each warp's share of the value sum
  __shared__ float scratch[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t bh = blockIdx.x, b = bh / H, h = bh - b * H, kvh = h / (H / KV);
  const int64_t kvRow = b * KV + kvh;
  const T* kb = keys + kvRow * S * D;
  const T* vb = values + kvRow * S * D;
  const T* biasRow = bias + kvRow * biasStride;

  // The value rows of this warp's first VB keys, loaded now (they depend on nothing): their
  // trip to memory overlaps the score pass. Kept raw, converted where used.
  constexpr int VB = 8;
  detail::Raw<EL, T> vraw[VB];
  auto loadValues = [&](int64_t s0) {
#pragma unroll
    for (int u = 0; u < VB; ++u) {
      const int64_t s = s0 + u * kWarps;
      if (s < S) detail::loadRaw<EL>(vb + s * D + lane * EL, false, vraw[u]);
    }
  };
  loadValues(warp);

  // Scores: the 8 lanes of a key each take NVK consecutive vectors of it; the keys of KB passes
  // and their mask values are loaded together, then reduced.
  constexpr int KB = NVK == 4 ? 4 : 8;
  const int sub = lane / kKeyLanes, part = lane % kKeyLanes;
  float qv[NVK][V];
#pragma unroll
  for (int j = 0; j < NVK; ++j) detail::loadVec<V>(q + bh * D + (part * NVK + j) * V, qv[j]);
  for (int64_t base = warp * (32 / kKeyLanes); base < S; base += int64_t{kKeysPerPass} * KB) {  // uniform over the warp
    detail::Raw<V, T> kraw[KB][NVK];
    T braw[KB];
#pragma unroll
    for (int u = 0; u < KB; ++u) {
      const int64_t s = base + u * kKeysPerPass + sub;
      if (s < S) {
#pragma unroll
        for (int j = 0; j < NVK; ++j) detail::loadRaw<V>(kb + s * D + (part * NVK + j) * V, true, kraw[u][j]);
        braw[u] = biasRow[s];
      }
    }
#pragma unroll
    for (int u = 0; u < KB; ++u) {
      const int64_t s = base + u * kKeysPerPass + sub;
      float acc = 0.0f;
      if (s < S) {
#pragma unroll
        for (int j = 0; j < NVK; ++j) {
#pragma unroll
          for (int e = 0; e < V; ++e) acc = fmaf(qv[j][e], detail::toFloat(kraw[u][j].e[e]), acc);
        }
      }
      acc = detail::groupSum<kKeyLanes>(acc);
      if (s < S && part == 0) sScore[s] = detail::roundTo<T>(fmaf(scale, acc, detail::toFloat(braw[u])));
    }
  }
  __syncthreads();

  // Softmax over the S scores (fp32), the probabilities rounded to T.
  float m = -INFINITY;
  for (int64_t s = threadIdx.x; s < S; s += kThreads) m = fmaxf(m, sScore[s]);
  m = blockMax(m, scratch);
  float sum = 0.0f;
  for (int64_t s = threadIdx.x; s < S; s += kThreads) {
    const float e = expf(sScore[s] - m);
    sScore[s] = e;
    sum += e;
  }
  sum = detail::blockSum(sum, scratch);  // ends with a barrier: every e is in shared memory
  for (int64_t s = threadIdx.x; s < S; s += kThreads) sScore[s] = detail::roundTo<T>(sScore[s] / sum);
  __syncthreads();

  // out = sum_s p[s] v[s]: warp w takes keys w, w + kWarps, ... in order; lane l dims l*EL ..
  // l*EL+EL-1; VB keys' rows in flight at a time (the first VB loaded at the start).
  float acc[EL];
#pragma unroll
  for (int e = 0; e < EL; ++e) acc[e] = 0.0f;
  for (int64_t s0 = warp; s0 < S; s0 += int64_t{kWarps} * VB) {
    if (s0 != warp) loadValues(s0);
#pragma unroll
    for (int u = 0; u < VB; ++u) {
      const int64_t s = s0 + u * kWarps;
      if (s < S) {
        const float p = sScore[s];
#pragma unroll
        for (int e = 0; e < EL; ++e) acc[e] = fmaf(p, detail::toFloat(vraw[u].e[e]), acc[e]);
      }
    }
  }
#pragma unroll
  for (int e = 0; e < EL; ++e) sPart[warp * D + lane * EL + e] = acc[e];
  __syncthreads();
  for (int d = threadIdx.x; d < D; d += kThreads) {
    float o = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) o += sPart[w * D + d];
    out[bh * D + d] = detail::fromFloat<T>(o);
  }
}

// 16-byte vectors per lane of the score pass for a head of D elements of `bytes` each; 0: none fits.
int vectorsPerLane(int64_t D, int64_t bytes) {
  const int64_t perVector = 16 / bytes;
  for (int nvk : {1, 2, 4}) {
    if (D == kKeyLanes * nvk * perVector) return nvk;
  }
  return 0;
}

}  // namespace

bool decodeAttentionSupported(const at::Tensor& q, const at::Tensor& keys, const at::Tensor& values,
                              const at::Tensor& bias) {
  if (!q.is_cuda() || q.dim() != 3 || keys.dim() != 4 || bias.dim() != 2) return false;
  const at::ScalarType t = q.scalar_type();
  const int64_t B = q.size(0), H = q.size(1), D = q.size(2), KV = keys.size(1), S = keys.size(2);
  return (t == at::kFloat || t == at::kBFloat16 || t == at::kHalf) && keys.scalar_type() == t &&
         values.scalar_type() == t && bias.scalar_type() == t && keys.size(0) == B && KV > 0 && H % KV == 0 &&
         keys.size(3) == D && values.sizes() == keys.sizes() && bias.size(0) == B * KV && bias.size(1) == S &&
         bias.stride(1) == 1 &&
         S > 0 && S <= kMaxKeys && vectorsPerLane(D, q.element_size()) > 0 && q.is_contiguous() &&
         keys.is_contiguous() && values.is_contiguous() && detail::isAligned16(q.data_ptr()) &&
         detail::isAligned16(keys.data_ptr()) && detail::isAligned16(values.data_ptr());
}

at::Tensor decodeAttention(const at::Tensor& q, const at::Tensor& keys, const at::Tensor& values,
                           const at::Tensor& bias, double scale) {
  constexpr const char* fn = "decodeAttention";
  TORCH_CHECK(decodeAttentionSupported(q, keys, values, bias), fn,
              ": needs q (B, H, D), keys and values (B, KV, S, D) contiguous, bias (B * KV, S) with unit column "
              "stride: 16-byte aligned CUDA tensors of one float dtype, H a multiple of KV, S <= ",
              kMaxKeys, ", D a supported head size; got q ", q.sizes(), " ", q.scalar_type(), ", keys ", keys.sizes(),
              ", bias ", bias.sizes());
  const c10::cuda::CUDAGuard guard(q.device());
  const int64_t B = q.size(0), H = q.size(1), D = q.size(2), KV = keys.size(1), S = keys.size(2);
  at::Tensor out = at::empty({B, H, D}, q.options());
  if (B * H == 0) return out;
  cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  const size_t smem = sizeof(float) * (S + kWarps * D);
  detail::dispatchFloat(q.scalar_type(), fn, [&](auto tag) {
    using T = decltype(tag);
    auto launch = [&](auto nvk) {
      pdl::launch(decodeAttentionKernel<T, decltype(nvk)::value>, dim3(static_cast<unsigned>(B * H)), dim3(kThreads),
                  smem, stream, pdl::enabled(stream), detail::ptr<const T>(q), detail::ptr<const T>(keys),
                  detail::ptr<const T>(values), detail::ptr<const T>(bias), bias.stride(0), H, KV, S,
                  static_cast<float>(scale), detail::ptr<T>(out));
    };
    switch (vectorsPerLane(D, sizeof(T))) {
      case 1: launch(std::integral_constant<int, 1>{}); break;
      case 2: launch(std::integral_constant<int, 2>{}); break;
      default: launch(std::integral_constant<int, 4>{}); break;
    }
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

}  // namespace nq::kernels
