// 4-bit matrix-vector product for decoding on CUDA: y (rows, out) = x (rows, in) @ W^T with
// W (out, in) stored 4-bit as bitsandbytes packs it (row-major flattened, two codes per byte,
// high nibble first, one fp32 absmax per `blocksize` consecutive elements of the flattened
// weight). W is never materialized: each warp streams one packed row and decodes it in
// registers. Accumulation in fp32, result rounded (nearest even) to x's dtype.
// Two fast kernels: the first version (one output feature per warp, variant 0) and the tuned
// one (variants 1-5): K = 1, 2 or 4 output features per warp so each x value loaded and
// converted serves K weights; table offsets formed for 4 nibbles at once (one shift + mask per
// 32-bit word, then one PRMT (the shared address) + one shared load per weight); the input dimension split
// over S warps of a block (reduced through shared memory) when the output has too few features
// to fill the GPU with warps. Variants 6-8 are the tensor-core kernel of gemv_4bit_mma.cu (bf16
// and fp16 x, blocksize >= 64; other inputs run variant 2). kernel_check times all of them;
// variants 9-11 are the streaming kernel of gemv_4bit_stream.cu, bit-identical to variant 2.
// The engine runs variant 10 (pair table) at one row and variant 2 at more (NQ_GEMV_VARIANT=N
// picks any variant for every row count); NQ_GEMV_MMA=1 puts it on the tensor-core kernel (not
// the default: no faster at one row on the H200, and its bf16-rounded codes flip greedy tokens
// between batched and one-at-a-time decoding on tiny random models; docs/perf-notes.md).
// Not here: dequantization to a dense tensor (dequant_4bit.cu); a double-quantized absmax
// (the caller passes the fp32 absmax, quant::absmaxFloat).
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include <cstdlib>
#include <cstring>

#include "kernels/gemv_4bit_mma.h"
#include "kernels/gemv_4bit_stream.h"
#include "kernels/gemv_4bit_util.cuh"
#include "kernels/kernel_util.cuh"
#include "kernels/kernel_variants.h"
#include "kernels/kernels.h"

