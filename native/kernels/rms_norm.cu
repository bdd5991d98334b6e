// Fused RMSNorm on CUDA, forward and backward, with transformers' exact numerics:
//   rstd = 1 / sqrt(mean(x_f32^2) + eps)                                        (rows) fp32
//   llama / qwen / mistral / phi (weightPlusOne false, weight in x's dtype):
//     y = round(float(weight) * float(round(x_f32 * rstd)))
//   gemma (weightPlusOne true, weight any float dtype):
//     y = round(x_f32 * rstd * (1 + float(weight)))
//   backward (weight frozen, so only dx): g = dy_f32 * w_eff, xhat = x_f32 * rstd,
//     dx = rstd * (g - xhat * mean(g * xhat))
// where round = to x's dtype, nearest even. One pass reads the row to reduce, a second pass
// (an L1/L2 hit: the row was just read) writes the result. A row is owned by a group of G
// threads: 8 for head-dim norms (C = 64..128 in 16-byte vectors), 32 up to C = 2048 bf16, the
// whole 256-thread block above that (hidden sizes 2560..8192+).
// Not here: the CPU reference (native/core/norm.cpp) and the choice of when to call this.
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include <tuple>
#include <type_traits>
#include <vector>

#include "kernels/kernel_util.cuh"
#include "kernels/kernels.h"
#include "kernels/norm_rope_math.cuh"
#include "kernels/pdl.cuh"

