// 4-bit blockwise dequantization (NF4 / FP4, bitsandbytes layout) on CUDA:
// out[e] = code[q(e)] * absmax[e / blocksize] in fp32 without FMA, then rounded to nearest even
// into float32 / bfloat16 / float16, bit-identical to quant::dequantizeReference (core/quant.h).
// q(e) is the high nibble of packed[e / 2] for even e, the low nibble for odd e.
// Nested (double-quantized) absmax is decoded in the kernel: nestedCode[absmaxQ[b]] *
// nestedAbsmax[b / nestedBlocksize] + offset, again without FMA.
// The output may be a given contiguous tensor (the *Into entry points), e.g. a row slice of one
// buffer that several weights dequantize into for one GEMM.
// Speed: a memory-bound stream (4 bytes written per byte read for bf16 out). Each thread
// decodes CHUNKS chunks of 32 elements (16 packed bytes each), issuing all their 16-byte loads
// before the first use so that more bytes are in flight per thread; pairs of values are
// rounded and packed with one cvt instruction. kernel_check times CHUNKS = 1, 2, 4 (variants
// 0-2) and the coalesced layout (variants 3, 4: see dequant4bitCoalescedKernel).
// Not here: the 4-bit matrix-vector product (gemv_4bit.cu), which never materializes the weight.
#include <algorithm>

#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include "kernels/kernel_util.cuh"
#include "kernels/kernel_variants.h"
#include "kernels/kernels.h"

