// A group's LoRA adapters at decoding (contract in kernels.h): y += scaling * round(x @ A^T) @
// B^T for a few rows. cuBLAS ran it as two GEMMs a group: x @ A^T as one tile of 64 columns (one
// block walking the whole input dimension, ~6 us on the H200) and the addmm (~3 us). Here: one
// block per rank row for x @ A^T (every load of a row in flight at once), then a thread per
// output for the B product and the add.
//
// Numerics: x @ A^T in fp32, rounded once to x's dtype (as the GEMM's output is); then per
// output y = round(float(y) + scaling * sum_r xa[r] * B[o][r]) with the products summed in fp32
// in rank order. cuBLAS sums in an order of its own, so the bits may differ from the two-GEMM
// path in the last place; every row is computed alone, so a row gets the same bits in any batch.
// Not here: when to call it (native/core/linear.cpp) and the CPU path (the two GEMMs there).
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include "kernels/kernel_util.cuh"
#include "kernels/pdl.cuh"
#include "kernels/kernels.h"

namespace nq::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int64_t kMaxRank = 64;  // total rank of the group's adapters
constexpr int64_t kMaxRows = 8;

// xa (rows, rank) = round(x @ A^T): block r takes rank row r for every row of x; thread t the
// 16-byte vectors t, t + kThreads, ... of the input dimension (in <= kThreads * V * kMaxVectors).
constexpr int kMaxVectors = 4;  // in <= 8192 bf16 elements

template <typename T, int R>
__global__ void __launch_bounds__(kThreads)
    loraDownKernel(const T* __restrict__ x, const T* __restrict__ a, int rows, int64_t in, int rank,
                   T* __restrict__ xa) {
  constexpr int V = 16 / sizeof(T);
  __shared__ float sPart[R][kWarps];
  const int r = blockIdx.x, lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t nvec = in / V;
  const T* ar = a + r * in;
  // Loads first, kept raw (a conversion at the load would wait for it): the A row's vectors,
  // then each row of x's, converted as they are used.
  detail::Raw<V, T> araw[kMaxVectors];
#pragma unroll
  for (int j = 0; j < kMaxVectors; ++j) {
    const int64_t u = threadIdx.x + j * kThreads;
    if (u < nvec) detail::loadRaw<V>(ar + u * V, true, araw[j]);
  }
  // A is the adapter's (cached) weight; x the kernel before's output (pdl.cuh).
  pdl::waitPrerequisites();
  pdl::allowDependents();
  float acc[R];
#pragma unroll
  for (int i = 0; i < R; ++i) {
    acc[i] = 0.0f;
    if (i >= rows) continue;
    detail::Raw<V, T> xraw[kMaxVectors];
#pragma unroll
    for (int j = 0; j < kMaxVectors; ++j) {
      const int64_t u = threadIdx.x + j * kThreads;
      if (u < nvec) detail::loadRaw<V>(x + i * in + u * V, true, xraw[j]);
    }
#pragma unroll
    for (int j = 0; j < kMaxVectors; ++j) {
      const int64_t u = threadIdx.x + j * kThreads;
      if (u < nvec) {
#pragma unroll
        for (int e = 0; e < V; ++e) acc[i] = fmaf(detail::toFloat(araw[j].e[e]), detail::toFloat(xraw[j].e[e]), acc[i]);
      }
    }
  }
#pragma unroll
  for (int i = 0; i < R; ++i) {
    const float s = detail::groupSum<32>(acc[i]);
    if (lane == 0) sPart[i][warp] = s;
  }
  __syncthreads();
  if (threadIdx.x < rows) {
    const int i = threadIdx.x;
    float s = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) s += sPart[i][w];
    xa[i * rank + r] = detail::fromFloat<T>(s);
  }
}

// y (rows, out) += scaling * xa @ B^T: a thread per output feature, every row.
template <typename T, int R>
__global__ void __launch_bounds__(kThreads)
    loraUpAddKernel(const T* __restrict__ xa, const T* __restrict__ b, T* __restrict__ y, int64_t yStride, int rows,
                    int rank, int64_t out, float scaling) {
  constexpr int V = 16 / sizeof(T);
  constexpr int kMaxRankVectors = kMaxRank / V;
  __shared__ float sXa[R][kMaxRank];
  const int64_t o = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  const bool active = o < out;
  // This output's row of B first: its loads are on their way while xa is staged.
  const T* br = b + (active ? o : 0) * rank;
  float bv[kMaxRankVectors][V];
#pragma unroll
  for (int j = 0; j < kMaxRankVectors; ++j) {
    if (active && j * V < rank) detail::loadVec<V>(br + j * V, bv[j]);
  }
  // B is the adapter's (cached) weight; xa and y are written by the kernels before (pdl.cuh).
  pdl::waitPrerequisites();
  pdl::allowDependents();
  for (int k = threadIdx.x; k < rows * rank; k += kThreads) sXa[k / rank][k % rank] = detail::toFloat(xa[k]);
  __syncthreads();
  if (!active) return;
  float acc[R];
#pragma unroll
  for (int i = 0; i < R; ++i) acc[i] = 0.0f;
#pragma unroll
  for (int j = 0; j < kMaxRankVectors; ++j) {
    if (j * V < rank) {
#pragma unroll
      for (int e = 0; e < V; ++e) {
#pragma unroll
        for (int i = 0; i < R; ++i) acc[i] = fmaf(sXa[i][j * V + e], bv[j][e], acc[i]);
      }
    }
  }
#pragma unroll
  for (int i = 0; i < R; ++i) {
    if (i < rows) {
      T* yo = y + i * yStride + o;
      *yo = detail::fromFloat<T>(fmaf(scaling, acc[i], detail::toFloat(*yo)));
    }
  }
}

}  // namespace

