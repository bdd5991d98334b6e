// 4-bit blockwise dequantization (NF4 / FP4, bitsandbytes layout) on CUDA:
// out[e] = code[q(e)] * absmax[e / blocksize] in fp32 without FMA, then rounded to nearest even
// into float32 / bfloat16 / float16, bit-identical to quant::dequantizeReference (core/quant.h).
// q(e) is the high nibble of packed[e / 2] for even e, the low nibble for odd e.
// Nested (double-quantized) absmax is decoded in the kernel: nestedCode[absmaxQ[b]] *
// nestedAbsmax[b / nestedBlocksize] + offset, again without FMA.
// Not here: the 4-bit matrix-vector product (gemv_4bit.cu), which never materializes the weight.
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include "kernels/kernel_util.cuh"
#include "kernels/kernels.h"

namespace nq::kernels {
namespace {

using detail::bits16;
using detail::fromFloat;

// One thread decodes one chunk: 16 packed bytes (one 16-byte load) = 32 elements. blocksize is
// a multiple of 32, so a chunk never straddles two absmax blocks.
constexpr int kThreads = 256;
constexpr int kChunkBytes = 16;
constexpr int kChunkElems = 32;

struct PlainAbsmax {
  const float* absmax;
  __device__ __forceinline__ float operator()(int64_t b) const { return absmax[b]; }
};

struct NestedAbsmax {
  const uint8_t* absmaxQ;       // (nblocks)
  const float* nestedCode;      // (256)
  const float* nestedAbsmax;    // (ceil(nblocks / nestedBlocksize))
  int64_t nestedBlocksize;
  float offset;
  __device__ __forceinline__ float operator()(int64_t b) const {
    return __fadd_rn(__fmul_rn(nestedCode[absmaxQ[b]], nestedAbsmax[b / nestedBlocksize]), offset);
  }
};

// 32 fp32 values to 32 consecutive outputs with 16-byte stores (dst is 16-byte aligned: the
// output is freshly allocated and every chunk starts at a multiple of 32 elements).
__device__ __forceinline__ void storeChunk(float* dst, const float (&v)[kChunkElems]) {
  float4* d = reinterpret_cast<float4*>(dst);
#pragma unroll
  for (int i = 0; i < kChunkElems / 4; ++i) d[i] = make_float4(v[4 * i], v[4 * i + 1], v[4 * i + 2], v[4 * i + 3]);
}

template <typename T>
__device__ __forceinline__ void storeChunk(T* dst, const float (&v)[kChunkElems]) {
  uint32_t p[kChunkElems / 2];
#pragma unroll
  for (int i = 0; i < kChunkElems / 2; ++i) p[i] = bits16<T>(v[2 * i]) | (bits16<T>(v[2 * i + 1]) << 16);
  uint4* d = reinterpret_cast<uint4*>(dst);
#pragma unroll
  for (int i = 0; i < kChunkElems / 8; ++i) d[i] = make_uint4(p[4 * i], p[4 * i + 1], p[4 * i + 2], p[4 * i + 3]);
}

// packed (ceil(numel / 2)) -> out (numel). vectorOk: packed is 16-byte aligned.
template <typename T, typename Absmax>
__global__ void __launch_bounds__(kThreads)
    dequant4bitKernel(const uint8_t* __restrict__ packed, const float* __restrict__ code, Absmax absmaxOf,
                      int64_t blocksize, int64_t numel, bool vectorOk, T* __restrict__ out) {
  __shared__ float sCode[16];
  if (threadIdx.x < 16) sCode[threadIdx.x] = code[threadIdx.x];
  __syncthreads();

  const int64_t chunk = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  const int64_t e0 = chunk * kChunkElems;
  if (e0 >= numel) return;
  const float scale = absmaxOf(e0 / blocksize);
  const uint8_t* src = packed + chunk * kChunkBytes;
  T* dst = out + e0;

  if (vectorOk && e0 + kChunkElems <= numel) {
    const uint4 raw = __ldcs(reinterpret_cast<const uint4*>(src));
    const uint32_t words[4] = {raw.x, raw.y, raw.z, raw.w};
    float v[kChunkElems];
#pragma unroll
    for (int j = 0; j < kChunkBytes; ++j) {
      const uint32_t byte = (words[j / 4] >> (8 * (j % 4))) & 0xffu;  // little-endian: byte j
      v[2 * j] = __fmul_rn(sCode[byte >> 4], scale);
      v[2 * j + 1] = __fmul_rn(sCode[byte & 15u], scale);
    }
    storeChunk(dst, v);
  } else {
    // Tail (or unaligned input): byte by byte; an odd numel leaves the last low nibble unused.
    const int64_t n = numel - e0 < kChunkElems ? numel - e0 : kChunkElems;
    for (int i = 0; i < n; ++i) {
      const uint32_t byte = src[i >> 1];
      const uint32_t q = (i & 1) ? (byte & 15u) : (byte >> 4);
      dst[i] = fromFloat<T>(__fmul_rn(sCode[q], scale));
    }
  }
}

void checkCommon(const char* fn, const at::Tensor& packed, const at::Tensor& code, int64_t blocksize,
                 int64_t numel, at::ScalarType out) {
  TORCH_CHECK(numel >= 0, fn, ": numel must be >= 0, got ", numel);
  TORCH_CHECK(blocksize > 0 && blocksize % kChunkElems == 0, fn,
              ": blocksize must be a positive multiple of 32 (bitsandbytes uses 64..4096), got ", blocksize);
  TORCH_CHECK(out == at::kFloat || out == at::kBFloat16 || out == at::kHalf, fn,
              ": out dtype must be float32, bfloat16 or float16, got ", out);
  TORCH_CHECK(packed.defined() && packed.is_cuda(), fn, ": packed must be a CUDA tensor");
  const at::Device device = packed.device();
  detail::checkInput(packed, fn, "packed", at::kByte, (numel + 1) / 2, device);
  detail::checkInput(code, fn, "code", at::kFloat, 16, device);
}

template <typename Absmax>
at::Tensor launchDequant(const at::Tensor& packed, const at::Tensor& code, Absmax absmaxOf, int64_t blocksize,
                         int64_t numel, at::ScalarType outType) {
  const c10::cuda::CUDAGuard guard(packed.device());
  at::Tensor out = at::empty({numel}, packed.options().dtype(outType));
  if (numel == 0) return out;
  const int64_t chunks = detail::ceilDiv(numel, kChunkElems);
  const int64_t grid = detail::ceilDiv(chunks, kThreads);
  TORCH_CHECK(grid <= 0x7fffffff, "dequantize4bit: numel ", numel, " is too large for one launch");
  const bool vectorOk = detail::isAligned16(packed.data_ptr());
  const uint8_t* p = packed.data_ptr<uint8_t>();
  const float* c = code.data_ptr<float>();
  cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  switch (outType) {
    case at::kFloat:
      dequant4bitKernel<float, Absmax><<<static_cast<unsigned>(grid), kThreads, 0, stream>>>(
          p, c, absmaxOf, blocksize, numel, vectorOk, out.data_ptr<float>());
      break;
    case at::kBFloat16:
      dequant4bitKernel<__nv_bfloat16, Absmax><<<static_cast<unsigned>(grid), kThreads, 0, stream>>>(
          p, c, absmaxOf, blocksize, numel, vectorOk, reinterpret_cast<__nv_bfloat16*>(out.data_ptr()));
      break;
    default:  // at::kHalf (checked)
      dequant4bitKernel<__half, Absmax><<<static_cast<unsigned>(grid), kThreads, 0, stream>>>(
          p, c, absmaxOf, blocksize, numel, vectorOk, reinterpret_cast<__half*>(out.data_ptr()));
      break;
  }
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

}  // namespace

at::Tensor dequantize4bit(const at::Tensor& packed, const at::Tensor& code, const at::Tensor& absmax,
                          int64_t blocksize, int64_t numel, at::ScalarType out) {
  constexpr const char* fn = "dequantize4bit";
  checkCommon(fn, packed, code, blocksize, numel, out);
  detail::checkInput(absmax, fn, "absmax", at::kFloat, detail::ceilDiv(numel, blocksize), packed.device());
  return launchDequant(packed, code, PlainAbsmax{absmax.data_ptr<float>()}, blocksize, numel, out);
}

at::Tensor dequantize4bitNested(const at::Tensor& packed, const at::Tensor& code, const at::Tensor& absmaxQ,
                                const at::Tensor& nestedCode, const at::Tensor& nestedAbsmax,
                                int64_t nestedBlocksize, float offset, int64_t blocksize, int64_t numel,
                                at::ScalarType out) {
  constexpr const char* fn = "dequantize4bitNested";
  checkCommon(fn, packed, code, blocksize, numel, out);
  TORCH_CHECK(nestedBlocksize > 0, fn, ": nestedBlocksize must be > 0, got ", nestedBlocksize);
  const int64_t nblocks = detail::ceilDiv(numel, blocksize);
  const at::Device device = packed.device();
  detail::checkInput(absmaxQ, fn, "absmaxQ", at::kByte, nblocks, device);
  detail::checkInput(nestedCode, fn, "nestedCode", at::kFloat, 256, device);
  detail::checkInput(nestedAbsmax, fn, "nestedAbsmax", at::kFloat, detail::ceilDiv(nblocks, nestedBlocksize),
                     device);
  const NestedAbsmax absmaxOf{absmaxQ.data_ptr<uint8_t>(), nestedCode.data_ptr<float>(),
                              nestedAbsmax.data_ptr<float>(), nestedBlocksize, offset};
  return launchDequant(packed, code, absmaxOf, blocksize, numel, out);
}

}  // namespace nq::kernels
