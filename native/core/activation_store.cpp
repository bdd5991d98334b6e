// See activation_store.h.
#include "core/activation_store.h"

#ifdef NQ_WITH_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace nq {

#ifdef NQ_WITH_CUDA
struct ActivationStore::Impl {
  c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool();
  struct Slot {
    at::Tensor host;              // pinned copy
    at::Tensor device;            // on its way back (prefetch) or undefined
    at::cuda::CUDAEvent copied;   // the last copy of this slot finished (on the side stream)
  };
  std::vector<Slot> slots;
};
#else
struct ActivationStore::Impl {};
#endif

ActivationStore::ActivationStore(size_t slots, bool offload) : kept_(slots) {
#ifdef NQ_WITH_CUDA
  if (offload) {
    impl_ = std::make_unique<Impl>();
    impl_->slots.resize(slots);
  }
#else
  (void)offload;
#endif
}

ActivationStore::~ActivationStore() {
#ifdef NQ_WITH_CUDA
  // Copies still in flight read or write tensors about to be freed: let them finish.
  if (impl_) impl_->side.synchronize();
#endif
}

void ActivationStore::put(size_t i, const at::Tensor& x) {
#ifdef NQ_WITH_CUDA
  if (impl_ && x.is_cuda()) {
    Impl::Slot& s = impl_->slots[i];
    s.host = at::empty(x.sizes(), x.options().device(at::kCPU).pinned_memory(true));
    at::cuda::CUDAEvent produced;
    produced.record(c10::cuda::getCurrentCUDAStream());
    produced.block(impl_->side);
    {
      c10::cuda::CUDAStreamGuard guard(impl_->side);
      s.host.copy_(x, /*non_blocking=*/true);
    }
    // x may be freed on the compute stream before the side stream has read it.
    c10::cuda::CUDACachingAllocator::recordStream(x.storage().data_ptr(), impl_->side);
    s.copied.record(impl_->side);
    return;
  }
#endif
  kept_[i] = x;
}

void ActivationStore::prefetch(size_t i) {
#ifdef NQ_WITH_CUDA
  if (!impl_ || i >= impl_->slots.size()) return;
  Impl::Slot& s = impl_->slots[i];
  if (!s.host.defined() || s.device.defined()) return;
  // Allocated on the compute stream, which uses it next; the side stream writes it once the
  // compute stream has reached this point (the memory may have been another tensor's before).
  s.device = at::empty(s.host.sizes(), s.host.options().device(at::Device(at::kCUDA, c10::cuda::getCurrentCUDAStream().device_index())));
  at::cuda::CUDAEvent ready;
  ready.record(c10::cuda::getCurrentCUDAStream());
  ready.block(impl_->side);
  {
    c10::cuda::CUDAStreamGuard guard(impl_->side);
    s.device.copy_(s.host, /*non_blocking=*/true);
  }
  s.copied.record(impl_->side);
#else
  (void)i;
#endif
}

at::Tensor ActivationStore::take(size_t i) {
#ifdef NQ_WITH_CUDA
  if (impl_ && impl_->slots[i].host.defined()) {
    prefetch(i);
    Impl::Slot& s = impl_->slots[i];
    s.copied.block(c10::cuda::getCurrentCUDAStream());
    at::Tensor out = s.device;
    s = Impl::Slot{};
    return out;
  }
#endif
  at::Tensor out = kept_[i];
  kept_[i] = at::Tensor();
  return out;
}

}  // namespace nq