namespace nq::kernels {
namespace {

using detail::fromFloat;
using detail::toFloat;
using detail::unpack2;

constexpr int kWarps = 8;          // warps per thread block; one output feature per warp
constexpr int kThreads = kWarps * 32;
using gemv::kMaxRows;  // rows per launch; more rows are done 8 at a time
constexpr int kUnroll = 4;         // 16-byte weight loads in flight per lane before first use
using gemv::kChunkElems;
constexpr int kScalarVariants = 6;  // 0..5 here; kScalarVariants + i is the tensor-core variant i
constexpr int kDefaultScalar = 2;   // K = 2 features per warp; see kernel_check's gemv rows
constexpr int kMmaVariant = kScalarVariants;  // tensor cores, 8 warps, 4 k-blocks ahead (opt-in)
constexpr int kFirstStream = kScalarVariants + mma::kVariants;  // gemv_4bit_stream.cu's variants

// Dot product of 32 code values w (unscaled) with x[k0 .. k0+32) of one row of x.
__device__ __forceinline__ float dot32(const float* __restrict__ x, const float (&w)[kChunkElems]) {
  const float4* xv = reinterpret_cast<const float4*>(x);
  float s = 0.0f;
#pragma unroll
  for (int i = 0; i < kChunkElems / 4; ++i) {
    const float4 v = __ldg(xv + i);
    s = fmaf(w[4 * i], v.x, s);
    s = fmaf(w[4 * i + 1], v.y, s);
    s = fmaf(w[4 * i + 2], v.z, s);
    s = fmaf(w[4 * i + 3], v.w, s);
  }
  return s;
}

template <typename T>  // __nv_bfloat16 or __half
__device__ __forceinline__ float dot32(const T* __restrict__ x, const float (&w)[kChunkElems]) {
  const uint4* xv = reinterpret_cast<const uint4*>(x);
  float s = 0.0f;
#pragma unroll
  for (int i = 0; i < kChunkElems / 8; ++i) {
    const uint4 v = __ldg(xv + i);
    const uint32_t words[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const float2 f = unpack2(words[j], T{});
      s = fmaf(w[8 * i + 2 * j], f.x, s);
      s = fmaf(w[8 * i + 2 * j + 1], f.y, s);
    }
  }
  return s;
}

// Fast path: in % 32 == 0, blocksize a power of two >= 32 (so a 32-element chunk lies in one
// absmax block), packed and x 16-byte aligned. x (R, in), y (R, out) with row stride yStride.
template <typename T, int R>
__global__ void __launch_bounds__(kThreads)
    gemv4bitKernel(const T* __restrict__ x, const uint8_t* __restrict__ packed, const float* __restrict__ code,
                   const float* __restrict__ absmax, int blockShift, int64_t outFeatures, int64_t inFeatures,
                   T* __restrict__ y, int64_t yStride) {
  __shared__ float sCode[16];
  if (threadIdx.x < 16) sCode[threadIdx.x] = code[threadIdx.x];
  __syncthreads();

  const int lane = threadIdx.x & 31;
  const int64_t n = static_cast<int64_t>(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  if (n >= outFeatures) return;  // whole warp: n is uniform within it

  const int64_t chunks = inFeatures / kChunkElems;
  const int64_t rowElem0 = n * inFeatures;
  const uint4* row = reinterpret_cast<const uint4*>(packed + rowElem0 / 2);
  float acc[R];
#pragma unroll
  for (int r = 0; r < R; ++r) acc[r] = 0.0f;

  for (int64_t c0 = lane; c0 < chunks; c0 += 32 * kUnroll) {
    uint4 raw[kUnroll];
    float scale[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t c = c0 + 32 * u;
      if (c < chunks) {
        raw[u] = __ldcs(row + c);  // read once: stream it, keep L1 for x
        scale[u] = __ldg(absmax + ((rowElem0 + c * kChunkElems) >> blockShift));
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t c = c0 + 32 * u;
      if (c < chunks) {
        const uint32_t words[4] = {raw[u].x, raw[u].y, raw[u].z, raw[u].w};
        float w[kChunkElems];
#pragma unroll
        for (int j = 0; j < 16; ++j) {
          const uint32_t byte = (words[j / 4] >> (8 * (j % 4))) & 0xffu;  // little-endian: byte j
          w[2 * j] = sCode[byte >> 4];
          w[2 * j + 1] = sCode[byte & 15u];
        }
        const int64_t k0 = c * kChunkElems;
#pragma unroll
        for (int r = 0; r < R; ++r) acc[r] = fmaf(dot32(x + r * inFeatures + k0, w), scale[u], acc[r]);
      }
    }
  }

#pragma unroll
  for (int r = 0; r < R; ++r) {
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) acc[r] += __shfl_xor_sync(0xffffffffu, acc[r], off);
  }
  if (lane == 0) {
#pragma unroll
    for (int r = 0; r < R; ++r) y[r * yStride + n] = fromFloat<T>(acc[r]);
  }
}

// Tuned fast path (same conditions as gemv4bitKernel). A block has kWarps warps in groups of
// `splits` (1, 2, 4 or 8, dividing kWarps); a group owns K consecutive output features and its
// warps take interleaved 32-chunk strides of the input dimension, U chunks of each feature
// loaded ahead. x (R, in); y (R, out).
template <typename T, int R, int K, int U>
__global__ void __launch_bounds__(kThreads)
    gemv4bitSplitKernel(const T* __restrict__ x, const uint8_t* __restrict__ packed, const float* __restrict__ code,
                        const float* __restrict__ absmax, int blockShift, int64_t outFeatures, int64_t inFeatures,
                        int splits, T* __restrict__ y, int64_t yStride) {
  // U chunks per feature in flight: K * U 16-byte loads per lane before the first use.
  __shared__ gemv::CodeTable sTable;
  __shared__ float sPartial[kWarps][K * R];
  const uint32_t codeBase = gemv::fillCodeTable(sTable, code);
  __syncthreads();

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int group = warp / splits, split = warp - group * splits;
  const int64_t n0 = (static_cast<int64_t>(blockIdx.x) * (kWarps / splits) + group) * K;
  const int64_t chunks = inFeatures / kChunkElems;
  const uint4* row[K];
  int64_t rowElem0[K];
#pragma unroll
  for (int k = 0; k < K; ++k) {
    const int64_t n = n0 + k < outFeatures ? n0 + k : outFeatures - 1;  // past the end: read, never written
    rowElem0[k] = n * inFeatures;
    row[k] = reinterpret_cast<const uint4*>(packed + rowElem0[k] / 2);
  }
  float acc[K][R];
#pragma unroll
  for (int k = 0; k < K; ++k)
#pragma unroll
    for (int r = 0; r < R; ++r) acc[k][r] = 0.0f;

  const int64_t stride = 32 * static_cast<int64_t>(splits);
  for (int64_t c0 = lane + 32 * split; c0 < chunks; c0 += stride * U) {
    uint4 raw[U][K];
    float scale[U][K];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t c = c0 + stride * u;
      if (c < chunks) {
#pragma unroll
        for (int k = 0; k < K; ++k) {
          raw[u][k] = __ldcs(row[k] + c);  // read once: stream it, keep L1 for x
          scale[u][k] = __ldg(absmax + ((rowElem0[k] + c * kChunkElems) >> blockShift));
        }
      }
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t c = c0 + stride * u;
      if (c >= chunks) break;
      float sum[K][R];
      gemv::chunkDot<T, R, K>(x, inFeatures, c, raw[u], codeBase, sum);
#pragma unroll
      for (int k = 0; k < K; ++k)
#pragma unroll
        for (int r = 0; r < R; ++r) acc[k][r] = fmaf(sum[k][r], scale[u][k], acc[k][r]);
    }
  }

  gemv::reduceOverSplit<K, R>(acc, sPartial, warp, lane, split, splits);
  if (split != 0) return;
  if (lane == 0) {
#pragma unroll
    for (int k = 0; k < K; ++k) {
      if (n0 + k < outFeatures) {
#pragma unroll
        for (int r = 0; r < R; ++r) y[r * yStride + n0 + k] = fromFloat<T>(acc[k][r]);
      }
    }
  }
}

// General path: any inFeatures, any blocksize, any alignment; element by element.
template <typename T, int R>
__global__ void __launch_bounds__(kThreads)
    gemv4bitGenericKernel(const T* __restrict__ x, const uint8_t* __restrict__ packed,
                          const float* __restrict__ code, const float* __restrict__ absmax, int64_t blocksize,
                          int64_t outFeatures, int64_t inFeatures, T* __restrict__ y, int64_t yStride) {
  __shared__ float sCode[16];
  if (threadIdx.x < 16) sCode[threadIdx.x] = code[threadIdx.x];
  __syncthreads();

  const int lane = threadIdx.x & 31;
  const int64_t n = static_cast<int64_t>(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  if (n >= outFeatures) return;

  const int64_t rowElem0 = n * inFeatures;
  float acc[R];
#pragma unroll
  for (int r = 0; r < R; ++r) acc[r] = 0.0f;
  for (int64_t k = lane; k < inFeatures; k += 32) {
    const int64_t e = rowElem0 + k;
    const uint32_t byte = packed[e >> 1];
    const uint32_t q = (e & 1) ? (byte & 15u) : (byte >> 4);
    const float w = __fmul_rn(sCode[q], absmax[e / blocksize]);
#pragma unroll
    for (int r = 0; r < R; ++r) acc[r] = fmaf(w, toFloat(x[r * inFeatures + k]), acc[r]);
  }

#pragma unroll
  for (int r = 0; r < R; ++r) {
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) acc[r] += __shfl_xor_sync(0xffffffffu, acc[r], off);
  }
  if (lane == 0) {
#pragma unroll
    for (int r = 0; r < R; ++r) y[r * yStride + n] = fromFloat<T>(acc[r]);
  }
}

struct GemvArgs {
  const uint8_t* packed;
  const float* code;
  const float* absmax;
  int64_t blocksize;
  int blockShift;  // log2(blocksize) on the fast path
  bool fast;
  int64_t outFeatures;
  int64_t inFeatures;
  int variant;  // 0: gemv4bitKernel; 1..5: gemv4bitSplitKernel (K, U) = (1,4) (2,2) (4,1) (2,4) (4,2)
  int numSMs;
  cudaStream_t stream;
};

template <typename T, int R, int K, int U>
void launchSplit(const GemvArgs& a, const T* x, T* y) {
  const int64_t groups = detail::ceilDiv(a.outFeatures, K);
  const int splits = gemv::splitsFor(groups, a.inFeatures / kChunkElems, a.numSMs, kWarps);
  const int64_t grid = detail::ceilDiv(groups, kWarps / splits);
  TORCH_CHECK(grid <= 0x7fffffff, "gemv4bit: outFeatures ", a.outFeatures, " is too large for one launch");
  gemv4bitSplitKernel<T, R, K, U><<<static_cast<unsigned>(grid), kThreads, 0, a.stream>>>(
      x, a.packed, a.code, a.absmax, a.blockShift, a.outFeatures, a.inFeatures, splits, y, a.outFeatures);
}

template <typename T, int R>
void launchRows(const GemvArgs& a, const T* x, T* y) {
  const int64_t grid = detail::ceilDiv(a.outFeatures, kWarps);
  TORCH_CHECK(grid <= 0x7fffffff, "gemv4bit: outFeatures ", a.outFeatures, " is too large for one launch");
  if (a.fast && a.variant > 0) {
    // Variants 4 and 5 (deeper load queues) exist for rows = 1 only, the decode case they are
    // timed on; other row counts take variant 2.
    switch (a.variant) {
      case 1: launchSplit<T, R, 1, 4>(a, x, y); break;
      case 3: launchSplit<T, R, 4, 1>(a, x, y); break;
      case 4:
        if constexpr (R == 1) {
          launchSplit<T, R, 2, 4>(a, x, y);
        } else {
          launchSplit<T, R, 2, 2>(a, x, y);
        }
        break;
      case 5:
        if constexpr (R == 1) {
          launchSplit<T, R, 4, 2>(a, x, y);
        } else {
          launchSplit<T, R, 2, 2>(a, x, y);
        }
        break;
      default: launchSplit<T, R, 2, 2>(a, x, y); break;
    }
  } else if (a.fast) {
    gemv4bitKernel<T, R><<<static_cast<unsigned>(grid), kThreads, 0, a.stream>>>(
        x, a.packed, a.code, a.absmax, a.blockShift, a.outFeatures, a.inFeatures, y, a.outFeatures);
  } else {
    gemv4bitGenericKernel<T, R><<<static_cast<unsigned>(grid), kThreads, 0, a.stream>>>(
        x, a.packed, a.code, a.absmax, a.blocksize, a.outFeatures, a.inFeatures, y, a.outFeatures);
  }
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T>
void launchAll(const GemvArgs& a, const T* x, T* y, int64_t rows) {
  gemv::forRowPasses(rows, [&](auto r, int64_t r0) {
    launchRows<T, decltype(r)::value>(a, x + r0 * a.inFeatures, y + r0 * a.outFeatures);
  });
}

int log2IfPow2(int64_t v) {
  if (v <= 0 || (v & (v - 1)) != 0) return -1;
  int s = 0;
  while ((int64_t{1} << s) < v) ++s;
  return s;
}

}  // namespace

namespace variants {

const char* gemvVariantName(int variant) {
  if (variant >= kFirstStream) return stream::variantName(variant - kFirstStream);
  if (variant >= kScalarVariants) return mma::variantName(variant - kScalarVariants);
  switch (variant) {
    case 0: return "1 feature/warp (first version)";
    case 1: return "K=1 U=4 split";
    case 2: return "K=2 U=2 split";
    case 3: return "K=4 U=1 split";
    case 4: return "K=2 U=4 split";
    default: return "K=4 U=2 split";
  }
}

at::Tensor gemv4bit(const at::Tensor& x, const at::Tensor& packed, const at::Tensor& code, const at::Tensor& absmax,
                    int64_t blocksize, int64_t outFeatures, int64_t inFeatures, int variant) {
  constexpr const char* fn = "gemv4bit";
  TORCH_CHECK(variant >= 0 && variant < kGemvVariants, fn, ": variant ", variant, " out of range");
  TORCH_CHECK(outFeatures > 0 && inFeatures > 0, fn, ": outFeatures and inFeatures must be > 0, got ",
              outFeatures, " and ", inFeatures);
  TORCH_CHECK(blocksize > 0, fn, ": blocksize must be > 0, got ", blocksize);
  TORCH_CHECK(x.defined() && x.is_cuda(), fn, ": x must be a CUDA tensor");
  TORCH_CHECK(x.dim() == 2 && x.size(1) == inFeatures, fn, ": x must be (rows, ", inFeatures, "), got shape ",
              x.sizes());
  const at::ScalarType dtype = x.scalar_type();
  TORCH_CHECK(dtype == at::kFloat || dtype == at::kBFloat16 || dtype == at::kHalf, fn,
              ": x must be float32, bfloat16 or float16, got ", dtype);
  const at::Device device = x.device();
  const int64_t rows = x.size(0);
  detail::checkInput(x, fn, "x", dtype, rows * inFeatures, device);
  const int64_t numel = outFeatures * inFeatures;
  detail::checkInput(packed, fn, "packed", at::kByte, (numel + 1) / 2, device);
  detail::checkInput(code, fn, "code", at::kFloat, 16, device);
  detail::checkInput(absmax, fn, "absmax", at::kFloat, detail::ceilDiv(numel, blocksize), device);

  const c10::cuda::CUDAGuard guard(device);
  at::Tensor y = at::empty({rows, outFeatures}, x.options());
  if (rows == 0) return y;
  const int numSMs = at::cuda::getCurrentDeviceProperties()->multiProcessorCount;
  const int blockShift = log2IfPow2(blocksize);
  const bool fast = inFeatures % kChunkElems == 0 && blockShift >= 5 && detail::isAligned16(packed.data_ptr()) &&
                    detail::isAligned16(x.data_ptr());
  GemvLaunch launch{packed.data_ptr<uint8_t>(), code.data_ptr<float>(), absmax.data_ptr<float>(), blockShift,
                    outFeatures, inFeatures, 0, numSMs, at::cuda::getCurrentCUDAStream()};
  if (variant >= kFirstStream) {
    if (fast) {
      launch.variant = variant - kFirstStream;
      stream::gemv4bit(launch, x, y);
      return y;
    }
    variant = kDefaultScalar;
  }
  if (variant >= kScalarVariants) {
    if (mma::eligible(dtype, inFeatures, blocksize, packed.data_ptr(), x.data_ptr())) {
      launch.variant = variant - kScalarVariants;
      mma::gemv4bit(launch, x, y);
      return y;
    }
    variant = kDefaultScalar;
  }

  GemvArgs a{};
  a.packed = packed.data_ptr<uint8_t>();
  a.code = code.data_ptr<float>();
  a.absmax = absmax.data_ptr<float>();
  a.blocksize = blocksize;
  a.blockShift = blockShift;
  a.fast = fast;
  a.outFeatures = outFeatures;
  a.inFeatures = inFeatures;
  a.variant = variant;
  a.numSMs = numSMs;
  a.stream = at::cuda::getCurrentCUDAStream();

  switch (dtype) {
    case at::kFloat: launchAll<float>(a, x.data_ptr<float>(), y.data_ptr<float>(), rows); break;
    case at::kBFloat16:
      launchAll<__nv_bfloat16>(a, reinterpret_cast<const __nv_bfloat16*>(x.data_ptr()),
                               reinterpret_cast<__nv_bfloat16*>(y.data_ptr()), rows);
      break;
    default:
      launchAll<__half>(a, reinterpret_cast<const __half*>(x.data_ptr()), reinterpret_cast<__half*>(y.data_ptr()),
                        rows);
      break;
  }
  return y;
}

}  // namespace variants

constexpr int kDefaultOneRow = kFirstStream + 1;  // the pair-table kernel, bit-identical to kDefaultScalar

// The engine's variant when set: NQ_GEMV_VARIANT=N (any kernel_check variant, to compare them end
// to end) or NQ_GEMV_MMA=1 (the tensor-core kernel); -1 when neither is set (the defaults).
int engineVariant() {
  static const int variant = [] {
    if (const char* v = std::getenv("NQ_GEMV_VARIANT"); v != nullptr && *v != '\0') {
      char* end = nullptr;
      const long n = std::strtol(v, &end, 10);
      TORCH_CHECK(*end == '\0' && n >= 0 && n < variants::kGemvVariants, "NQ_GEMV_VARIANT must be a gemv variant 0..",
                  variants::kGemvVariants - 1, " (kernel_variants.h), got '", v, "'");
      return static_cast<int>(n);
    }
    const char* mma = std::getenv("NQ_GEMV_MMA");
    return mma != nullptr && std::strcmp(mma, "1") == 0 ? kMmaVariant : -1;
  }();
  return variant;
}

bool gemvTensorCores() { return engineVariant() >= kScalarVariants && engineVariant() < kFirstStream; }

at::Tensor gemv4bit(const at::Tensor& x, const at::Tensor& packed, const at::Tensor& code,
                    const at::Tensor& absmax, int64_t blocksize, int64_t outFeatures, int64_t inFeatures) {
  const int chosen = engineVariant();
  const int variant = chosen >= 0 ? chosen : x.dim() == 2 && x.size(0) == 1 ? kDefaultOneRow : kDefaultScalar;
  return variants::gemv4bit(x, packed, code, absmax, blocksize, outFeatures, inFeatures, variant);
}

int64_t gemvMaxRows(at::ScalarType dtype) {
  return gemvTensorCores() && (dtype == at::kBFloat16 || dtype == at::kHalf) ? 32 : kMaxRows;
}

}  // namespace nq::kernels
