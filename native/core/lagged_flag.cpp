// See lagged_flag.h.
#include "core/lagged_flag.h"

#ifdef NQ_WITH_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace nq {

struct LaggedFlag::Device {
#ifdef NQ_WITH_CUDA
  at::Tensor host;  // (1) bool, pinned
  at::cuda::CUDAEvent copied;
#endif
};

LaggedFlag::LaggedFlag() = default;
LaggedFlag::~LaggedFlag() = default;

void LaggedFlag::post(const at::Tensor& flag) {
  pending_ = true;
#ifdef NQ_WITH_CUDA
  if (flag.is_cuda()) {
    if (!device_) {
      device_ = std::make_unique<Device>();
      device_->host = at::empty({1}, at::TensorOptions().dtype(at::kBool).pinned_memory(true));
    }
    device_->host.copy_(flag.reshape({1}), /*non_blocking=*/true);
    device_->copied.record(c10::cuda::getCurrentCUDAStream());
    return;
  }
#endif
  value_ = flag.item<bool>();
}

bool LaggedFlag::read() {
  pending_ = false;
#ifdef NQ_WITH_CUDA
  if (device_) {
    device_->copied.synchronize();
    value_ = device_->host.data_ptr<bool>()[0];
  }
#endif
  return value_;
}

}  // namespace nq
