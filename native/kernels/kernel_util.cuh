// Shared pieces of the kernels in native/kernels: host-side input checks that name the argument
// at fault, dispatch over the three float element types, device-side conversions between fp32
// and those types (always rounding to nearest even), vector loads/stores of V consecutive
// elements converted to fp32, and sums over a group of threads. Not a kernel itself.
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

// Calls f(T{}) with T the CUDA element type of `dtype` (float, __nv_bfloat16, __half); throws
// naming `fn` for any other dtype.
template <typename F>
void dispatchFloat(at::ScalarType dtype, const char* fn, F&& f) {
  switch (dtype) {
    case at::kFloat: f(float{}); break;
    case at::kBFloat16: f(__nv_bfloat16{}); break;
    case at::kHalf: f(__half{}); break;
    default: TORCH_CHECK(false, fn, ": dtype must be float32, bfloat16 or float16, got ", dtype);
  }
}

// The device pointer of t as the CUDA element type T (data_ptr<T> knows only ATen's types).
template <typename T>
T* ptr(const at::Tensor& t) {
  return reinterpret_cast<T*>(t.data_ptr());
}

// Checks of the float tensors of the fused training kernels: CUDA, on `device`, `dtype`.
inline void checkFloatTensor(const at::Tensor& t, const char* fn, const char* name, at::ScalarType dtype,
                             const at::Device& device) {
  TORCH_CHECK(t.defined(), fn, ": ", name, " is an undefined tensor");
  TORCH_CHECK(t.is_cuda() && t.device() == device, fn, ": ", name, " must be a CUDA tensor on ", device,
              ", got one on ", t.device());
  TORCH_CHECK(t.scalar_type() == dtype, fn, ": ", name, " must be ", dtype, " (the dtype of the other inputs), got ",
              t.scalar_type());
}

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

// Two fp32 values rounded (nearest even) to a 2-byte type and packed in one word, `first` in the
// low half (the element at the lower address): one cvt.rn.bf16x2.f32 / f16x2 instruction, with
// the same bits as two separate roundings.
template <typename T>
__device__ __forceinline__ uint32_t pack2(float first, float second);
template <>
__device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float first, float second) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(first, second);
  return *reinterpret_cast<const uint32_t*>(&v);
}
template <>
__device__ __forceinline__ uint32_t pack2<__half>(float first, float second) {
  const __half2 v = __floats2half2_rn(first, second);
  return *reinterpret_cast<const uint32_t*>(&v);
}

// Two consecutive 2-byte elements packed in one little-endian word: element 0 in the low half.
__device__ __forceinline__ float2 unpack2(uint32_t w, __nv_bfloat16) {
  return make_float2(__uint_as_float(w << 16), __uint_as_float(w & 0xffff0000u));
}
__device__ __forceinline__ float2 unpack2(uint32_t w, __half) {
  return make_float2(__half2float(__ushort_as_half(static_cast<unsigned short>(w & 0xffffu))),
                     __half2float(__ushort_as_half(static_cast<unsigned short>(w >> 16))));
}

// V consecutive elements at p (aligned to V * sizeof(T) bytes when that is a multiple of 16)
// as fp32: one 16-byte load per 16 bytes, or a scalar load when V == 1.
template <int V, typename T>
__device__ __forceinline__ void loadVec(const T* __restrict__ p, float (&f)[V]) {
  if constexpr (V == 1) {
    f[0] = toFloat(*p);
  } else {
    static_assert((V * sizeof(T)) % 16 == 0, "vector of V elements must be whole 16-byte words");
    constexpr int kPer = 16 / sizeof(T);
#pragma unroll
    for (int w = 0; w < V / kPer; ++w) {
      const uint4 raw = *reinterpret_cast<const uint4*>(p + w * kPer);
      const T* e = reinterpret_cast<const T*>(&raw);
#pragma unroll
      for (int i = 0; i < kPer; ++i) f[w * kPer + i] = toFloat(e[i]);
    }
  }
}

// f rounded (nearest even) to T, stored as V consecutive elements at p (aligned as loadVec).
template <int V, typename T>
__device__ __forceinline__ void storeVec(T* __restrict__ p, const float (&f)[V]) {
  if constexpr (V == 1) {
    *p = fromFloat<T>(f[0]);
  } else {
    static_assert((V * sizeof(T)) % 16 == 0, "vector of V elements must be whole 16-byte words");
    constexpr int kPer = 16 / sizeof(T);
#pragma unroll
    for (int w = 0; w < V / kPer; ++w) {
      uint4 raw;
      T* e = reinterpret_cast<T*>(&raw);
#pragma unroll
      for (int i = 0; i < kPer; ++i) e[i] = fromFloat<T>(f[w * kPer + i]);
      *reinterpret_cast<uint4*>(p + w * kPer) = raw;
    }
  }
}

// V elements as stored, aligned so that vector loads fill them: a load's result is kept raw
// and converted only where it is used, so every load of the kernel is issued before the first
// one is waited for (converting at the load makes each wait for its data in turn).
template <int V, typename T>
struct alignas(16) Raw {
  T e[V];
};

// V elements from p: 16-byte loads when `vector` (and V elements make whole 16-byte words),
// else element by element (the same values either way; only the access differs).
template <int V, typename T>
__device__ __forceinline__ void loadRaw(const T* __restrict__ p, bool vector, Raw<V, T>& r) {
  if constexpr ((V * sizeof(T)) % 16 == 0) {
    if (vector) {
#pragma unroll
      for (int w = 0; w < static_cast<int>(V * sizeof(T) / 16); ++w) {
        reinterpret_cast<uint4*>(r.e)[w] = reinterpret_cast<const uint4*>(p)[w];
      }
      return;
    }
  }
#pragma unroll
  for (int i = 0; i < V; ++i) r.e[i] = p[i];
}

// Rounds v to T's precision and back (the identity for float): where transformers rounds a
// bf16/f16 intermediate, the fused kernels round too, so the results match bit for bit.
template <typename T>
__device__ __forceinline__ float roundTo(float v) {
  return toFloat(fromFloat<T>(v));
}

// Sum of v over a group of G consecutive threads (G a power of two <= 32, the groups aligned
// within the warp); every lane of the warp must call it. Every thread of the group gets the sum.
template <int G>
__device__ __forceinline__ float groupSum(float v) {
#pragma unroll
  for (int off = G / 2; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

// Sum of v over the whole thread block (blockDim.x threads, a multiple of 32, <= 1024); every
// thread gets it. `scratch` holds 32 floats of shared memory; the call ends with a barrier so
// scratch may be reused right after.
__device__ __forceinline__ float blockSum(float v, float* scratch) {
  v = groupSum<32>(v);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  const int warps = blockDim.x >> 5;
  float s = lane < warps ? scratch[lane] : 0.0f;
  s = groupSum<32>(s);
  __syncthreads();
  return s;
}

}  // namespace nq::kernels::detail
