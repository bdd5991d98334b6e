// 4-bit matrix times a few rows on the tensor cores: y (rows, out) = x (rows, in) @ W^T, W (out,
// in) in bitsandbytes' 4-bit layout (two codes per byte, high nibble first, one fp32 absmax per
// `blocksize` elements), x bf16 or fp16, up to 32 rows per pass. For decoding (1 row) and the
// decoding steps of a batch (up to 32 rows), where the weight is read once and never
// materialized.
//
// Why: the scalar gemv (gemv_4bit.cu) spends about 4 instructions per weight (a table address,
// a shared load, an FMA per row) and is bound by issue, not by memory. Here a warp owns 16
// output features, one mma.m16n8k16 tile, and a lane turns one packed byte (two weights) into
// one A-fragment register by a single shared-memory lookup in a table of the 256 byte values as
// (code[hi], code[lo]) pairs; the products and their fp32 sums run on the tensor cores, and the
// x rows are the mma's 8 (or 32: four n-tiles) columns.
//
// Layout. An m16n8k16 A fragment gives lane (g = lane / 4, c = lane % 4) the pairs of columns
// (2c, 2c+1) and (2c+8, 2c+9) of rows g and g+8. The order of k inside a dot product is free, so
// k is permuted the same way for A and B: within a 64-element block, lane c owns the 16
// consecutive weights 16c .. 16c+15 (8 packed bytes, one 8-byte load per row), and at mma step s
// (0..3) its two k pairs are bytes 2s and 2s+1 of them, its B pairs x[16c+4s .. 16c+4s+3] of its
// x row (the mma's column g). One 64-element block is one absmax block (blocksize >= 64, a
// power of two): its four mma steps sum into a zeroed tile that is then scaled by each row's
// absmax and added, in fp32, to the running sum. Numerics: each weight is its code rounded to
// x's type (bf16 or fp16) times the fp32 absmax, products exact, sums in fp32; the reference
// dequantization instead rounds code * absmax once; both are one rounding from the exact weight.
//
// The table: entry (byte, lane) at word byte * 32 + lane, each lane reading its own bank, so a
// warp's lookups never conflict (32 KB of shared memory). The input dimension may be split over
// `splits` warps of a block (partial tiles summed through shared memory) when the output has
// few features.
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>

#include "kernels/gemv_4bit_mma.h"
#include "kernels/kernel_util.cuh"

