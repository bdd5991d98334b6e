// One decoding step's queries, keys and values after their projection, in one launch (contract in
// kernels.h): the per-head RMSNorm of q and k (when the model has one), the rotary embedding of
// both, the new key and value written into the cache at the step's slot, and the rotated queries
// returned. The separate path is six launches a layer (two norms, two RoPEs, two index_copy_);
// at batch 1 each of them is a few microseconds of launch and latency for a few kilobytes.
//
// Numerics: the same bits as rmsNormForward, then ropeApply, then the cache copy. A group of G
// threads owns a head and sums its squares in the order rms_norm.cu's plan for a row of headDim
// elements gives (detail::planRows: the same V elements per access, the same G threads, the same
// shuffles), scales each element as it does (detail::rmsNormScale) and rounds it to T; the
// rotation then reads those rounded values from shared memory and rounds as rope.cu does
// (detail::ropeRotate).
// Not here: the choice of when to call it (native/core/decode_qkv.cpp) and the CPU path (the
// separate ops there).
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/macros/Macros.h>

#include "kernels/kernel_util.cuh"
#include "kernels/kernels.h"
#include "kernels/norm_rope_math.cuh"
#include "kernels/pdl.cuh"

namespace nq::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxHeadDim = 256;  // 256 / G heads a block, D floats each, in shared memory

struct DecodeQkvArgs {
  const void* src[3];  // q (rows, H*D), k (rows, KV*D), v (rows, KV*D), unit column stride
  int64_t srcStride[3];
  const void* norm[2];  // q, k norm weights (D) or null
  float eps;
  bool plusOne;
  bool aligned;  // every source base and row stride allows 16-byte loads
  const void* cos;  // (rows, rotaryDim)
  const void* sin;
  int64_t rows, H, KV, D, rotaryDim;
  void* qOut;  // (rows, H, D)
  void* keys;  // (rows, KV, capacity, D)
  void* values;
  int64_t capacity;
  const int64_t* slot;  // the cache position written (one for every row)
};

// Heads in the order q (H), k (KV), v (KV), per row; a head to each group of G threads. Every
// global load (the slot, the head, its norm weight, cos and sin) is issued before any of them is
// used: at batch 1 the kernel is a few round trips to memory, and this makes it one.
template <typename T, typename W, int V, int G>
__global__ void __launch_bounds__(kThreads) decodeQkvKernel(DecodeQkvArgs a) {
  pdl::waitPrerequisites();  // launched overlapping the kernel before (pdl.cuh)
  pdl::allowDependents();
  // At most NV vectors of the head and NP rotary pairs per thread, for heads up to kMaxHeadDim:
  // G = 8 serves rows of up to 16 accesses (D <= 128 in bf16: half <= 64), G = 32 the rest.
  constexpr int NV = (V == 1 && G == 32) ? 8 : 2;
  constexpr int NP = G == 8 ? 8 : 4;
  extern __shared__ float sHeads[];  // (kThreads / G, D): each group's head after the norm
  const int t = threadIdx.x % G, groupInBlock = threadIdx.x / G;
  const int64_t headsPerRow = a.H + 2 * a.KV;
  const int64_t item = static_cast<int64_t>(blockIdx.x) * (kThreads / G) + groupInBlock;
  const bool valid = item < a.rows * headsPerRow;  // no early return: whole warps take part in the shuffles
  const int64_t row = valid ? item / headsPerRow : 0, head = valid ? item - row * headsPerRow : 0;
  const int which = head < a.H ? 0 : head < a.H + a.KV ? 1 : 2;  // q, k, v
  const int64_t h = which == 0 ? head : which == 1 ? head - a.H : head - a.H - a.KV;
  const int64_t D = a.D, nvec = D / V;
  const T* __restrict__ src = static_cast<const T*>(a.src[which]) + row * a.srcStride[which] + h * D;
  const W* __restrict__ weight = which < 2 ? static_cast<const W*>(a.norm[which]) : nullptr;
  const int64_t half = which < 2 ? a.rotaryDim / 2 : 0;  // values are not rotated
  const T* __restrict__ cosRow = static_cast<const T*>(a.cos) + row * a.rotaryDim;
  const T* __restrict__ sinRow = static_cast<const T*>(a.sin) + row * a.rotaryDim;
  const int64_t pos = which == 0 || !valid ? 0 : *a.slot;

  // This thread's vectors t, t + G, ... of the head, as rmsNormForwardKernel reads a row, its
  // norm weights and the cos / sin of its pairs (i, i + half), i = t, t + G, ...: loads only.
  detail::Raw<V, T> f[NV];
  detail::Raw<V, W> w[NV];
#pragma unroll
  for (int j = 0; j < NV; ++j) {
    const int64_t vi = t + j * G;
    if (valid && vi < nvec) {
      detail::loadRaw<V>(src + vi * V, a.aligned, f[j]);
      if (weight) detail::loadRaw<V>(weight + vi * V, true, w[j]);
    }
  }
  T c1[NP], c2[NP], s1[NP], s2[NP];
#pragma unroll
  for (int p = 0; p < NP; ++p) {
    const int64_t i = t + p * G;
    if (valid && i < half) c1[p] = cosRow[i], c2[p] = cosRow[i + half], s1[p] = sinRow[i], s2[p] = sinRow[i + half];
  }

  float ss = 0.0f;
#pragma unroll
  for (int j = 0; j < NV; ++j) {
    if (valid && t + j * G < nvec) {
#pragma unroll
      for (int e = 0; e < V; ++e) ss = fmaf(detail::toFloat(f[j].e[e]), detail::toFloat(f[j].e[e]), ss);
    }
  }
  ss = detail::groupSum<G>(ss);
  if (!valid) return;
  const float rstd = detail::rmsNormRstd(ss, D, a.eps);
  float* buf = sHeads + groupInBlock * D;
#pragma unroll
  for (int j = 0; j < NV; ++j) {
    const int64_t vi = t + j * G;
    if (vi < nvec) {
#pragma unroll
      for (int e = 0; e < V; ++e) {
        const float x = detail::toFloat(f[j].e[e]);
        const float y = weight ? detail::rmsNormScale<T>(x, rstd, detail::toFloat(w[j].e[e]), a.plusOne) : x;
        buf[vi * V + e] = detail::roundTo<T>(y);  // the norm's output in T (the identity without a norm)
      }
    }
  }
  // A group lies within one warp and is valid or not as a whole; its lanes read each other's
  // elements below.
  const unsigned groupMask = G == 32 ? 0xffffffffu : ((1u << G) - 1) << (threadIdx.x & 31 & ~(G - 1));
  __syncwarp(groupMask);

  T* __restrict__ dst;
  if (which == 0) {
    dst = static_cast<T*>(a.qOut) + (row * a.H + h) * D;
  } else {
    CUDA_KERNEL_ASSERT(pos >= 0 && pos < a.capacity);
    dst = static_cast<T*>(which == 1 ? a.keys : a.values) + ((row * a.KV + h) * a.capacity + pos) * D;
  }
#pragma unroll
  for (int p = 0; p < NP; ++p) {
    const int64_t i = t + p * G;
    if (i < half) {
      float lo, hi;
      detail::ropeRotate<T>(buf[i], buf[i + half], detail::toFloat(c1[p]), detail::toFloat(c2[p]), detail::toFloat(s1[p]),
                            detail::toFloat(s2[p]), lo, hi);
      dst[i] = detail::fromFloat<T>(lo);
      dst[i + half] = detail::fromFloat<T>(hi);
    }
  }
  for (int64_t i = 2 * half + t; i < D; i += G) dst[i] = detail::fromFloat<T>(buf[i]);  // past the rotary dims
}

}  // namespace

