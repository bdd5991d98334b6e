// The layer inputs that gradient checkpointing keeps between the forward and the backward
// pass. On CUDA they wait in pinned host memory instead of device memory (for a 4B model at
// 16 x 512 tokens that is 36 x 42 MB the device does not hold): each is copied out on a side
// stream while the next layers compute, and copied back one layer ahead of its backward, so
// the copies overlap compute. Elsewhere the tensors are simply kept.
// Not here: what is recomputed (model.cpp).
#pragma once
#include <ATen/ATen.h>

#include <memory>
#include <vector>

namespace nq {

class ActivationStore {
 public:
  ActivationStore(size_t slots, bool offload);
  ~ActivationStore();
  ActivationStore(const ActivationStore&) = delete;
  ActivationStore& operator=(const ActivationStore&) = delete;

  // Keeps x (produced on the current stream) as slot i.
  void put(size_t i, const at::Tensor& x);
  // Starts bringing slot i back (no-op when it was never offloaded or is already coming).
  void prefetch(size_t i);
  // Slot i on the device, usable on the current stream; the slot is emptied.
  at::Tensor take(size_t i);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::vector<at::Tensor> kept_;  // slots held as they are (no offload)
};

}  // namespace nq