namespace nq::kernels::mma {
namespace {

constexpr int kTableWords = 256 * 32;  // 32 KB
constexpr int kMaxTiles = 4;           // n-tiles of 8 x rows: 32 rows per pass

template <typename T>
__device__ __forceinline__ uint32_t pairBits(float first, float second);
template <>
__device__ __forceinline__ uint32_t pairBits<__nv_bfloat16>(float first, float second) {
  return detail::bits16<__nv_bfloat16>(first) | (detail::bits16<__nv_bfloat16>(second) << 16);
}
template <>
__device__ __forceinline__ uint32_t pairBits<__half>(float first, float second) {
  return detail::bits16<__half>(first) | (detail::bits16<__half>(second) << 16);
}

// d += A (16x16) * B (16x8), fp32 accumulators.
template <typename T>
__device__ __forceinline__ void mma16816(float (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                         uint32_t b0, uint32_t b1);
template <>
__device__ __forceinline__ void mma16816<__nv_bfloat16>(float (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2,
                                                        uint32_t a3, uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}
template <>
__device__ __forceinline__ void mma16816<__half>(float (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                                 uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// The table entry of byte j (0..3) of `word`: (code[hi], code[lo]) in x's type. laneBase is the
// shared address of the table plus 4 * lane.
__device__ __forceinline__ uint32_t lookup(uint32_t laneBase, uint32_t word, int j) {
  const uint32_t byte = __byte_perm(word, 0u, 0x4440u + static_cast<uint32_t>(j));
  uint32_t v;
  asm volatile("ld.shared.u32 %0, [%1];" : "=r"(v) : "r"(laneBase + (byte << 7)));
  return v;
}

// WARPS warps a block, U 64-element blocks of each feature loaded ahead, NT n-tiles (8 x rows
// each). x (rows, in), y (rows, out) with row stride yStride; rows <= 8 * NT.
template <typename T, int WARPS, int U, int NT>
__global__ void __launch_bounds__(WARPS * 32)
    gemv4bitMmaKernel(const T* __restrict__ x, int rows, const uint8_t* __restrict__ packed,
                      const float* __restrict__ code, const float* __restrict__ absmax, int blockShift,
                      int64_t outFeatures, int64_t inFeatures, int splits, T* __restrict__ y, int64_t yStride) {
  extern __shared__ uint32_t sTable[];  // kTableWords; reused for the split partial sums
  for (int i = threadIdx.x; i < kTableWords; i += WARPS * 32) {
    const int b = i >> 5;
    sTable[i] = pairBits<T>(__ldg(code + (b >> 4)), __ldg(code + (b & 15)));
  }
  __syncthreads();

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, c = lane & 3;
  const int split = warp % splits;
  const int64_t m0 = (static_cast<int64_t>(blockIdx.x) * (WARPS / splits) + warp / splits) * 16;
  // Rows past the end are read (clamped) and never written.
  const int64_t rA = m0 + g < outFeatures ? m0 + g : outFeatures - 1;
  const int64_t rB = m0 + g + 8 < outFeatures ? m0 + g + 8 : outFeatures - 1;
  const int64_t rowBytes = inFeatures / 2;
  const uint2* wA = reinterpret_cast<const uint2*>(packed + rA * rowBytes) + c;  // + 4 per k-block
  const uint2* wB = reinterpret_cast<const uint2*>(packed + rB * rowBytes) + c;
  const int64_t kBlocks = inFeatures >> 6;
  const uint32_t laneBase = static_cast<uint32_t>(__cvta_generic_to_shared(sTable)) + 4u * lane;
  // This lane's x rows (the mma's column g of each n-tile); past `rows`: zeros.
  const T* xRow[NT];
  bool xLive[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t) {
    const int r = 8 * t + g;
    xLive[t] = r < rows;
    xRow[t] = x + static_cast<int64_t>(xLive[t] ? r : 0) * inFeatures + 16 * c;
  }

  float acc[NT][4];
#pragma unroll
  for (int t = 0; t < NT; ++t)
#pragma unroll
    for (int i = 0; i < 4; ++i) acc[t][i] = 0.0f;

  const int64_t step = static_cast<int64_t>(splits) * U;
  for (int64_t kb0 = split; kb0 < kBlocks; kb0 += step) {
    uint2 wa[U], wb[U];
    float sa[U], sb[U];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t kb = kb0 + static_cast<int64_t>(u) * splits;
      if (kb < kBlocks) {
        wa[u] = __ldcs(wA + 4 * kb);  // read once: stream it, keep L1 for x
        wb[u] = __ldcs(wB + 4 * kb);
        sa[u] = __ldg(absmax + ((rA * inFeatures + 64 * kb) >> blockShift));
        sb[u] = __ldg(absmax + ((rB * inFeatures + 64 * kb) >> blockShift));
      }
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t kb = kb0 + static_cast<int64_t>(u) * splits;
      if (kb >= kBlocks) break;
      float d[NT][4];
      uint32_t xb[NT][8];  // x[16c .. 16c+15] of the k-block, as 8 pairs
#pragma unroll
      for (int t = 0; t < NT; ++t) {
#pragma unroll
        for (int i = 0; i < 4; ++i) d[t][i] = 0.0f;
        if (xLive[t]) {
          const uint4* p = reinterpret_cast<const uint4*>(xRow[t] + 64 * kb);
          const uint4 lo = __ldg(p), hi = __ldg(p + 1);
          xb[t][0] = lo.x, xb[t][1] = lo.y, xb[t][2] = lo.z, xb[t][3] = lo.w;
          xb[t][4] = hi.x, xb[t][5] = hi.y, xb[t][6] = hi.z, xb[t][7] = hi.w;
        } else {
#pragma unroll
          for (int i = 0; i < 8; ++i) xb[t][i] = 0u;
        }
      }
#pragma unroll
      for (int s = 0; s < 4; ++s) {
        const uint32_t wordA = s < 2 ? wa[u].x : wa[u].y, wordB = s < 2 ? wb[u].x : wb[u].y;
        const int j = 2 * (s & 1);  // bytes 2s, 2s+1 of the 8: bytes j, j+1 of word s / 2
        const uint32_t a0 = lookup(laneBase, wordA, j), a2 = lookup(laneBase, wordA, j + 1);
        const uint32_t a1 = lookup(laneBase, wordB, j), a3 = lookup(laneBase, wordB, j + 1);
#pragma unroll
        for (int t = 0; t < NT; ++t) mma16816<T>(d[t], a0, a1, a2, a3, xb[t][2 * s], xb[t][2 * s + 1]);
      }
#pragma unroll
      for (int t = 0; t < NT; ++t) {
        acc[t][0] = fmaf(d[t][0], sa[u], acc[t][0]);
        acc[t][1] = fmaf(d[t][1], sa[u], acc[t][1]);
        acc[t][2] = fmaf(d[t][2], sb[u], acc[t][2]);
        acc[t][3] = fmaf(d[t][3], sb[u], acc[t][3]);
      }
    }
  }

  if (splits > 1) {  // uniform across the block: every thread reaches both barriers
    __syncthreads();  // every warp is done with the table
    float* partial = reinterpret_cast<float*>(sTable) + (warp * 32 + lane) * (4 * NT);
#pragma unroll
    for (int t = 0; t < NT; ++t)
#pragma unroll
      for (int i = 0; i < 4; ++i) partial[4 * t + i] = acc[t][i];
    __syncthreads();
    if (split != 0) return;
    for (int w = 1; w < splits; ++w) {
      const float* other = reinterpret_cast<const float*>(sTable) + ((warp + w) * 32 + lane) * (4 * NT);
#pragma unroll
      for (int t = 0; t < NT; ++t)
#pragma unroll
        for (int i = 0; i < 4; ++i) acc[t][i] += other[4 * t + i];
    }
  }

  // acc[t]: rows g (0, 1) and g + 8 (2, 3) of the tile, columns 2c and 2c + 1 (x rows 8t + 2c, +1).
#pragma unroll
  for (int t = 0; t < NT; ++t) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int r = 8 * t + 2 * c + (i & 1);
      const int64_t m = m0 + g + (i >= 2 ? 8 : 0);
      if (r < rows && m < outFeatures) y[r * yStride + m] = detail::fromFloat<T>(acc[t][i]);
    }
  }
}

// Warps of a block that split one tile's input dimension: more while the grid has fewer warps
// than `target` per SM and each split still gets U k-blocks.
int splitsFor(int64_t tiles, int64_t kBlocks, int warps, int u, int numSMs) {
  const int64_t target = int64_t{32} * numSMs;
  int splits = 1;
  while (splits < warps && tiles * splits < target && kBlocks >= int64_t{2} * u * splits) splits *= 2;
  return splits;
}

template <typename T, int WARPS, int U, int NT>
void launch(const Args& a, const T* x, int rows, T* y) {
  const int64_t tiles = detail::ceilDiv(a.outFeatures, 16);
  const int splits = splitsFor(tiles, a.inFeatures / 64, WARPS, U, a.numSMs);
  const int64_t grid = detail::ceilDiv(tiles, WARPS / splits);
  TORCH_CHECK(grid <= 0x7fffffff, "gemv4bit: outFeatures ", a.outFeatures, " is too large for one launch");
  gemv4bitMmaKernel<T, WARPS, U, NT><<<static_cast<unsigned>(grid), WARPS * 32, kTableWords * 4, a.stream>>>(
      x, rows, a.packed, a.code, a.absmax, a.blockShift, a.outFeatures, a.inFeatures, splits, y, a.outFeatures);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T, int WARPS, int U>
void launchRows(const Args& a, const T* x, int rows, T* y) {
  switch ((rows + 7) / 8) {
    case 1: launch<T, WARPS, U, 1>(a, x, rows, y); break;
    case 2: launch<T, WARPS, U, 2>(a, x, rows, y); break;
    case 3: launch<T, WARPS, U, 3>(a, x, rows, y); break;
    default: launch<T, WARPS, U, 4>(a, x, rows, y); break;
  }
}

template <typename T>
void launchAll(const Args& a, const T* x, int64_t rows, T* y) {
  for (int64_t r0 = 0; r0 < rows; r0 += 8 * kMaxTiles) {  // 32 rows a pass, each pass reads W once
    const int r = static_cast<int>(rows - r0 < 8 * kMaxTiles ? rows - r0 : 8 * kMaxTiles);
    const T* xs = x + r0 * a.inFeatures;
    T* ys = y + r0 * a.outFeatures;
    switch (a.variant) {
      case 1: launchRows<T, 16, 4>(a, xs, r, ys); break;
      case 2: launchRows<T, 8, 8>(a, xs, r, ys); break;
      default: launchRows<T, 8, 4>(a, xs, r, ys); break;
    }
  }
}

}  // namespace

const char* variantName(int variant) {
  switch (variant) {
    case 1: return "tensor cores, 16 warps, U=4";
    case 2: return "tensor cores, 8 warps, U=8";
    default: return "tensor cores, 8 warps, U=4";
  }
}

bool eligible(at::ScalarType dtype, int64_t inFeatures, int64_t blocksize, const void* packed, const void* x) {
  const bool pow2 = blocksize > 0 && (blocksize & (blocksize - 1)) == 0;
  return (dtype == at::kBFloat16 || dtype == at::kHalf) && pow2 && blocksize >= 64 && inFeatures % 64 == 0 &&
         detail::isAligned16(packed) && detail::isAligned16(x);
}

void gemv4bit(const Args& a, const at::Tensor& x, at::Tensor& y) {
  const int64_t rows = x.size(0);
  if (x.scalar_type() == at::kBFloat16) {
    launchAll<__nv_bfloat16>(a, detail::ptr<const __nv_bfloat16>(x), rows, detail::ptr<__nv_bfloat16>(y));
  } else {
    launchAll<__half>(a, detail::ptr<const __half>(x), rows, detail::ptr<__half>(y));
  }
}

}  // namespace nq::kernels::mma
