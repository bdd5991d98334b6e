// Greedy decoding steps replayed from one CUDA graph: the whole step (every layer's kernels,
// a thousand or more launches for a 4B model) becomes one graph launch, which is what makes
// batch-1 decoding run at the speed of its memory traffic instead of its launch overhead.
// The graph is captured once per generate call, after one eager step that also warms up
// cuBLAS and the allocator, over static input buffers that each step overwrites.
// Not here: the decoding policy (generate.cpp); CPU or longrope models (they run eagerly).
#pragma once
#include <ATen/ATen.h>

#include <memory>

#include "core/model.h"

namespace nq {

class DecodeGraph {
 public:
  virtual ~DecodeGraph() = default;
  // ids, positions (B) int64 on the device; returns (B, V) float32 logits of the step (valid
  // until the next call) and advances cache.length by one.
  virtual at::Tensor step(const at::Tensor& ids, const at::Tensor& positions) = 0;
};

// A graph-backed stepper for `cache` (B rows), or null where graphs do not apply (not built
// with CUDA, a CPU model, a longrope model).
std::unique_ptr<DecodeGraph> makeDecodeGraph(const Model& model, KvCache& cache);

}  // namespace nq
