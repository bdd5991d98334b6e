// Device pieces shared by the scalar 4-bit gemv kernels (gemv_4bit.cu, gemv_4bit_stream.cu): the
// code table in shared memory, x loaded as fp32, and the dot product of one 32-element chunk of
// K weight rows with R rows of x. Both kernels sum through chunkDot in the same order, so for
// the same split of the input dimension their results are bit-identical. Not a kernel itself.
#pragma once
#include <cstdint>
#include <type_traits>

#include "kernels/kernel_util.cuh"

namespace nq::kernels::gemv {

constexpr int kChunkElems = 32;  // one 16-byte load of packed weight

// Shared memory for the 16-entry code table at a 256-byte aligned address (codeAt needs the
// alignment; 320 bytes always contain such a 64-byte run).
struct CodeTable {
  float words[80];
};

// Fills the table from code (16 fp32) with threads 0..15 and returns its shared-window address;
// the caller synchronizes before the first codeAt.
__device__ __forceinline__ uint32_t fillCodeTable(CodeTable& t, const float* __restrict__ code) {
  const uint32_t tableAddr = static_cast<uint32_t>(__cvta_generic_to_shared(t.words));
  const uint32_t codeBase = (tableAddr + 255u) & ~255u;
  if (threadIdx.x < 16) t.words[(codeBase - tableAddr) / 4 + threadIdx.x] = code[threadIdx.x];
  return codeBase;
}

// Code value whose byte offset in the shared table is byte b of `offsets` (4 * nibble). The
// table's shared-window address `base` is 256-byte aligned, so one PRMT forms the whole
// address (byte b of offsets as the low byte, base's upper three bytes): without it the
// compiler adds the base (not a constant on sm_90) with one more instruction per weight.
__device__ __forceinline__ float codeAt(uint32_t base, uint32_t offsets, int b) {
  const uint32_t addr = __byte_perm(offsets, base, 0x7650 + b);
  float v;
  asm volatile("ld.shared.f32 %0, [%1];" : "=f"(v) : "r"(addr));
  return v;
}

// 8 consecutive x values (one 16-byte load of bf16/f16, two of f32) as fp32.
template <typename T>
__device__ __forceinline__ void loadX8(const T* __restrict__ p, float (&f)[8]) {
  if constexpr (sizeof(T) == 4) {
    const float4 a = __ldg(reinterpret_cast<const float4*>(p)), b = __ldg(reinterpret_cast<const float4*>(p) + 1);
    f[0] = a.x, f[1] = a.y, f[2] = a.z, f[3] = a.w, f[4] = b.x, f[5] = b.y, f[6] = b.z, f[7] = b.w;
  } else {
    const uint4 v = __ldg(reinterpret_cast<const uint4*>(p));
    const uint32_t words[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const float2 t = detail::unpack2(words[j], T{});
      f[2 * j] = t.x, f[2 * j + 1] = t.y;
    }
  }
}

// sum[k][r] = the unscaled dot product of chunk c (32 elements from c * 32) of weight row k
// (raw[k]: its 16 packed bytes) with row r of x (R rows of inFeatures), in fp32, element by
// element in order.
template <typename T, int R, int K>
__device__ __forceinline__ void chunkDot(const T* __restrict__ x, int64_t inFeatures, int64_t c,
                                         const uint4 (&raw)[K], uint32_t codeBase, float (&sum)[K][R]) {
#pragma unroll
  for (int k = 0; k < K; ++k)
#pragma unroll
    for (int r = 0; r < R; ++r) sum[k][r] = 0.0f;
#pragma unroll
  for (int i = 0; i < 4; ++i) {  // 32-bit word i of the chunk: elements 8i .. 8i+7
    float xf[R][8];
#pragma unroll
    for (int r = 0; r < R; ++r) loadX8(x + r * inFeatures + c * kChunkElems + 8 * i, xf[r]);
#pragma unroll
    for (int k = 0; k < K; ++k) {
      const uint32_t word = i == 0 ? raw[k].x : i == 1 ? raw[k].y : i == 2 ? raw[k].z : raw[k].w;
      const uint32_t hi = (word >> 2) & 0x3c3c3c3cu;  // 4 * high nibble of each byte: even elements
      const uint32_t lo = (word << 2) & 0x3c3c3c3cu;  // 4 * low nibble: odd elements
#pragma unroll
      for (int b = 0; b < 4; ++b) {
        const float wHi = codeAt(codeBase, hi, b), wLo = codeAt(codeBase, lo, b);
#pragma unroll
        for (int r = 0; r < R; ++r) {
          sum[k][r] = fmaf(wHi, xf[r][2 * b], sum[k][r]);
          sum[k][r] = fmaf(wLo, xf[r][2 * b + 1], sum[k][r]);
        }
      }
    }
  }
}

// acc summed over the warp, then over the `splits` consecutive warps that share the K features
// (partials through sPartial, one row per warp of the block): the total is in lane 0 of the
// first of them (split 0). Every thread of the block calls it (barriers when splits > 1);
// sPartial may be written again once it returns.
template <int K, int R, int W>
__device__ __forceinline__ void reduceOverSplit(float (&acc)[K][R], float (&sPartial)[W][K * R], int warp, int lane,
                                                int split, int splits) {
#pragma unroll
  for (int k = 0; k < K; ++k)
#pragma unroll
    for (int r = 0; r < R; ++r) acc[k][r] = detail::groupSum<32>(acc[k][r]);
  if (splits == 1) return;  // uniform across the block
  if (lane == 0) {
#pragma unroll
    for (int k = 0; k < K; ++k)
#pragma unroll
      for (int r = 0; r < R; ++r) sPartial[warp][k * R + r] = acc[k][r];
  }
  __syncthreads();
  if (split == 0 && lane == 0) {
    for (int j = 1; j < splits; ++j) {
#pragma unroll
      for (int k = 0; k < K; ++k)
#pragma unroll
        for (int r = 0; r < R; ++r) acc[k][r] += sPartial[warp + j][k * R + r];
    }
  }
  __syncthreads();
}

// Warps of a block (of `warps`) that split one group's input dimension: more while the grid
// has fewer warps than about half of what the GPU holds (32 per SM) and every lane still gets a
// chunk. groups: output features / features per warp.
inline int splitsFor(int64_t groups, int64_t chunks, int numSMs, int warps) {
  const int64_t target = int64_t{32} * numSMs;
  int splits = 1;
  while (splits < warps && groups * splits < target && chunks >= int64_t{64} * splits) splits *= 2;
  return splits;
}

// Runs x's rows in passes of up to kMaxRows: f(std::integral_constant<int, R>{}, r0) for the R
// rows from r0 (each pass reads W again: fine for decoding, not for prefill).
constexpr int kMaxRows = 8;
template <typename F>
void forRowPasses(int64_t rows, F&& f) {
  for (int64_t r0 = 0; r0 < rows; r0 += kMaxRows) {
    switch (rows - r0 < kMaxRows ? rows - r0 : kMaxRows) {
      case 1: f(std::integral_constant<int, 1>{}, r0); break;
      case 2: f(std::integral_constant<int, 2>{}, r0); break;
      case 3: f(std::integral_constant<int, 3>{}, r0); break;
      case 4: f(std::integral_constant<int, 4>{}, r0); break;
      case 5: f(std::integral_constant<int, 5>{}, r0); break;
      case 6: f(std::integral_constant<int, 6>{}, r0); break;
      case 7: f(std::integral_constant<int, 7>{}, r0); break;
      default: f(std::integral_constant<int, 8>{}, r0); break;
    }
  }
}

}  // namespace nq::kernels::gemv