namespace nq::kernels {
namespace {

using detail::loadVec;
using detail::roundTo;
using detail::storeVec;

using detail::planRows;
using detail::RowPlan;

constexpr int kThreads = detail::kNormThreads;
constexpr int64_t kCachedRowsMax = 64;  // rows up to which the forward keeps a row in registers

// Sum over the G threads that own one row (G <= 32: shuffles; G == kThreads: the block).
template <int G>
__device__ __forceinline__ float rowSum(float v, float* scratch) {
  if constexpr (G <= 32) {
    return detail::groupSum<G>(v);
  } else {
    return detail::blockSum(v, scratch);
  }
}

// Weight as the effective fp32 multiplier: gemma stores w - 1.
__device__ __forceinline__ float effectiveWeight(float w, bool plusOne) { return plusOne ? 1.0f + w : w; }

// V elements of x (plus the residual's, rounded to T as ATen's add rounds, when given).
template <int V, typename T>
__device__ __forceinline__ void loadInput(const T* __restrict__ x, const T* __restrict__ r, float (&f)[V]) {
  loadVec<V>(x, f);
  if (r) {
    float g[V];
    loadVec<V>(r, g);
#pragma unroll
    for (int i = 0; i < V; ++i) f[i] = roundTo<T>(f[i] + g[i]);
  }
}

// x, y (rows, C) contiguous; weight (C); rstd (rows). V elements per access (C % V == 0).
// With a residual r (x's shape; may be null) the row normalized is round(x + r), which is also
// written to sum: a residual add and the norm that reads it in one pass.
// NV > 0 (a few rows, C / V <= NV * G: decoding): a thread's vectors of the row, and of the
// weight, are all loaded before the reduction and kept in registers, so a row costs one trip to
// memory instead of three; the sums and products are the same, in the same order.
template <typename T, typename W, int V, int G, int NV>
__global__ void __launch_bounds__(kThreads)
    rmsNormForwardKernel(const T* __restrict__ x, const T* __restrict__ residual, const W* __restrict__ weight,
                         int64_t rows, int64_t C, float eps, bool plusOne, T* __restrict__ sum, T* __restrict__ y,
                         float* __restrict__ rstdOut) {
  __shared__ float scratch[32];
  constexpr int kRowsPerBlock = G <= 32 ? kThreads / G : 1;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / G;
  const int t = threadIdx.x % G;
  const bool valid = row < rows;  // no early return: the whole warp takes part in the shuffles
  const int64_t nvec = C / V;
  const T* xr = x + row * C;
  const T* rr = residual ? residual + row * C : nullptr;
  T* yr = y + row * C;

  float ss = 0.0f;
  if constexpr (NV > 0) {
    // Every load first (kept raw: a conversion at the load would wait for it), then the math.
    detail::Raw<V, T> xraw[NV], rraw[NV];
    detail::Raw<V, W> wraw[NV];
#pragma unroll
    for (int j = 0; j < NV; ++j) {
      const int64_t v = t + j * G;
      if (valid && v < nvec) detail::loadRaw<V>(weight + v * V, true, wraw[j]);
    }
    // Launched overlapping the kernel before (decoding, pdl.cuh): the weight is the model's; the
    // row is that kernel's output.
    pdl::waitPrerequisites();
    pdl::allowDependents();
#pragma unroll
    for (int j = 0; j < NV; ++j) {
      const int64_t v = t + j * G;
      if (valid && v < nvec) {
        detail::loadRaw<V>(xr + v * V, true, xraw[j]);
        if (rr) detail::loadRaw<V>(rr + v * V, true, rraw[j]);
      }
    }
    float f[NV][V];
#pragma unroll
    for (int j = 0; j < NV; ++j) {
      const int64_t v = t + j * G;
      if (valid && v < nvec) {
#pragma unroll
        for (int i = 0; i < V; ++i) {
          f[j][i] = detail::toFloat(xraw[j].e[i]);
          if (rr) f[j][i] = roundTo<T>(f[j][i] + detail::toFloat(rraw[j].e[i]));  // as loadInput
        }
        if (rr) storeVec<V>(sum + row * C + v * V, f[j]);
#pragma unroll
        for (int i = 0; i < V; ++i) ss = fmaf(f[j][i], f[j][i], ss);
      }
    }
    ss = rowSum<G>(ss, scratch);
    const float rstd = detail::rmsNormRstd(ss, C, eps);
    if (!valid) return;
    if (t == 0) rstdOut[row] = rstd;
#pragma unroll
    for (int j = 0; j < NV; ++j) {
      const int64_t v = t + j * G;
      if (v < nvec) {
#pragma unroll
        for (int i = 0; i < V; ++i) {
          f[j][i] = detail::rmsNormScale<T>(f[j][i], rstd, detail::toFloat(wraw[j].e[i]), plusOne);
        }
        storeVec<V>(yr + v * V, f[j]);
      }
    }
    return;
  }

  if (valid) {
    for (int64_t v = t; v < nvec; v += G) {
      float f[V];
      loadInput<V>(xr + v * V, rr ? rr + v * V : nullptr, f);
      if (rr) storeVec<V>(sum + row * C + v * V, f);
#pragma unroll
      for (int i = 0; i < V; ++i) ss = fmaf(f[i], f[i], ss);
    }
  }
  ss = rowSum<G>(ss, scratch);
  const float rstd = detail::rmsNormRstd(ss, C, eps);
  if (!valid) return;
  if (t == 0) rstdOut[row] = rstd;

  for (int64_t v = t; v < nvec; v += G) {
    float f[V], w[V];
    loadInput<V>(xr + v * V, rr ? rr + v * V : nullptr, f);  // the sum again, recomputed: same bits
    loadVec<V>(weight + v * V, w);
#pragma unroll
    for (int i = 0; i < V; ++i) f[i] = detail::rmsNormScale<T>(f[i], rstd, w[i], plusOne);
    storeVec<V>(yr + v * V, f);
  }
}

// dy, x, dx (rows, C) contiguous; weight (C); rstd (rows) from the forward pass.
template <typename T, typename W, int V, int G>
__global__ void __launch_bounds__(kThreads)
    rmsNormBackwardKernel(const T* __restrict__ dy, const T* __restrict__ x, const W* __restrict__ weight,
                          const float* __restrict__ rstdIn, int64_t rows, int64_t C, bool plusOne,
                          T* __restrict__ dx) {
  __shared__ float scratch[32];
  constexpr int kRowsPerBlock = G <= 32 ? kThreads / G : 1;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / G;
  const int t = threadIdx.x % G;
  const bool valid = row < rows;
  const int64_t nvec = C / V;
  const T* xr = x + row * C;
  const T* dyr = dy + row * C;
  const float rstd = valid ? rstdIn[row] : 0.0f;

  float dot = 0.0f;  // sum over the row of g * xhat
  if (valid) {
    for (int64_t v = t; v < nvec; v += G) {
      float f[V], g[V], w[V];
      loadVec<V>(xr + v * V, f);
      loadVec<V>(dyr + v * V, g);
      loadVec<V>(weight + v * V, w);
#pragma unroll
      for (int i = 0; i < V; ++i) dot = fmaf(g[i] * effectiveWeight(w[i], plusOne), f[i] * rstd, dot);
    }
  }
  dot = rowSum<G>(dot, scratch);
  if (!valid) return;
  const float mean = dot / static_cast<float>(C);

  T* dxr = dx + row * C;
  for (int64_t v = t; v < nvec; v += G) {
    float f[V], g[V], w[V];
    loadVec<V>(xr + v * V, f);
    loadVec<V>(dyr + v * V, g);
    loadVec<V>(weight + v * V, w);
#pragma unroll
    for (int i = 0; i < V; ++i) f[i] = rstd * (g[i] * effectiveWeight(w[i], plusOne) - f[i] * rstd * mean);
    storeVec<V>(dxr + v * V, f);
  }
}

void checkRows(const at::Tensor& x, const char* fn) {
  TORCH_CHECK(x.defined() && x.is_cuda(), fn, ": x must be a CUDA tensor");
  TORCH_CHECK(x.dim() >= 1 && x.size(-1) > 0, fn, ": x must be (rows, C) with C > 0, got shape ", x.sizes());
  TORCH_CHECK(x.is_contiguous(), fn, ": x must be contiguous, got strides ", x.strides());
}

// Calls launch(T{}, W{}, V, G, grid) with T the element type of x, W the weight's (T or
// float), V the elements per access and G the threads per row, for rows of C elements.
// aligned: every base pointer the kernel reads is 16-byte aligned.
template <typename F>
void dispatchRows(const at::Tensor& x, const at::Tensor& w, int64_t rows, int64_t C, bool aligned, const char* fn,
                  F&& launch) {
  detail::dispatchFloat(x.scalar_type(), fn, [&](auto tag) {
    using T = decltype(tag);
    constexpr int kVec = 16 / sizeof(T);
    const RowPlan plan = planRows(C, kVec, aligned);
    const int64_t perBlock = plan.group <= 32 ? kThreads / plan.group : 1;
    const int64_t grid = detail::ceilDiv(rows, perBlock);
    TORCH_CHECK(grid <= 0x7fffffff, fn, ": too many rows (", rows, ") for one launch");
    const dim3 g(static_cast<unsigned>(grid));
    auto withWeight = [&](auto wtag) {
      auto withVector = [&](auto v) {
        switch (plan.group) {
          case 8: launch(tag, wtag, v, std::integral_constant<int, 8>{}, g); break;
          case 32: launch(tag, wtag, v, std::integral_constant<int, 32>{}, g); break;
          default: launch(tag, wtag, v, std::integral_constant<int, kThreads>{}, g); break;
        }
      };
      if (plan.vector) {
        withVector(std::integral_constant<int, kVec>{});
      } else {
        withVector(std::integral_constant<int, 1>{});
      }
    };
    if (w.scalar_type() == x.scalar_type()) {
      withWeight(T{});
    } else {
      withWeight(float{});
    }
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace

namespace {
// Both forward entry points: residual undefined for the plain norm; sum written when defined.
void launchForward(const at::Tensor& x, const at::Tensor& residual, const at::Tensor& w, int64_t rows, int64_t C,
                   double eps, bool weightPlusOne, at::Tensor& sum, at::Tensor& y, at::Tensor& rstd, const char* fn) {
  if (rows == 0) return;
  cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  const bool r = residual.defined();
  const bool aligned = detail::isAligned16(x.data_ptr()) && detail::isAligned16(w.data_ptr()) &&
                       (!r || (detail::isAligned16(residual.data_ptr()) && detail::isAligned16(sum.data_ptr())));
  dispatchRows(x, w, rows, C, aligned, fn, [&](auto tag, auto wtag, auto v, auto group, dim3 grid) {
    using T = decltype(tag);
    using W = decltype(wtag);
    constexpr int V = decltype(v)::value, G = decltype(group)::value;
    auto launch = [&](auto nv) {
      constexpr int NV = decltype(nv)::value;
      pdl::launch(rmsNormForwardKernel<T, W, V, G, NV>, grid, dim3(kThreads), 0, stream, NV > 0 && pdl::enabled(stream),
                  detail::ptr<const T>(x), r ? detail::ptr<const T>(residual) : nullptr, detail::ptr<const W>(w), rows,
                  C, static_cast<float>(eps), weightPlusOne, r ? detail::ptr<T>(sum) : nullptr, detail::ptr<T>(y),
                  rstd.data_ptr<float>());
    };
    // A few rows (decoding) with the row in registers, launched overlapping the kernel before
    // (pdl.cuh); many rows (training, prefill) the loop, whose lower register count keeps more
    // blocks resident.
    if (rows <= kCachedRowsMax && C / V <= 2 * G) {
      launch(std::integral_constant<int, 2>{});
    } else {
      launch(std::integral_constant<int, 0>{});
    }
  });
}

at::Tensor rowsOf(const at::Tensor& x) {
  std::vector<int64_t> rowShape = x.sizes().vec();
  rowShape.pop_back();
  return at::empty(rowShape, x.options().dtype(at::kFloat));
}
}  // namespace

std::tuple<at::Tensor, at::Tensor> rmsNormForward(const at::Tensor& x, const at::Tensor& weight, double eps,
                                                  bool weightPlusOne) {
  constexpr const char* fn = "rmsNormForward";
  checkRows(x, fn);
  const int64_t C = x.size(-1);
  const int64_t rows = x.numel() / C;
  const c10::cuda::CUDAGuard guard(x.device());
  const at::Tensor w = detail::normWeight(weight, "weight", x, C, weightPlusOne, fn);
  at::Tensor y = at::empty_like(x, at::MemoryFormat::Contiguous);
  at::Tensor rstd = rowsOf(x);
  at::Tensor none;
  launchForward(x, at::Tensor(), w, rows, C, eps, weightPlusOne, none, y, rstd, fn);
  return {y, rstd};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> rmsNormAddForward(const at::Tensor& x, const at::Tensor& residual,
                                                                 const at::Tensor& weight, double eps,
                                                                 bool weightPlusOne) {
  constexpr const char* fn = "rmsNormAddForward";
  checkRows(x, fn);
  checkRows(residual, fn);
  TORCH_CHECK(residual.sizes() == x.sizes() && residual.scalar_type() == x.scalar_type() &&
                  residual.device() == x.device(),
              fn, ": residual must match x (", x.sizes(), " ", x.scalar_type(), "), got ", residual.sizes(), " ",
              residual.scalar_type());
  const int64_t C = x.size(-1);
  const int64_t rows = x.numel() / C;
  const c10::cuda::CUDAGuard guard(x.device());
  const at::Tensor w = detail::normWeight(weight, "weight", x, C, weightPlusOne, fn);
  at::Tensor sum = at::empty_like(x, at::MemoryFormat::Contiguous);
  at::Tensor y = at::empty_like(x, at::MemoryFormat::Contiguous);
  at::Tensor rstd = rowsOf(x);
  launchForward(x, residual, w, rows, C, eps, weightPlusOne, sum, y, rstd, fn);
  return {sum, y, rstd};
}

at::Tensor rmsNormBackward(const at::Tensor& dy, const at::Tensor& x, const at::Tensor& weight,
                           const at::Tensor& rstd, bool weightPlusOne) {
  constexpr const char* fn = "rmsNormBackward";
  checkRows(x, fn);
  const int64_t C = x.size(-1);
  const int64_t rows = x.numel() / C;
  detail::checkFloatTensor(dy, fn, "dy", x.scalar_type(), x.device());
  TORCH_CHECK(dy.sizes() == x.sizes(), fn, ": dy must have x's shape ", x.sizes(), ", got ", dy.sizes());
  detail::checkInput(rstd, fn, "rstd", at::kFloat, rows, x.device());
  const c10::cuda::CUDAGuard guard(x.device());
  const at::Tensor w = detail::normWeight(weight, "weight", x, C, weightPlusOne, fn);
  const at::Tensor dyc = dy.contiguous();  // a no-op for the usual contiguous gradient
  at::Tensor dx = at::empty_like(x, at::MemoryFormat::Contiguous);
  if (rows == 0) return dx;
  cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  const bool aligned = detail::isAligned16(x.data_ptr()) && detail::isAligned16(dyc.data_ptr()) &&
                       detail::isAligned16(w.data_ptr());
  dispatchRows(x, w, rows, C, aligned, fn, [&](auto tag, auto wtag, auto v, auto group, dim3 grid) {
    using T = decltype(tag);
    using W = decltype(wtag);
    rmsNormBackwardKernel<T, W, decltype(v)::value, decltype(group)::value><<<grid, kThreads, 0, stream>>>(
        detail::ptr<const T>(dyc), detail::ptr<const T>(x), detail::ptr<const W>(w), rstd.data_ptr<float>(), rows,
        C, weightPlusOne, detail::ptr<T>(dx));
  });
  return dx;
}

}  // namespace nq::kernels
