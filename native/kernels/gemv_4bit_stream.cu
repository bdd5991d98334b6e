// 4-bit matrix-vector product for decoding, streaming form: y (rows, out) = x (rows, in) @ W^T,
// W in bitsandbytes' 4-bit layout (two codes per byte, high nibble first, one fp32 absmax per
// `blocksize` elements), read once and never materialized.
//
// Why: the split kernel of gemv_4bit.cu launches one warp per K output features, each loading
// its U chunks, waiting, computing, and (for long rows) loading again, on a grid of a wave and a
// part of another. Here the grid holds only as many blocks as the GPU keeps resident (the
// occupancy API), the tiles of output features are dealt to them evenly, and each warp issues the
// loads of its next stage (U chunks of K rows, or the first chunks of its next tile) before it
// computes the current one. The pair-table form (kPairs, one row of x) also halves the
// instructions per weight: one 8-byte shared load gives the code values of a packed byte, and x
// is converted to fp32 once per block into shared memory instead of once per chunk.
// Measured (H200, kernel_check; docs/perf-notes.md): the structure alone gains nothing; the pair
// table matches the split kernel on the Qwen3-4B shapes and is 1.1-1.2x faster on 7B / 70B-sized
// weights. The engine runs it at one row.
//
// Numerics: the same as the split kernel (gemv_4bit_util.cuh's chunkDot, the same chunks per
// lane, the same split of the input dimension over the warps of a block, the same reductions),
// so the result is bit-identical to it: fp32 products of the exact fp32 code and x, summed per
// 32-element chunk, scaled by the chunk's fp32 absmax, summed over the lane's chunks in order,
// then over the warp and the split; rounded once to x's type.
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>

#include "kernels/gemv_4bit_stream.h"
#include "kernels/gemv_4bit_util.cuh"
#include "kernels/pdl.cuh"