bool decodeQkvSupported(int64_t headDim, int64_t rotaryDim) {
  return headDim > 0 && headDim <= kMaxHeadDim && rotaryDim > 0 && rotaryDim % 2 == 0 && rotaryDim <= headDim;
}

at::Tensor decodeQkv(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& qNorm,
                     const at::Tensor& kNorm, double eps, bool weightPlusOne, const at::Tensor& cos,
                     const at::Tensor& sin, int64_t rotaryDim, at::Tensor& keys, at::Tensor& values,
                     const at::Tensor& slot) {
  constexpr const char* fn = "decodeQkv";
  TORCH_CHECK(keys.defined() && keys.dim() == 4 && keys.is_cuda() && keys.is_contiguous(), fn,
              ": keys must be a contiguous CUDA (rows, kvHeads, capacity, headDim) tensor, got shape ",
              keys.defined() ? keys.sizes() : at::IntArrayRef{});
  const int64_t rows = keys.size(0), KV = keys.size(1), capacity = keys.size(2), D = keys.size(3);
  TORCH_CHECK(values.sizes() == keys.sizes() && values.is_contiguous() && values.scalar_type() == keys.scalar_type() &&
                  values.device() == keys.device(),
              fn, ": values must match keys ", keys.sizes(), ", got ", values.sizes());
  TORCH_CHECK(decodeQkvSupported(D, rotaryDim), fn, ": headDim must be in [1, ", kMaxHeadDim,
              "] and rotaryDim even in (0, headDim], got ", D, " and ", rotaryDim);
  const at::ScalarType dtype = keys.scalar_type();
  const at::Device device = keys.device();
  auto checkSource = [&](const at::Tensor& s, const char* name, int64_t heads) {
    detail::checkFloatTensor(s, fn, name, dtype, device);
    TORCH_CHECK(s.dim() == 2 && s.size(0) == rows && s.size(1) == heads * D && s.stride(1) == 1, fn, ": ", name,
                " must be (", rows, ", ", heads * D, ") with unit column stride, got shape ", s.sizes(), " strides ",
                s.strides());
  };
  TORCH_CHECK(q.dim() == 2 && q.size(1) % D == 0, fn, ": q must be (rows, heads * ", D, "), got shape ", q.sizes());
  const int64_t H = q.size(1) / D;
  checkSource(q, "q", H);
  checkSource(k, "k", KV);
  checkSource(v, "v", KV);
  TORCH_CHECK(qNorm.defined() == kNorm.defined(), fn, ": give both q and k norm weights or neither");
  detail::checkInput(cos, fn, "cos", dtype, rows * rotaryDim, device);
  detail::checkInput(sin, fn, "sin", dtype, rows * rotaryDim, device);
  detail::checkInput(slot, fn, "slot", at::kLong, 1, device);
  const c10::cuda::CUDAGuard guard(device);
  at::Tensor out = at::empty({rows, H, D}, q.options().memory_format(at::MemoryFormat::Contiguous));
  if (rows == 0) return out;

  at::Tensor qw, kw;  // the norm weights as rms_norm.cu reads them (one type for both: fp32 if they differ)
  if (qNorm.defined()) {
    qw = detail::normWeight(qNorm, "qNorm", keys, D, weightPlusOne, fn);
    kw = detail::normWeight(kNorm, "kNorm", keys, D, weightPlusOne, fn);
    if (qw.scalar_type() != kw.scalar_type()) qw = qw.to(at::kFloat), kw = kw.to(at::kFloat);
  }

  DecodeQkvArgs a{};
  const at::Tensor* sources[3] = {&q, &k, &v};
  bool aligned = true;
  for (int i = 0; i < 3; ++i) {
    a.src[i] = sources[i]->data_ptr();
    a.srcStride[i] = rows > 1 ? sources[i]->stride(0) : 0;
    aligned = aligned && detail::isAligned16(a.src[i]) && (a.srcStride[i] * sources[i]->element_size()) % 16 == 0;
  }
  a.norm[0] = qw.defined() ? qw.data_ptr() : nullptr;
  a.norm[1] = kw.defined() ? kw.data_ptr() : nullptr;
  a.eps = static_cast<float>(eps);
  a.plusOne = weightPlusOne;
  a.cos = cos.data_ptr();
  a.sin = sin.data_ptr();
  a.rows = rows, a.H = H, a.KV = KV, a.D = D, a.rotaryDim = rotaryDim;
  a.qOut = out.data_ptr();
  a.keys = keys.data_ptr();
  a.values = values.data_ptr();
  a.capacity = capacity;
  a.slot = slot.data_ptr<int64_t>();
  cudaStream_t stream = at::cuda::getCurrentCUDAStream();

  detail::dispatchFloat(dtype, fn, [&](auto tag) {
    using T = decltype(tag);
    constexpr int kVec = 16 / sizeof(T);
    // The plan rmsNormForward makes for a contiguous row of D elements and an aligned weight (a
    // norm weight is a parameter of its own), so the squares are summed in its order; the loads
    // themselves go element by element when a source does not allow vectors. (rmsNormForward on
    // a one-row source that is itself misaligned would plan scalar accesses; the engine's q/k/v
    // are column slices of a fresh allocation at multiples of headDim, never misaligned.)
    const bool weightAligned =
        !qw.defined() || (detail::isAligned16(qw.data_ptr()) && detail::isAligned16(kw.data_ptr()));
    const detail::RowPlan plan = detail::planRows(D, kVec, weightAligned);
    a.aligned = aligned && plan.vector;
    const int64_t heads = rows * (H + 2 * KV);
    auto launch = [&](auto wtag, auto vtag, auto gtag) {
      using W = decltype(wtag);
      constexpr int V = decltype(vtag)::value, G = decltype(gtag)::value;
      const int64_t grid = detail::ceilDiv(heads, kThreads / G);
      TORCH_CHECK(grid <= 0x7fffffff, fn, ": too many rows (", rows, ") for one launch");
      const size_t smem = sizeof(float) * (kThreads / G) * D;
      pdl::launch(decodeQkvKernel<T, W, V, G>, dim3(static_cast<unsigned>(grid)), dim3(kThreads), smem, stream,
                  pdl::enabled(stream), a);
    };
    auto withPlan = [&](auto wtag) {
      // planRows gives G = 8 or 32 for D <= kMaxHeadDim (at most 256 accesses a row).
      if (plan.vector) {
        if (plan.group == 8) launch(wtag, std::integral_constant<int, kVec>{}, std::integral_constant<int, 8>{});
        else launch(wtag, std::integral_constant<int, kVec>{}, std::integral_constant<int, 32>{});
      } else {
        if (plan.group == 8) launch(wtag, std::integral_constant<int, 1>{}, std::integral_constant<int, 8>{});
        else launch(wtag, std::integral_constant<int, 1>{}, std::integral_constant<int, 32>{});
      }
    };
    if (qw.defined() && qw.scalar_type() == at::kFloat && dtype != at::kFloat) {
      withPlan(float{});
    } else {
      withPlan(T{});
    }
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

}  // namespace nq::kernels
