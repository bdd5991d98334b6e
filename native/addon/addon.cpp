// Module entry: runs every binding's registration (see registry.h) and reports build facts.
#include <napi.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/version.h>

#include "addon/registry.h"

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
  out.Set("cudaAvailable", Napi::Boolean::New(env, at::hasCUDA()));
  out.Set("threads", Napi::Number::New(env, at::get_num_threads()));
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("buildInfo", Napi::Function::New(env, BuildInfo, "buildInfo"));
  for (auto& [name, fn] : registrations()) fn(env, exports);
  return exports;
}
}  // namespace

NODE_API_MODULE(node_qlora, Init)

}  // namespace nq::addon