namespace nq::kernels::stream {
namespace {

using gemv::kChunkElems;

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kSplitK = 2;  // the split kernel's features per warp: the split of the input
                            // dimension is chosen as for it, which keeps the sums identical

// The pair table (kPairs): for each byte value e, (code[e >> 4], code[e & 15]) as a float2, kept
// in 16 copies so that the 16 lanes of a half-warp, copy lane % 16 each, never share a bank:
// entry (e, copy) at float2 index e * 16 + copy (32 KB). One 8-byte shared load gives the two
// exact fp32 code values of one packed byte.
constexpr int kPairCopies = 16;
constexpr int kPairTableBytes = 256 * kPairCopies * 8;

// x staged in shared memory as fp32 for the pair kernel, in 16-byte slots of 4 elements, slot s
// stored at s ^ ((s >> 3) & 7): the 8 lanes of a quarter-warp read the same slot of 8
// consecutive 32-element chunks, which the xor spreads over all 8 bank groups.
__device__ __forceinline__ int64_t swizzled(int64_t slot) { return slot ^ ((slot >> 3) & 7); }

// chunkDot (gemv_4bit_util.cuh) with the code values from the pair table and x from shared
// memory, for one row of x: the same products summed in the same order, so the same bits.
// laneOffset: the byte offset of this lane's copy within an entry.
template <int K>
__device__ __forceinline__ void chunkDotPairs(const float4* __restrict__ sX, const char* __restrict__ table,
                                              uint32_t laneOffset, int64_t c, const uint4 (&raw)[K],
                                              float (&sum)[K][1]) {
#pragma unroll
  for (int k = 0; k < K; ++k) sum[k][0] = 0.0f;
#pragma unroll
  for (int i = 0; i < 4; ++i) {  // 32-bit word i of the chunk: elements 8i .. 8i+7
    const float4 a = sX[swizzled(c * 8 + 2 * i)], b = sX[swizzled(c * 8 + 2 * i + 1)];
    const float xf[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
#pragma unroll
    for (int k = 0; k < K; ++k) {
      const uint32_t word = i == 0 ? raw[k].x : i == 1 ? raw[k].y : i == 2 ? raw[k].z : raw[k].w;
#pragma unroll
      for (int bt = 0; bt < 4; ++bt) {
        // Byte bt times the entry stride (128 bytes), or'ed with the lane's copy (bits 3-6): one
        // shift and one three-input logic op.
        const uint32_t offset = ((bt == 0 ? word << 7 : word >> (8 * bt - 7)) & 0x7f80u) | laneOffset;
        const float2 v = *reinterpret_cast<const float2*>(table + offset);
        sum[k][0] = fmaf(v.x, xf[2 * bt], sum[k][0]);
        sum[k][0] = fmaf(v.y, xf[2 * bt + 1], sum[k][0]);
      }
    }
  }
}

// A block has kWarps warps in groups of `splits`; a group owns K consecutive output features of
// a tile (kWarps / splits groups, so K * kWarps / splits features), its warps taking interleaved
// 32-chunk strides of the input dimension. Block b does tiles b, b + gridDim.x, ...; a warp's
// work is a sequence of stages (U chunk positions of its K rows), the loads of stage s + 1
// issued before stage s is computed.
// kPairs (rows = 1 only): the pair table and x staged in dynamic shared memory (kPairTableBytes +
// 4 * inFeatures bytes) instead of the 16-entry table and x read through L1 per chunk.
template <typename T, int R, int K, int U, bool kPairs>
__global__ void __launch_bounds__(kThreads)
    gemv4bitStreamKernel(const T* __restrict__ x, const uint8_t* __restrict__ packed, const float* __restrict__ code,
                         const float* __restrict__ absmax, int blockShift, int64_t outFeatures, int64_t inFeatures,
                         int splits, int64_t tiles, int64_t stagesPerTile, T* __restrict__ y, int64_t yStride) {
  __shared__ gemv::CodeTable sTable;
  __shared__ float sPartial[kWarps][K * R];
  int64_t tile = blockIdx.x;
  if (tile >= tiles) return;  // uniform across the block

  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int groupsPerTile = kWarps / splits;
  const int group = warp / splits, split = warp - group * splits;
  const int64_t chunks = inFeatures / kChunkElems;
  const int64_t stride = 32 * static_cast<int64_t>(splits);
  const int64_t first = lane + 32 * split;  // this lane's first chunk of a row

  uint4 nextRaw[U][K];
  float nextScale[U][K];
  auto load = [&](int64_t t, int64_t s) {
#pragma unroll
    for (int k = 0; k < K; ++k) {
      int64_t n = (t * groupsPerTile + group) * K + k;
      if (n >= outFeatures) n = outFeatures - 1;  // past the end: read, never written
      const int64_t rowElem0 = n * inFeatures;
      const uint4* row = reinterpret_cast<const uint4*>(packed + rowElem0 / 2);
#pragma unroll
      for (int u = 0; u < U; ++u) {
        const int64_t c = first + stride * (s * U + u);
        if (c < chunks) {
          nextRaw[u][k] = __ldcs(row + c);  // read once: stream it past L1
          nextScale[u][k] = __ldg(absmax + ((rowElem0 + c * kChunkElems) >> blockShift));
        }
      }
    }
  };
  load(tile, 0);  // before the table barrier and the wait for the kernel before (pdl.cuh): the first
                  // bytes are on their way meanwhile
  static_assert(!kPairs || R == 1, "the pair kernel stages one row of x");
  extern __shared__ float4 sDynamic[];
  const char* pairTable = reinterpret_cast<const char*>(sDynamic);
  const uint32_t laneOffset = static_cast<uint32_t>(lane & (kPairCopies - 1)) * 8;
  float4* sX = sDynamic + kPairTableBytes / 16;
  uint32_t codeBase = 0;
  if constexpr (kPairs) {
    float2* table = reinterpret_cast<float2*>(sDynamic);
    for (int i = threadIdx.x; i < 256 * kPairCopies; i += kThreads) {
      const int e = i / kPairCopies;
      table[i] = make_float2(__ldg(code + (e >> 4)), __ldg(code + (e & 15)));
    }
    // Up to here only the weights and the code table (pdl.cuh): x is the kernel before's output.
    pdl::waitPrerequisites();
    pdl::allowDependents();
    for (int64_t g = threadIdx.x; g < inFeatures / 8; g += kThreads) {
      float f[8];
      gemv::loadX8(x + g * 8, f);
      sX[swizzled(2 * g)] = make_float4(f[0], f[1], f[2], f[3]);
      sX[swizzled(2 * g + 1)] = make_float4(f[4], f[5], f[6], f[7]);
    }
  } else {
    codeBase = gemv::fillCodeTable(sTable, code);
    pdl::waitPrerequisites();
    pdl::allowDependents();
  }
  __syncthreads();

  float acc[K][R];
#pragma unroll
  for (int k = 0; k < K; ++k)
#pragma unroll
    for (int r = 0; r < R; ++r) acc[k][r] = 0.0f;

  for (int64_t s = 0;;) {
    uint4 raw[U][K];
    float scale[U][K];
#pragma unroll
    for (int u = 0; u < U; ++u)
#pragma unroll
      for (int k = 0; k < K; ++k) raw[u][k] = nextRaw[u][k], scale[u][k] = nextScale[u][k];
    int64_t nextTile = tile, nextS = s + 1;
    if (nextS == stagesPerTile) nextS = 0, nextTile += gridDim.x;
    if (nextTile < tiles) load(nextTile, nextS);

#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t c = first + stride * (s * U + u);
      if (c < chunks) {
        float sum[K][R];
        if constexpr (kPairs) {
          chunkDotPairs<K>(sX, pairTable, laneOffset, c, raw[u], sum);
        } else {
          gemv::chunkDot<T, R, K>(x, inFeatures, c, raw[u], codeBase, sum);
        }
#pragma unroll
        for (int k = 0; k < K; ++k)
#pragma unroll
          for (int r = 0; r < R; ++r) acc[k][r] = fmaf(sum[k][r], scale[u][k], acc[k][r]);
      }
    }

    if (nextS == 0) {  // the tile's last stage: reduce over the warp, then over the split
      gemv::reduceOverSplit<K, R>(acc, sPartial, warp, lane, split, splits);
      const int64_t n0 = (tile * groupsPerTile + group) * K;
      if (split == 0 && lane == 0) {
#pragma unroll
        for (int k = 0; k < K; ++k) {
          if (n0 + k < outFeatures) {
#pragma unroll
            for (int r = 0; r < R; ++r) y[r * yStride + n0 + k] = detail::fromFloat<T>(acc[k][r]);
          }
        }
      }
#pragma unroll
      for (int k = 0; k < K; ++k)
#pragma unroll
        for (int r = 0; r < R; ++r) acc[k][r] = 0.0f;
    }
    if (nextTile >= tiles) break;
    tile = nextTile, s = nextS;
  }
}

// Blocks of `kernel` that stay resident on one SM with `smem` bytes of dynamic shared memory (the
// last few sizes asked remembered: decoding asks the same few every step).
int residentBlocks(const void* kernel, size_t smem) {
  struct Entry {
    const void* kernel;
    size_t smem;
    int blocks;
  };
  static thread_local Entry seen[16] = {};
  static thread_local int next = 0;
  for (const Entry& e : seen)
    if (e.kernel == kernel && e.smem == smem) return e.blocks;
  int n = 0;
  C10_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kernel, kThreads, smem));
  seen[next] = {kernel, smem, n > 0 ? n : 1};
  next = (next + 1) % 16;
  return n > 0 ? n : 1;
}

