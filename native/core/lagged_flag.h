// A bool that the device computes at one decoding step and the host reads at the next without
// waiting for the work queued in between: post() copies it into pinned host memory behind a
// CUDA event, read() waits for that event only. So the host can ask "has every row finished?"
// while the GPU still runs the step queued after it, instead of draining the queue (a plain
// .item() does) and leaving the GPU idle while the next step's kernels are launched.
// On CPU, post() reads the value at once.
#pragma once
#include <ATen/ATen.h>

#include <memory>

namespace nq {

class LaggedFlag {
 public:
  LaggedFlag();
  ~LaggedFlag();
  LaggedFlag(const LaggedFlag&) = delete;
  LaggedFlag& operator=(const LaggedFlag&) = delete;

  // flag: a one-element bool tensor (CPU or CUDA).
  void post(const at::Tensor& flag);
  bool pending() const { return pending_; }
  // The value last posted (waits for its copy only); clears pending().
  bool read();

 private:
  struct Device;
  std::unique_ptr<Device> device_;  // the pinned copy and its event, on CUDA
  bool value_ = false;
  bool pending_ = false;
};

}  // namespace nq
