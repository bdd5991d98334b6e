// Shared pieces of the 4-bit kernels (dequant_4bit.cu, gemv_4bit.cu): host-side input checks
// that name the argument at fault, and device-side conversions between fp32 and the three
// element types, always rounding to nearest even. Not a kernel itself.
#pragma once
#include <ATen/ATen.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

namespace nq::kernels::detail {

// Every input of a kernel: defined, CUDA, on `device`, of `dtype`, contiguous, `numel` elements.
inline void checkInput(const at::Tensor& t, const char* fn, const char* name, at::ScalarType dtype,
                       int64_t numel, const at::Device& device) {
  TORCH_CHECK(t.defined(), fn, ": ", name, " is an undefined tensor");
  TORCH_CHECK(t.is_cuda(), fn, ": ", name, " must be a CUDA tensor, got one on ", t.device());
  TORCH_CHECK(t.device() == device, fn, ": ", name, " is on ", t.device(), " but the other inputs are on ",
              device, "; move every input to one device");
  TORCH_CHECK(t.scalar_type() == dtype, fn, ": ", name, " must be ", dtype, ", got ", t.scalar_type());
  TORCH_CHECK(t.is_contiguous(), fn, ": ", name, " must be contiguous (call .contiguous() first)");
  TORCH_CHECK(t.numel() == numel, fn, ": ", name, " must have ", numel, " elements, got ", t.numel(),
              " (shape ", t.sizes(), ")");
}

inline bool isAligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Element types as CUDA sees them: float, __nv_bfloat16, __half.
__device__ __forceinline__ float toFloat(float v) { return v; }
__device__ __forceinline__ float toFloat(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float toFloat(__half v) { return __half2float(v); }

template <typename T>
__device__ __forceinline__ T fromFloat(float v);
template <>
__device__ __forceinline__ float fromFloat<float>(float v) { return v; }
template <>
__device__ __forceinline__ __nv_bfloat16 fromFloat<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
template <>
__device__ __forceinline__ __half fromFloat<__half>(float v) { return __float2half_rn(v); }

// Raw 16 bits of a 2-byte element rounded (to nearest even) from fp32.
template <typename T>
__device__ __forceinline__ uint32_t bits16(float v);
template <>
__device__ __forceinline__ uint32_t bits16<__nv_bfloat16>(float v) {
  return __bfloat16_as_ushort(__float2bfloat16_rn(v));
}
template <>
__device__ __forceinline__ uint32_t bits16<__half>(float v) { return __half_as_ushort(__float2half_rn(v)); }

// Two consecutive 2-byte elements packed in one little-endian word: element 0 in the low half.
__device__ __forceinline__ float2 unpack2(uint32_t w, __nv_bfloat16) {
  return make_float2(__uint_as_float(w << 16), __uint_as_float(w & 0xffff0000u));
}
__device__ __forceinline__ float2 unpack2(uint32_t w, __half) {
  return make_float2(__half2float(__ushort_as_half(static_cast<unsigned short>(w & 0xffffu))),
                     __half2float(__ushort_as_half(static_cast<unsigned short>(w >> 16))));
}

}  // namespace nq::kernels::detail
