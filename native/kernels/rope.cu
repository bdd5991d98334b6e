// Fused rotary position embedding on CUDA (contract in kernels.h): one pass that reads x (which
// may be a strided column slice of the fused q|k|v projection, so no copy happens first) and
// cos/sin, and writes the rotated heads into a new contiguous (N, heads, D) tensor. The
// forward rounds after each product and after the sum, as transformers' bf16 ops
// `q * cos + rotate_half(q) * sin` do, so the result is bit-identical; the inverse (the
// gradient) rounds once.
// A thread handles V consecutive dims i of the first half together with dims i + half (V = 16
// bytes of x's dtype when every offset allows it, else 1), or V dims past rotaryDim to copy.
// Not here: building cos/sin (native/core/rope.cpp) and the CPU reference.
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include "kernels/kernel_util.cuh"
#include "kernels/kernels.h"
#include "kernels/norm_rope_math.cuh"

namespace nq::kernels {
namespace {

using detail::loadVec;
using detail::storeVec;

constexpr int kThreads = 256;

struct RopeShape {
  int64_t tokens, heads, D, half, rotaryDim;
  int64_t tokenStride;  // of x, in elements
  int64_t pairItems;    // half / V: work items that rotate
  int64_t items;        // per (token, head): pairItems + (D - rotaryDim) / V
};

template <typename T, int V, bool Inverse>
__global__ void __launch_bounds__(kThreads)
    ropeKernel(const T* __restrict__ x, const T* __restrict__ cosT, const T* __restrict__ sinT, RopeShape s,
               T* __restrict__ out) {
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  const int64_t total = s.tokens * s.heads * s.items;
  if (idx >= total) return;
  const int64_t item = idx % s.items;
  const int64_t th = idx / s.items;  // token * heads + head
  const int64_t n = th / s.heads, h = th - n * s.heads;
  const T* xh = x + n * s.tokenStride + h * s.D;
  T* oh = out + th * s.D;

  if (item >= s.pairItems) {  // dims past rotaryDim: copied unchanged
    const int64_t d = s.rotaryDim + (item - s.pairItems) * V;
    float f[V];
    loadVec<V>(xh + d, f);
    storeVec<V>(oh + d, f);
    return;
  }
  const int64_t i = item * V;
  const T* cr = cosT + n * s.rotaryDim;
  const T* sr = sinT + n * s.rotaryDim;
  float a[V], b[V], c1[V], c2[V], s1[V], s2[V];
  loadVec<V>(xh + i, a);
  loadVec<V>(xh + s.half + i, b);
  loadVec<V>(cr + i, c1);
  loadVec<V>(cr + s.half + i, c2);
  loadVec<V>(sr + i, s1);
  loadVec<V>(sr + s.half + i, s2);
  float lo[V], hi[V];
#pragma unroll
  for (int k = 0; k < V; ++k) {
    if constexpr (Inverse) {
      lo[k] = a[k] * c1[k] + b[k] * s2[k];
      hi[k] = b[k] * c2[k] - a[k] * s1[k];
    } else {
      detail::ropeRotate<T>(a[k], b[k], c1[k], c2[k], s1[k], s2[k], lo[k], hi[k]);
    }
  }
  storeVec<V>(oh + i, lo);
  storeVec<V>(oh + s.half + i, hi);
}

template <typename T, int V>
void launchRope(const T* x, const T* c, const T* sn, RopeShape s, bool inverse, T* out, cudaStream_t stream) {
  s.pairItems = s.half / V;
  s.items = s.pairItems + (s.D - s.rotaryDim) / V;
  const int64_t total = s.tokens * s.heads * s.items;
  const int64_t grid = detail::ceilDiv(total, kThreads);
  TORCH_CHECK(grid <= 0x7fffffff, "ropeApply: x is too large for one launch");
  if (inverse) {
    ropeKernel<T, V, true><<<static_cast<unsigned>(grid), kThreads, 0, stream>>>(x, c, sn, s, out);
  } else {
    ropeKernel<T, V, false><<<static_cast<unsigned>(grid), kThreads, 0, stream>>>(x, c, sn, s, out);
  }
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace

at::Tensor ropeApply(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, int64_t rotaryDim,
                     bool inverse) {
  constexpr const char* fn = "ropeApply";
  TORCH_CHECK(x.defined() && x.is_cuda(), fn, ": x must be a CUDA tensor");
  TORCH_CHECK(x.dim() == 3, fn, ": x must be (tokens, heads, headDim), got shape ", x.sizes());
  const int64_t N = x.size(0), heads = x.size(1), D = x.size(2);
  TORCH_CHECK(x.stride(2) == 1 && (heads <= 1 || x.stride(1) == D) && x.stride(0) >= heads * D, fn,
              ": x must have strides (>= heads * headDim, headDim, 1), got ", x.strides());
  TORCH_CHECK(rotaryDim > 0 && rotaryDim % 2 == 0 && rotaryDim <= D, fn,
              ": rotaryDim must be even and in (0, headDim = ", D, "], got ", rotaryDim);
  detail::checkInput(cos, fn, "cos", x.scalar_type(), N * rotaryDim, x.device());
  detail::checkInput(sin, fn, "sin", x.scalar_type(), N * rotaryDim, x.device());
  const c10::cuda::CUDAGuard guard(x.device());
  at::Tensor out = at::empty({N, heads, D}, x.options().memory_format(at::MemoryFormat::Contiguous));
  if (out.numel() == 0) return out;
  RopeShape s{N, heads, D, rotaryDim / 2, rotaryDim, N > 1 ? x.stride(0) : heads * D, 0, 0};
  cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  detail::dispatchFloat(x.scalar_type(), fn, [&](auto tag) {
    using T = decltype(tag);
    constexpr int V = 16 / sizeof(T);
    // 16-byte accesses need every start offset a multiple of V elements and aligned bases.
    const bool vector = s.half % V == 0 && D % V == 0 && s.tokenStride % V == 0 &&
                        detail::isAligned16(x.data_ptr()) && detail::isAligned16(cos.data_ptr()) &&
                        detail::isAligned16(sin.data_ptr());
    const auto* xp = detail::ptr<const T>(x);
    const auto* cp = detail::ptr<const T>(cos);
    const auto* sp = detail::ptr<const T>(sin);
    if (vector) {
      launchRope<T, V>(xp, cp, sp, s, inverse, detail::ptr<T>(out), stream);
    } else {
      launchRope<T, 1>(xp, cp, sp, s, inverse, detail::ptr<T>(out), stream);
    }
  });
  return out;
}

}  // namespace nq::kernels
