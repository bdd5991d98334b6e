// See decode_graph.h.
#include "core/decode_graph.h"

#ifdef NQ_WITH_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace nq {

#ifdef NQ_WITH_CUDA
namespace {

class CudaDecodeGraph : public DecodeGraph {
 public:
  CudaDecodeGraph(const Model& model, KvCache& cache) : model_(model), cache_(cache) {}

  at::Tensor step(const at::Tensor& ids, const at::Tensor& positions) override {
    const int64_t B = ids.size(0);
    if (!ids_.defined()) {
      ids_ = ids.view({B, 1}).clone();
      positions_ = positions.view({B, 1}).clone();
      slot_ = at::full({1}, cache_.length, ids.options());
    } else {
      ids_.copy_(ids.view({B, 1}));
      positions_.copy_(positions.view({B, 1}));
      slot_.fill_(cache_.length);
    }
    at::Tensor out;
    if (!captured_) {
      // The first step runs eagerly on a side stream (warming cuBLAS and the allocator there),
      // then the same step is captured: capture records kernels without running them.
      c10::cuda::CUDAStream current = c10::cuda::getCurrentCUDAStream();
      c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool();
      current.synchronize();
      {
        c10::cuda::CUDAStreamGuard guard(side);
        out = model_.decodeStep(ids_, positions_, slot_, cache_).clone();
        side.synchronize();
        graph_.capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
        logits_ = model_.decodeStep(ids_, positions_, slot_, cache_);
        graph_.capture_end();
      }
      side.synchronize();
      captured_ = true;
    } else {
      graph_.replay();
      out = logits_;
    }
    cache_.length += 1;
    return out;
  }

 private:
  const Model& model_;
  KvCache& cache_;
  at::cuda::CUDAGraph graph_;
  bool captured_ = false;
  at::Tensor ids_, positions_, slot_, logits_;
};

}  // namespace
#endif

std::unique_ptr<DecodeGraph> makeDecodeGraph(const Model& model, KvCache& cache) {
#ifdef NQ_WITH_CUDA
  if (model.device().is_cuda() && model.longRopeSwitchLength() == 0) return std::make_unique<CudaDecodeGraph>(model, cache);
#endif
  (void)model;
  (void)cache;
  return nullptr;
}

}  // namespace nq
