// Module entry: runs every binding's registration (see registry.h) and reports build facts.
#include <napi.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/version.h>

#include "addon/errors.h"
#include "core/distributed.h"
#include "core/errors.h"
#include "addon/registry.h"

#ifdef NQ_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace nq::addon {

std::vector<std::pair<const char*, RegisterFn>>& registrations() {
  static std::vector<std::pair<const char*, RegisterFn>> list;
  return list;
}

namespace {
Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("torchVersion", Napi::String::New(env, TORCH_VERSION));
#ifdef NQ_WITH_CUDA
  out.Set("cudaBuilt", Napi::Boolean::New(env, true));
#else
  out.Set("cudaBuilt", Napi::Boolean::New(env, false));
#endif
  out.Set("ncclBuilt", Napi::Boolean::New(env, nq::ncclAvailable()));
  out.Set("cudaAvailable", Napi::Boolean::New(env, at::hasCUDA()));
  out.Set("threads", Napi::Number::New(env, at::get_num_threads()));
  return out;
}

// CUDA caching-allocator statistics of device 0, in bytes (for benchmarks and reports).
Napi::Value CudaMemory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
#ifdef NQ_WITH_CUDA
    if (at::hasCUDA()) {
      at::empty({0}, at::TensorOptions().device(at::kCUDA, 0));  // the allocator needs CUDA initialized
      const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(0);
      const size_t all = 0;  // StatType::AGGREGATE (its namespace moved between torch versions)
      Napi::Object out = Napi::Object::New(env);
      out.Set("allocated", Napi::Number::New(env, static_cast<double>(stats.allocated_bytes[all].current)));
      out.Set("peakAllocated", Napi::Number::New(env, static_cast<double>(stats.allocated_bytes[all].peak)));
      out.Set("reserved", Napi::Number::New(env, static_cast<double>(stats.reserved_bytes[all].current)));
      return out;
    }
#endif
    throw nq::Error("CUDA_UNAVAILABLE", "cudaMemory: this addon was built without CUDA or no GPU is visible");
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throwJsError(env, captureCurrentException());
  }
}

Napi::Value CudaResetPeak(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
#ifdef NQ_WITH_CUDA
    if (at::hasCUDA()) {
      at::empty({0}, at::TensorOptions().device(at::kCUDA, 0));
      c10::cuda::CUDACachingAllocator::resetPeakStats(0);
      return env.Undefined();
    }
#endif
    throw nq::Error("CUDA_UNAVAILABLE", "cudaResetPeak: this addon was built without CUDA or no GPU is visible");
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throwJsError(env, captureCurrentException());
  }
}

// setThreads(n) -> the intra-op thread count now in effect. JS picks n from the CPUs the process
// may use (src/config/cpu-threads.ts): libtorch's own default counts the host's cores. Threads
// that already ran a parallel op keep their count, so JS calls this before loading a model.
Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const double n = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
  if (!(n >= 1) || n != static_cast<double>(static_cast<int>(n))) {
    throwJsError(env, CapturedError{"INVALID_ARGUMENT", "setThreads: expected an integer >= 1 for the thread count"});
  }
  at::set_num_threads(static_cast<int>(n));
  return Napi::Number::New(env, at::get_num_threads());
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
  exports.Set("buildInfo", Napi::Function::New(env, BuildInfo, "buildInfo"));
  exports.Set("cudaMemory", Napi::Function::New(env, CudaMemory, "cudaMemory"));
  exports.Set("cudaResetPeak", Napi::Function::New(env, CudaResetPeak, "cudaResetPeak"));
  for (auto& [name, fn] : registrations()) fn(env, exports);
  return exports;
}
}  // namespace

NODE_API_MODULE(node_qlora, Init)

}  // namespace nq::addon