bool loraDecodeSupported(const at::Tensor& x, const at::Tensor& a, const at::Tensor& b) {
  if (!x.is_cuda() || x.dim() != 2 || a.dim() != 2 || b.dim() != 2) return false;
  const int64_t vec = 16 / static_cast<int64_t>(x.element_size());
  const at::ScalarType t = x.scalar_type();
  return (t == at::kFloat || t == at::kBFloat16 || t == at::kHalf) && a.scalar_type() == t && b.scalar_type() == t &&
         x.size(0) >= 1 && x.size(0) <= kMaxRows && a.size(0) > 0 && a.size(0) <= kMaxRank && a.size(0) % vec == 0 &&
         x.size(1) % vec == 0 && x.size(1) <= kThreads * vec * kMaxVectors && a.size(1) == x.size(1) &&
         b.size(1) == a.size(0) && x.is_contiguous() && a.is_contiguous() && b.is_contiguous() && detail::isAligned16(x.data_ptr()) &&
         detail::isAligned16(a.data_ptr()) && detail::isAligned16(b.data_ptr());
}

void loraDecodeAdd(at::Tensor& y, const at::Tensor& x, const at::Tensor& a, const at::Tensor& b, double scaling) {
  constexpr const char* fn = "loraDecodeAdd";
  TORCH_CHECK(loraDecodeSupported(x, a, b), fn, ": needs x (rows <= ", kMaxRows, ", in), A (rank <= ", kMaxRank,
              ", in <= 2048 * 16 bytes), B (out, rank) contiguous, 16-byte aligned CUDA tensors of one float dtype "
              "with in and rank multiples of 16 bytes; got x ",
              x.sizes(), " ", x.scalar_type(), ", A ", a.sizes(), " ", a.scalar_type(), ", B ", b.sizes(), " ",
              b.scalar_type());
  detail::checkFloatTensor(y, fn, "y", x.scalar_type(), x.device());
  TORCH_CHECK(y.dim() == 2 && y.size(0) == x.size(0) && y.size(1) == b.size(0) && y.stride(1) == 1, fn,
              ": y must be (", x.size(0), ", ", b.size(0), ") with unit column stride, got shape ", y.sizes(),
              " strides ", y.strides());
  const int64_t rows = x.size(0), out = b.size(0);
  if (out == 0) return;
  const c10::cuda::CUDAGuard guard(x.device());
  const int64_t rank = a.size(0), in = x.size(1);
  const int64_t grid = detail::ceilDiv(out, int64_t{kThreads});
  TORCH_CHECK(grid <= 0x7fffffff, fn, ": too many outputs (", out, ") for one launch");
  at::Tensor xa = at::empty({rows, rank}, x.options());
  cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  detail::dispatchFloat(x.scalar_type(), fn, [&](auto tag) {
    using T = decltype(tag);
    auto launch = [&](auto bound) {
      constexpr int R = decltype(bound)::value;
      const bool overlap = pdl::enabled(stream);
      pdl::launch(loraDownKernel<T, R>, dim3(static_cast<unsigned>(rank)), dim3(kThreads), 0, stream, overlap,
                  detail::ptr<const T>(x), detail::ptr<const T>(a), static_cast<int>(rows), in, static_cast<int>(rank),
                  detail::ptr<T>(xa));
      pdl::launch(loraUpAddKernel<T, R>, dim3(static_cast<unsigned>(grid)), dim3(kThreads), 0, stream, overlap,
                  detail::ptr<const T>(xa), detail::ptr<const T>(b), detail::ptr<T>(y), rows > 1 ? y.stride(0) : 0,
                  static_cast<int>(rows), static_cast<int>(rank), out, static_cast<float>(scaling));
    };
    if (rows == 1) {
      launch(std::integral_constant<int, 1>{});
    } else {
      launch(std::integral_constant<int, kMaxRows>{});
    }
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace nq::kernels
