// Fused gated-MLP activation on CUDA (contract in kernels.h): out = act(gate) * up in one pass
// over gate and up, which may be the two column halves of one (rows, 2I) projection output, so
// nothing is split or copied first; and its backward, which writes dgate and dup (again
// possibly the halves of one (rows, 2I) buffer, ready for a single GEMM) in one pass.
// Forward numerics as transformers in bf16/f16: the activation is rounded to the dtype, then
// multiplied by up and rounded again. Backward: fp32 math, rounded once.
// Activations (fp32): silu g / (1 + e^-g); gelu tanh 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715
// g^3))); exact gelu 0.5 g (1 + erf(g / sqrt 2)), with torch's formulas for the derivatives.
// Not here: the CPU reference (native/core/mlp.cpp).
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include <type_traits>
#include <utility>

#include "kernels/kernel_util.cuh"
#include "kernels/kernels.h"
#include "kernels/pdl.cuh"

namespace nq::kernels {
namespace {

using detail::loadVec;
using detail::roundTo;
using detail::storeVec;

constexpr int kThreads = 256;
constexpr int64_t kDecodeRowsMax = 64;  // up to this many rows the forward overlaps its launch
constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kKappa = 0.044715f;
constexpr float kInvSqrt2 = 0.7071067811865476f;
constexpr float kInvSqrt2Pi = 0.3989422804014327f;

template <int Act>
__device__ __forceinline__ float activation(float g) {
  if constexpr (Act == kSilu) {
    return g / (1.0f + expf(-g));
  } else if constexpr (Act == kGeluTanh) {
    return 0.5f * g * (1.0f + tanhf(kSqrt2OverPi * (g + kKappa * g * g * g)));
  } else {
    return 0.5f * g * (1.0f + erff(g * kInvSqrt2));
  }
}

template <int Act>
__device__ __forceinline__ float activationGrad(float g) {
  if constexpr (Act == kSilu) {
    const float s = 1.0f / (1.0f + expf(-g));
    return s * (1.0f + g * (1.0f - s));
  } else if constexpr (Act == kGeluTanh) {
    const float t = tanhf(kSqrt2OverPi * (g + kKappa * g * g * g));
    return 0.5f * (1.0f + t) + 0.5f * g * (1.0f - t * t) * kSqrt2OverPi * (1.0f + 3.0f * kKappa * g * g);
  } else {
    return 0.5f * (1.0f + erff(g * kInvSqrt2)) + g * kInvSqrt2Pi * expf(-0.5f * g * g);
  }
}

// Row strides of the (rows, I) operands, in elements; every column stride is 1.
struct GluShape {
  int64_t rows, I;
  int64_t gate, up, dout, dgate, dup;
};

template <typename T, int V, int Act>
__global__ void __launch_bounds__(kThreads)
    gluForwardKernel(const T* __restrict__ gate, const T* __restrict__ up, GluShape s, T* __restrict__ out) {
  pdl::waitPrerequisites();  // launched overlapping the kernel before when decoding (pdl.cuh)
  pdl::allowDependents();
  const int64_t perRow = s.I / V;
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (idx >= s.rows * perRow) return;
  const int64_t r = idx / perRow, c = (idx - r * perRow) * V;
  float g[V], u[V];
  loadVec<V>(gate + r * s.gate + c, g);
  loadVec<V>(up + r * s.up + c, u);
#pragma unroll
  for (int k = 0; k < V; ++k) g[k] = roundTo<T>(activation<Act>(g[k])) * u[k];
  storeVec<V>(out + r * s.I + c, g);
}

// gate / dgate and up / dup may be the same memory (in place): no __restrict__ on them; a thread
// loads its elements before it stores them.
template <typename T, int V, int Act>
__global__ void __launch_bounds__(kThreads)
    gluBackwardKernel(const T* __restrict__ dout, const T* gate, const T* up, GluShape s, T* dgate, T* dup) {
  const int64_t perRow = s.I / V;
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (idx >= s.rows * perRow) return;
  const int64_t r = idx / perRow, c = (idx - r * perRow) * V;
  float d[V], g[V], u[V], dg[V], du[V];
  loadVec<V>(dout + r * s.dout + c, d);
  loadVec<V>(gate + r * s.gate + c, g);
  loadVec<V>(up + r * s.up + c, u);
#pragma unroll
  for (int k = 0; k < V; ++k) {
    dg[k] = d[k] * u[k] * activationGrad<Act>(g[k]);
    du[k] = d[k] * roundTo<T>(activation<Act>(g[k]));
  }
  storeVec<V>(dgate + r * s.dgate + c, dg);
  storeVec<V>(dup + r * s.dup + c, du);
}

// (rows, I) with unit column stride; returns its row stride (any value for a single row).
int64_t rowStride(const at::Tensor& t, const char* fn, const char* name, int64_t rows, int64_t I) {
  TORCH_CHECK(t.dim() == 2 && t.size(0) == rows && t.size(1) == I, fn, ": ", name, " must be (", rows, ", ", I,
              "), got shape ", t.sizes());
  TORCH_CHECK(I <= 1 || t.stride(1) == 1, fn, ": ", name, " must have unit column stride, got strides ",
              t.strides());
  TORCH_CHECK(rows <= 1 || t.stride(0) >= I, fn, ": ", name, " rows overlap (row stride ", t.stride(0), " < ", I,
              ")");
  return rows <= 1 ? I : t.stride(0);
}

// 16-byte accesses when I and every row stride are multiples of V and every base is aligned.
bool vectorizable(int64_t V, const GluShape& s, std::initializer_list<const at::Tensor*> ts) {
  if (s.I % V != 0 || s.gate % V != 0 || s.up % V != 0 || s.dout % V != 0 || s.dgate % V != 0 || s.dup % V != 0) {
    return false;
  }
  for (const at::Tensor* t : ts) {
    if (!detail::isAligned16(t->data_ptr())) return false;
  }
  return true;
}

void checkAct(int64_t act, const char* fn) {
  TORCH_CHECK(act == kSilu || act == kGeluTanh || act == kGeluErf, fn,
              ": act must be 0 (silu), 1 (gelu tanh) or 2 (gelu erf), got ", act);
}

// Calls f(std::integral_constant<int, Act>) for the activation code act (checked).
template <typename F>
void dispatchAct(int64_t act, F&& f) {
  switch (act) {
    case kSilu: f(std::integral_constant<int, kSilu>{}); break;
    case kGeluTanh: f(std::integral_constant<int, kGeluTanh>{}); break;
    default: f(std::integral_constant<int, kGeluErf>{}); break;
  }
}

unsigned gridFor(int64_t rows, int64_t I, int V, const char* fn) {
  const int64_t grid = detail::ceilDiv(rows * (I / V), kThreads);
  TORCH_CHECK(grid <= 0x7fffffff, fn, ": too many elements for one launch");
  return static_cast<unsigned>(grid);
}

}  // namespace

at::Tensor gluForward(const at::Tensor& gate, const at::Tensor& up, int64_t act) {
  constexpr const char* fn = "gluForward";
  checkAct(act, fn);
  TORCH_CHECK(gate.defined() && gate.is_cuda() && gate.dim() == 2, fn, ": gate must be a (rows, I) CUDA tensor");
  const int64_t rows = gate.size(0), I = gate.size(1);
  detail::checkFloatTensor(up, fn, "up", gate.scalar_type(), gate.device());
  GluShape s{rows, I, rowStride(gate, fn, "gate", rows, I), rowStride(up, fn, "up", rows, I), I, I, I};
  const c10::cuda::CUDAGuard guard(gate.device());
  at::Tensor out = at::empty({rows, I}, gate.options().memory_format(at::MemoryFormat::Contiguous));
  if (out.numel() == 0) return out;
  cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  const bool overlap = rows <= kDecodeRowsMax && pdl::enabled(stream);  // decoding's few rows (pdl.cuh)
  detail::dispatchFloat(gate.scalar_type(), fn, [&](auto tag) {
    using T = decltype(tag);
    constexpr int V = 16 / sizeof(T);
    const bool vector = vectorizable(V, s, {&gate, &up});
    dispatchAct(act, [&](auto a) {
      constexpr int A = decltype(a)::value;
      if (vector) {
        pdl::launch(gluForwardKernel<T, V, A>, dim3(gridFor(rows, I, V, fn)), dim3(kThreads), 0, stream, overlap,
                    detail::ptr<const T>(gate), detail::ptr<const T>(up), s, detail::ptr<T>(out));
      } else {
        pdl::launch(gluForwardKernel<T, 1, A>, dim3(gridFor(rows, I, 1, fn)), dim3(kThreads), 0, stream, overlap,
                    detail::ptr<const T>(gate), detail::ptr<const T>(up), s, detail::ptr<T>(out));
      }
    });
  });
  return out;
}

void gluBackward(const at::Tensor& dout, const at::Tensor& gate, const at::Tensor& up, int64_t act,
                 at::Tensor& dgate, at::Tensor& dup) {
  constexpr const char* fn = "gluBackward";
  checkAct(act, fn);
  TORCH_CHECK(gate.defined() && gate.is_cuda() && gate.dim() == 2, fn, ": gate must be a (rows, I) CUDA tensor");
  const int64_t rows = gate.size(0), I = gate.size(1);
  const at::ScalarType dtype = gate.scalar_type();
  const std::pair<const at::Tensor*, const char*> others[] = {
      {&up, "up"}, {&dout, "dout"}, {&dgate, "dgate"}, {&dup, "dup"}};
  for (const auto& [t, name] : others) detail::checkFloatTensor(*t, fn, name, dtype, gate.device());
  GluShape s{rows,
             I,
             rowStride(gate, fn, "gate", rows, I),
             rowStride(up, fn, "up", rows, I),
             rowStride(dout, fn, "dout", rows, I),
             rowStride(dgate, fn, "dgate", rows, I),
             rowStride(dup, fn, "dup", rows, I)};
  if (rows == 0 || I == 0) return;
  const c10::cuda::CUDAGuard guard(gate.device());
  cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  detail::dispatchFloat(dtype, fn, [&](auto tag) {
    using T = decltype(tag);
    constexpr int V = 16 / sizeof(T);
    const bool vector = vectorizable(V, s, {&dout, &gate, &up, &dgate, &dup});
    dispatchAct(act, [&](auto a) {
      constexpr int A = decltype(a)::value;
      if (vector) {
        gluBackwardKernel<T, V, A><<<gridFor(rows, I, V, fn), kThreads, 0, stream>>>(
            detail::ptr<const T>(dout), detail::ptr<const T>(gate), detail::ptr<const T>(up), s,
            detail::ptr<T>(dgate), detail::ptr<T>(dup));
      } else {
        gluBackwardKernel<T, 1, A><<<gridFor(rows, I, 1, fn), kThreads, 0, stream>>>(
            detail::ptr<const T>(dout), detail::ptr<const T>(gate), detail::ptr<const T>(up), s,
            detail::ptr<T>(dgate), detail::ptr<T>(dup));
      }
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  });
}

}  // namespace nq::kernels