namespace nq::kernels {
namespace {

using detail::fromFloat;
using detail::pack2;

// One chunk: 16 packed bytes (one 16-byte load) = 32 elements. blocksize is a multiple of 32,
// so a chunk never straddles two absmax blocks.
constexpr int kThreads = 256;
constexpr int kChunkBytes = 16;
constexpr int kChunkElems = 32;
constexpr int kDefaultVariant = 3;  // coalesced, 4 groups per thread (variant 0, the fastest of the chunked ones, ran at 18-45% of copy on the H200)

// e / d for a divisor that is usually a power of two (shift >= 0): a shift instead of a
// 64-bit division, which costs dozens of instructions.
__device__ __forceinline__ int64_t divide(int64_t e, int64_t d, int shift) { return shift >= 0 ? e >> shift : e / d; }

struct PlainAbsmax {
  const float* absmax;
  __device__ __forceinline__ float operator()(int64_t b) const { return absmax[b]; }
};

struct NestedAbsmax {
  const uint8_t* absmaxQ;       // (nblocks)
  const float* nestedCode;      // (256)
  const float* nestedAbsmax;    // (ceil(nblocks / nestedBlocksize))
  int64_t nestedBlocksize;
  int nestedShift;              // log2(nestedBlocksize), or -1
  float offset;
  __device__ __forceinline__ float operator()(int64_t b) const {
    return __fadd_rn(__fmul_rn(__ldg(nestedCode + absmaxQ[b]), nestedAbsmax[divide(b, nestedBlocksize, nestedShift)]),
                     offset);
  }
};

// 16 packed bytes (words, little-endian) decoded and stored as 32 consecutive outputs with
// 16-byte stores (dst 16-byte aligned: checked on the host, chunks start at multiples of 32).
__device__ __forceinline__ void decodeStore(float* dst, const uint4& raw, const float* sCode, float scale) {
  const uint32_t words[4] = {raw.x, raw.y, raw.z, raw.w};
  float4* d = reinterpret_cast<float4*>(dst);
#pragma unroll
  for (int i = 0; i < 8; ++i) {  // 2 bytes = 4 elements per float4
    const uint32_t b0 = (words[i / 2] >> (16 * (i % 2))) & 0xffu;
    const uint32_t b1 = (words[i / 2] >> (16 * (i % 2) + 8)) & 0xffu;
    d[i] = make_float4(__fmul_rn(sCode[b0 >> 4], scale), __fmul_rn(sCode[b0 & 15u], scale),
                       __fmul_rn(sCode[b1 >> 4], scale), __fmul_rn(sCode[b1 & 15u], scale));
  }
}

template <typename T>
__device__ __forceinline__ void decodeStore(T* dst, const uint4& raw, const float* sCode, float scale) {
  const uint32_t words[4] = {raw.x, raw.y, raw.z, raw.w};
  uint32_t p[kChunkBytes];
#pragma unroll
  for (int j = 0; j < kChunkBytes; ++j) {
    const uint32_t byte = (words[j / 4] >> (8 * (j % 4))) & 0xffu;  // byte j; high nibble first
    p[j] = pack2<T>(__fmul_rn(sCode[byte >> 4], scale), __fmul_rn(sCode[byte & 15u], scale));
  }
  uint4* d = reinterpret_cast<uint4*>(dst);
#pragma unroll
  for (int i = 0; i < 4; ++i) d[i] = make_uint4(p[4 * i], p[4 * i + 1], p[4 * i + 2], p[4 * i + 3]);
}

// packed (ceil(numel / 2)) -> out (numel). vectorOk: packed and out are 16-byte aligned.
// Thread t of block b decodes chunks b * kThreads * CHUNKS + u * kThreads + t (coalesced in u).
template <typename T, typename Absmax, int CHUNKS>
__global__ void __launch_bounds__(kThreads)
    dequant4bitKernel(const uint8_t* __restrict__ packed, const float* __restrict__ code, Absmax absmaxOf,
                      int64_t blocksize, int blockShift, int64_t numel, bool vectorOk, T* __restrict__ out) {
  __shared__ float sCode[16];
  if (threadIdx.x < 16) sCode[threadIdx.x] = code[threadIdx.x];
  __syncthreads();

  const int64_t first = static_cast<int64_t>(blockIdx.x) * kThreads * CHUNKS + threadIdx.x;
  uint4 raw[CHUNKS];
  float scale[CHUNKS];
#pragma unroll
  for (int u = 0; u < CHUNKS; ++u) {  // every load issued before the first use
    const int64_t e0 = (first + u * kThreads) * kChunkElems;
    if (e0 < numel) {
      if (vectorOk && e0 + kChunkElems <= numel) {
        raw[u] = __ldcs(reinterpret_cast<const uint4*>(packed + e0 / 2));  // read once: streamed
      }
      scale[u] = absmaxOf(divide(e0, blocksize, blockShift));
    }
  }
#pragma unroll
  for (int u = 0; u < CHUNKS; ++u) {
    const int64_t e0 = (first + u * kThreads) * kChunkElems;
    if (e0 >= numel) break;
    if (vectorOk && e0 + kChunkElems <= numel) {
      decodeStore(out + e0, raw[u], sCode, scale[u]);
    } else {
      // Tail (or unaligned input): byte by byte; an odd numel leaves the last low nibble unused.
      const uint8_t* src = packed + e0 / 2;
      const int64_t n = numel - e0 < kChunkElems ? numel - e0 : kChunkElems;
      for (int i = 0; i < n; ++i) {
        const uint32_t byte = src[i >> 1];
        const uint32_t q = (i & 1) ? (byte & 15u) : (byte >> 4);
        out[e0 + i] = fromFloat<T>(__fmul_rn(sCode[q], scale[u]));
      }
    }
  }
}

// Coalesced layout (variants 3 and 4): a thread decodes groups of 8 elements (one 32-bit load of
// 4 packed bytes, one 16-byte store of 8 bf16 / f16 values, two of fp32), consecutive threads
// taking consecutive groups, so each load and store instruction of a warp covers one contiguous
// run (128 bytes read, 512 written); G groups per thread are loaded before the first is decoded,
// and before the block waits for its code table.
// The chunked kernel above writes 64 contiguous bytes per thread instead: a warp's store
// instruction then touches 32 runs 64 bytes apart. Needs vectorOk; a tail of numel % 8 elements
// is decoded by the last thread of the grid.
template <typename T, typename Absmax, int G>
__global__ void __launch_bounds__(kThreads)
    dequant4bitCoalescedKernel(const uint8_t* __restrict__ packed, const float* __restrict__ code, Absmax absmaxOf,
                               int64_t blocksize, int blockShift, int64_t numel, T* __restrict__ out) {
  __shared__ float sCode[16];
  const int64_t groups = numel / 8;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * kThreads * G + threadIdx.x;
  const uint32_t* words = reinterpret_cast<const uint32_t*>(packed);
  uint32_t raw[G];
  float scale[G];
#pragma unroll
  for (int u = 0; u < G; ++u) {
    const int64_t g = first + u * kThreads;
    if (g < groups) {
      raw[u] = __ldcs(words + g);
      scale[u] = absmaxOf(divide(g * 8, blocksize, blockShift));
    }
  }
  // The table after the loads are issued: its load and the barrier overlap theirs.
  if (threadIdx.x < 16) sCode[threadIdx.x] = code[threadIdx.x];
  __syncthreads();
#pragma unroll
  for (int u = 0; u < G; ++u) {
    const int64_t g = first + u * kThreads;
    if (g >= groups) break;
    float v[8];
#pragma unroll
    for (int j = 0; j < 4; ++j) {  // byte j holds elements 2j (high nibble) and 2j + 1
      const uint32_t byte = (raw[u] >> (8 * j)) & 0xffu;
      v[2 * j] = __fmul_rn(sCode[byte >> 4], scale[u]);
      v[2 * j + 1] = __fmul_rn(sCode[byte & 15u], scale[u]);
    }
    if constexpr (sizeof(T) == 4) {
      float4* d = reinterpret_cast<float4*>(out + g * 8);
      d[0] = make_float4(v[0], v[1], v[2], v[3]);
      d[1] = make_float4(v[4], v[5], v[6], v[7]);
    } else {
      *reinterpret_cast<uint4*>(out + g * 8) =
          make_uint4(pack2<T>(v[0], v[1]), pack2<T>(v[2], v[3]), pack2<T>(v[4], v[5]), pack2<T>(v[6], v[7]));
    }
  }
  const int64_t lastThread = static_cast<int64_t>(gridDim.x) * kThreads - 1;
  if (static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x == lastThread) {
    for (int64_t e = groups * 8; e < numel; ++e) {  // the tail: fewer than 8 elements
      const uint32_t byte = packed[e >> 1];
      const uint32_t q = (e & 1) ? (byte & 15u) : (byte >> 4);
      out[e] = fromFloat<T>(__fmul_rn(sCode[q], absmaxOf(divide(e, blocksize, blockShift))));
    }
  }
}

int log2IfPow2(int64_t v) {
  if (v <= 0 || (v & (v - 1)) != 0) return -1;
  int s = 0;
  while ((int64_t{1} << s) < v) ++s;
  return s;
}

void checkCommon(const char* fn, const at::Tensor& packed, const at::Tensor& code, int64_t blocksize,
                 int64_t numel) {
  TORCH_CHECK(numel >= 0, fn, ": numel must be >= 0, got ", numel);
  TORCH_CHECK(blocksize > 0 && blocksize % kChunkElems == 0, fn,
              ": blocksize must be a positive multiple of 32 (bitsandbytes uses 64..4096), got ", blocksize);
  TORCH_CHECK(packed.defined() && packed.is_cuda(), fn, ": packed must be a CUDA tensor");
  const at::Device device = packed.device();
  detail::checkInput(packed, fn, "packed", at::kByte, (numel + 1) / 2, device);
  detail::checkInput(code, fn, "code", at::kFloat, 16, device);
}

void checkOut(const char* fn, const at::Tensor& out, int64_t numel, const at::Device& device) {
  TORCH_CHECK(out.defined(), fn, ": out is an undefined tensor");
  const at::ScalarType t = out.scalar_type();
  TORCH_CHECK(t == at::kFloat || t == at::kBFloat16 || t == at::kHalf, fn,
              ": out dtype must be float32, bfloat16 or float16, got ", t);
  detail::checkInput(out, fn, "out", t, numel, device);
}

template <typename T, typename Absmax, int CHUNKS>
void launchChunks(const uint8_t* p, const float* c, const Absmax& absmaxOf, int64_t blocksize, int64_t numel,
                  bool vectorOk, T* out, cudaStream_t stream) {
  const int64_t grid = detail::ceilDiv(detail::ceilDiv(numel, kChunkElems), int64_t{kThreads} * CHUNKS);
  TORCH_CHECK(grid <= 0x7fffffff, "dequantize4bit: numel ", numel, " is too large for one launch");
  dequant4bitKernel<T, Absmax, CHUNKS><<<static_cast<unsigned>(grid), kThreads, 0, stream>>>(
      p, c, absmaxOf, blocksize, log2IfPow2(blocksize), numel, vectorOk, out);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T, typename Absmax, int G>
void launchCoalesced(const uint8_t* p, const float* c, const Absmax& absmaxOf, int64_t blocksize, int64_t numel, T* out,
                     cudaStream_t stream) {
  const int64_t grid = std::max<int64_t>(1, detail::ceilDiv(numel / 8, int64_t{kThreads} * G));
  TORCH_CHECK(grid <= 0x7fffffff, "dequantize4bit: numel ", numel, " is too large for one launch");
  dequant4bitCoalescedKernel<T, Absmax, G><<<static_cast<unsigned>(grid), kThreads, 0, stream>>>(
      p, c, absmaxOf, blocksize, log2IfPow2(blocksize), numel, out);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename Absmax>
void launchDequant(const at::Tensor& packed, const at::Tensor& code, const Absmax& absmaxOf, int64_t blocksize,
                   int64_t numel, at::Tensor& out, int variant) {
  TORCH_CHECK(variant >= 0 && variant < variants::kDequantVariants, "dequantize4bit: variant ", variant,
              " out of range");
  if (numel == 0) return;
  const c10::cuda::CUDAGuard guard(packed.device());
  const bool vectorOk = detail::isAligned16(packed.data_ptr()) && detail::isAligned16(out.data_ptr());
  const uint8_t* p = packed.data_ptr<uint8_t>();
  const float* c = code.data_ptr<float>();
  cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  detail::dispatchFloat(out.scalar_type(), "dequantize4bit", [&](auto tag) {
    using T = decltype(tag);
    T* o = detail::ptr<T>(out);
    if (variant >= 3 && !vectorOk) variant = 0;  // the coalesced kernel needs aligned pointers
    switch (variant) {
      case 0: launchChunks<T, Absmax, 1>(p, c, absmaxOf, blocksize, numel, vectorOk, o, stream); break;
      case 1: launchChunks<T, Absmax, 2>(p, c, absmaxOf, blocksize, numel, vectorOk, o, stream); break;
      case 2: launchChunks<T, Absmax, 4>(p, c, absmaxOf, blocksize, numel, vectorOk, o, stream); break;
      case 3: launchCoalesced<T, Absmax, 4>(p, c, absmaxOf, blocksize, numel, o, stream); break;
      default: launchCoalesced<T, Absmax, 8>(p, c, absmaxOf, blocksize, numel, o, stream); break;
    }
  });
}

at::Tensor newOut(const at::Tensor& packed, int64_t numel, at::ScalarType out, const char* fn) {
  TORCH_CHECK(out == at::kFloat || out == at::kBFloat16 || out == at::kHalf, fn,
              ": out dtype must be float32, bfloat16 or float16, got ", out);
  TORCH_CHECK(packed.defined(), fn, ": packed is an undefined tensor");
  return at::empty({numel}, packed.options().dtype(out));
}

}  // namespace

namespace variants {

const char* dequantVariantName(int variant) {
  switch (variant) {
    case 0: return "1 chunk/thread";
    case 1: return "2 chunks/thread";
    case 2: return "4 chunks/thread";
    case 3: return "coalesced, 4 groups/thread";
    default: return "coalesced, 8 groups/thread";
  }
}

void dequantize4bitInto(const at::Tensor& packed, const at::Tensor& code, const at::Tensor& absmax,
                        int64_t blocksize, int64_t numel, at::Tensor& out, int variant) {
  constexpr const char* fn = "dequantize4bitInto";
  checkCommon(fn, packed, code, blocksize, numel);
  checkOut(fn, out, numel, packed.device());
  detail::checkInput(absmax, fn, "absmax", at::kFloat, detail::ceilDiv(numel, blocksize), packed.device());
  launchDequant(packed, code, PlainAbsmax{absmax.data_ptr<float>()}, blocksize, numel, out, variant);
}

void dequantize4bitNestedInto(const at::Tensor& packed, const at::Tensor& code, const at::Tensor& absmaxQ,
                              const at::Tensor& nestedCode, const at::Tensor& nestedAbsmax, int64_t nestedBlocksize,
                              float offset, int64_t blocksize, int64_t numel, at::Tensor& out, int variant) {
  constexpr const char* fn = "dequantize4bitNestedInto";
  checkCommon(fn, packed, code, blocksize, numel);
  checkOut(fn, out, numel, packed.device());
  TORCH_CHECK(nestedBlocksize > 0, fn, ": nestedBlocksize must be > 0, got ", nestedBlocksize);
  const int64_t nblocks = detail::ceilDiv(numel, blocksize);
  const at::Device device = packed.device();
  detail::checkInput(absmaxQ, fn, "absmaxQ", at::kByte, nblocks, device);
  detail::checkInput(nestedCode, fn, "nestedCode", at::kFloat, 256, device);
  detail::checkInput(nestedAbsmax, fn, "nestedAbsmax", at::kFloat, detail::ceilDiv(nblocks, nestedBlocksize),
                     device);
  const NestedAbsmax absmaxOf{absmaxQ.data_ptr<uint8_t>(),   nestedCode.data_ptr<float>(),
                              nestedAbsmax.data_ptr<float>(), nestedBlocksize,
                              log2IfPow2(nestedBlocksize),    offset};
  launchDequant(packed, code, absmaxOf, blocksize, numel, out, variant);
}

}  // namespace variants

void dequantize4bitInto(const at::Tensor& packed, const at::Tensor& code, const at::Tensor& absmax,
                        int64_t blocksize, int64_t numel, at::Tensor& out) {
  variants::dequantize4bitInto(packed, code, absmax, blocksize, numel, out, kDefaultVariant);
}

void dequantize4bitNestedInto(const at::Tensor& packed, const at::Tensor& code, const at::Tensor& absmaxQ,
                              const at::Tensor& nestedCode, const at::Tensor& nestedAbsmax, int64_t nestedBlocksize,
                              float offset, int64_t blocksize, int64_t numel, at::Tensor& out) {
  variants::dequantize4bitNestedInto(packed, code, absmaxQ, nestedCode, nestedAbsmax, nestedBlocksize, offset,
                                     blocksize, numel, out, kDefaultVariant);
}

at::Tensor dequantize4bit(const at::Tensor& packed, const at::Tensor& code, const at::Tensor& absmax,
                          int64_t blocksize, int64_t numel, at::ScalarType out) {
  at::Tensor result = newOut(packed, numel, out, "dequantize4bit");
  dequantize4bitInto(packed, code, absmax, blocksize, numel, result);
  return result;
}

at::Tensor dequantize4bitNested(const at::Tensor& packed, const at::Tensor& code, const at::Tensor& absmaxQ,
                                const at::Tensor& nestedCode, const at::Tensor& nestedAbsmax,
                                int64_t nestedBlocksize, float offset, int64_t blocksize, int64_t numel,
                                at::ScalarType out) {
  at::Tensor result = newOut(packed, numel, out, "dequantize4bitNested");
  dequantize4bitNestedInto(packed, code, absmaxQ, nestedCode, nestedAbsmax, nestedBlocksize, offset, blocksize,
                           numel, result);
  return result;
}

}  // namespace nq::kernels