template <typename T, int R, int K, int U, bool kPairs>
void launch(const Args& a, const T* x, T* y) {
  const auto kernel = gemv4bitStreamKernel<T, R, K, U, kPairs>;
  size_t smem = 0;
  if constexpr (kPairs) {
    // Allowed once up to the device's opt-in maximum; an x too long for it runs the plain kernel.
    static const size_t maxDynamic = [&] {
      cudaFuncAttributes attr{};
      C10_CUDA_CHECK(cudaFuncGetAttributes(&attr, kernel));
      const size_t optin = at::cuda::getCurrentDeviceProperties()->sharedMemPerBlockOptin;
      const size_t room = optin > attr.sharedSizeBytes ? optin - attr.sharedSizeBytes : 0;
      C10_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(room)));
      return room;
    }();
    smem = kPairTableBytes + 4 * static_cast<size_t>(a.inFeatures);
    if (smem > maxDynamic) return launch<T, R, K, U, false>(a, x, y);
  }
  const int blocksPerSM = residentBlocks(reinterpret_cast<const void*>(kernel), smem);
  const int64_t chunks = a.inFeatures / kChunkElems;
  const int splits = gemv::splitsFor(detail::ceilDiv(a.outFeatures, kSplitK), chunks, a.numSMs, kWarps);
  const int64_t tiles = detail::ceilDiv(detail::ceilDiv(a.outFeatures, K), kWarps / splits);
  // Stages per tile, the same for every lane (a lane past the row's end skips the chunk).
  const int64_t stagesPerTile = detail::ceilDiv(detail::ceilDiv(chunks, int64_t{32} * splits), U);
  // As many blocks as stay resident, each given the same number of tiles (to one).
  const int64_t resident = int64_t{a.numSMs} * blocksPerSM;
  const int64_t rounds = detail::ceilDiv(tiles, resident);
  const int64_t grid = detail::ceilDiv(tiles, rounds);
  pdl::launch(kernel, dim3(static_cast<unsigned>(grid)), dim3(kThreads), smem, a.stream, pdl::enabled(a.stream), x,
              a.packed, a.code, a.absmax, a.blockShift, a.outFeatures, a.inFeatures, splits, tiles, stagesPerTile,
              y, a.outFeatures);
}

template <typename T, int R>
void launchRows(const Args& a, const T* x, T* y) {
  if constexpr (R == 1) {
    switch (a.variant) {
      case 1: launch<T, R, 2, 4, true>(a, x, y); return;
      case 2: launch<T, R, 4, 2, true>(a, x, y); return;
      default: break;
    }
  }
  launch<T, R, 2, 2, false>(a, x, y);
}

template <typename T>
void launchAll(const Args& a, const T* x, T* y, int64_t rows) {
  gemv::forRowPasses(rows, [&](auto r, int64_t r0) {
    launchRows<T, decltype(r)::value>(a, x + r0 * a.inFeatures, y + r0 * a.outFeatures);
  });
}

}  // namespace

const char* variantName(int variant) {
  switch (variant) {
    case 0: return "stream K=2 U=2";
    case 1: return "pair table K=2 U=4";
    default: return "pair table K=4 U=2";
  }
}

void gemv4bit(const Args& a, const at::Tensor& x, at::Tensor& y) {
  const int64_t rows = x.size(0);
  detail::dispatchFloat(x.scalar_type(), "gemv4bit", [&](auto tag) {
    using T = decltype(tag);
    launchAll<T>(a, detail::ptr<T>(x), detail::ptr<T>(y), rows);
  });
}

}  // namespace nq::kernels::stream
