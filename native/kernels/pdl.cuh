// Programmatic dependent launch (Hopper and later) for the kernels of a decoding step's graph.
//
// A decoding step of a 4B model is ~430 dependent kernels, most of them a few microseconds
// long; between two of them the GPU idles while the first drains and the second launches, and
// each 4-bit gemv starts its weight stream only after that. A kernel launched with
// `launch(..., overlap = true)` may start while the kernel before it in the stream still runs,
// once every block of that one has called `allowDependents()`; it must call
// `waitPrerequisites()` before it reads anything an earlier kernel writes and before it writes
// anything at all (the wait returns when the kernel before it has completed and its writes are
// visible, which by induction holds for every kernel before that). Before the wait a kernel may
// only read what no kernel of the step writes: the model's weights and tables. Kernels here call
// `waitPrerequisites()` then `allowDependents()` at their start (the 4-bit gemv, RMSNorm and the
// adapter kernels first issue the loads of their weights), so at most the next kernel is
// resident ahead of its turn.
// Without the attribute (older GPUs, NQ_PDL=0, outside a decoding graph's capture, kernels not
// on the decoding path) both calls do nothing and launches serialize as usual. Checked on the
// H200 (scripts/gpu/check.sh): the same tokens eagerly, from the graph, and from the graph with
// NQ_PDL=0 (decode-graph-check.mjs, NF4 + LoRA at one row included); batch-1 decoding of the
// Qwen3-4B shape 322 -> 361 tokens/s.
#pragma once
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <cuda_runtime.h>

#include <cstdlib>
#include <cstring>
#include <utility>

namespace nq::kernels::pdl {

__device__ __forceinline__ void waitPrerequisites() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ void allowDependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// Whether a kernel launched now on `stream` overlaps the one before: only while the stream is
// being captured into a CUDA graph (decode_graph.h: the decoding steps that are replayed), whose
// eager step before the capture has made every cached weight (stacked groups, fp32 absmax, bf16
// adapter copies), so that nothing a kernel reads before its wait is written inside the graph;
// on compute capability 9.0 or later; unless NQ_PDL=0 (A/B comparisons, a way out).
inline bool enabled(cudaStream_t stream) {
  static const bool off = [] {
    const char* v = std::getenv("NQ_PDL");
    return v != nullptr && std::strcmp(v, "0") == 0;
  }();
  if (off) return false;
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  C10_CUDA_CHECK(cudaStreamIsCapturing(stream, &capture));
  return capture == cudaStreamCaptureStatusActive && at::cuda::getCurrentDeviceProperties()->major >= 9;
}

// kernel<<<grid, block, smem, stream>>>(args...), with the programmatic-serialization attribute
// when `overlap` (see above: the kernel must wait before touching what earlier kernels write).
template <typename... Params, typename... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream, bool overlap,
            Args&&... args) {
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = smem;
  config.stream = stream;
  cudaLaunchAttribute attribute[1];
  attribute[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute[0].val.programmaticStreamSerializationAllowed = 1;
  config.attrs = attribute;
  config.numAttrs = overlap ? 1 : 0;
  C10_CUDA_CHECK(cudaLaunchKernelEx(&config, kernel, static_cast<Params>(std::forward<Args>(args))...));
}

}  // namespace nq::kernels::pdl
