// kernel_check's yardstick for the gemv: the time one launch takes just to read a given byte
// range (16-byte streaming loads, four in flight per thread, as many blocks as stay resident,
// one xor-sum written per block so the loads are not dropped). A gemv that reads the same bytes
// cannot beat it; the gap between the two is what the gemv's own work costs.
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>

#include "tools/read_floor.h"

namespace nq::tools {
namespace {

constexpr int kThreads = 256;
constexpr int kAhead = 4;

__global__ void __launch_bounds__(kThreads) readFloorKernel(const uint4* __restrict__ p, int64_t n, uint32_t* sink) {
  uint32_t acc = 0;
  const int64_t step = static_cast<int64_t>(gridDim.x) * kThreads;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x; i < n; i += step * kAhead) {
    uint4 v[kAhead];
#pragma unroll
    for (int u = 0; u < kAhead; ++u) v[u] = i + step * u < n ? __ldcs(p + i + step * u) : make_uint4(0, 0, 0, 0);
#pragma unroll
    for (int u = 0; u < kAhead; ++u) acc ^= v[u].x ^ v[u].y ^ v[u].z ^ v[u].w;
  }
  if (acc == 0x9e3779b9u) sink[blockIdx.x] = acc;  // almost never: keeps the loads live
}

}  // namespace

void readFloor(const at::Tensor& bytes, at::Tensor& sink) {
  TORCH_CHECK(bytes.is_cuda() && bytes.is_contiguous() && bytes.nbytes() % 16 == 0 &&
                  reinterpret_cast<uintptr_t>(bytes.data_ptr()) % 16 == 0,
              "readFloor: a contiguous CUDA tensor of whole, aligned 16-byte words");
  static const int blocksPerSM = [] {
    int n = 0;
    C10_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, readFloorKernel, kThreads, 0));
    return n > 0 ? n : 1;
  }();
  const int64_t grid = int64_t{at::cuda::getCurrentDeviceProperties()->multiProcessorCount} * blocksPerSM;
  if (!sink.defined() || sink.numel() < grid) sink = at::empty({grid}, bytes.options().dtype(at::kInt));
  readFloorKernel<<<static_cast<unsigned>(grid), kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
      reinterpret_cast<const uint4*>(bytes.data_ptr()), static_cast<int64_t>(bytes.nbytes() / 16),
      reinterpret_cast<uint32_t*>(sink.data_ptr()));
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace nq::tools
