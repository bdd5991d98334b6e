// profiler.start() / profiler.stop(path): the torch (kineto) profiler around a stretch of engine
// work, for scripts/gpu/profile.mjs. stop writes a Chrome trace: every CUDA kernel, copy and
// memset with its start and duration (CUPTI sees the kernels of every thread, the model's worker
// thread included), plus the ATen ops of the thread that called start.
#include <napi.h>

#include <ATen/Context.h>
#include <torch/csrc/autograd/profiler_kineto.h>

#include <memory>
#include <set>

#include "addon/errors.h"
#include "addon/registry.h"
#include "core/errors.h"

namespace nq::addon {
namespace {

namespace prof = torch::autograd::profiler;
using torch::profiler::impl::ActivityType;
using torch::profiler::impl::ProfilerConfig;
using torch::profiler::impl::ProfilerState;

bool profiling = false;

std::set<ActivityType> activities() {
  std::set<ActivityType> set{ActivityType::CPU};
  if (at::hasCUDA()) set.insert(ActivityType::CUDA);
  return set;
}

Napi::Value Start(const Napi::CallbackInfo& info) {
  try {
    if (profiling) throw nq::Error("INVALID_ARGUMENT", "profiler.start: the profiler is already running; call profiler.stop(path) first");
    const ProfilerConfig config(ProfilerState::KINETO);
    prof::prepareProfiler(config, activities());
    prof::enableProfiler(config, activities());
    profiling = true;
    return info.Env().Undefined();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throwJsError(info.Env(), captureCurrentException());
  }
}

Napi::Value Stop(const Napi::CallbackInfo& info) {
  const std::string path = requireString(info, 0, "path");
  try {
    if (!profiling) throw nq::Error("INVALID_ARGUMENT", "profiler.stop: the profiler is not running; call profiler.start() first");
    profiling = false;
    std::unique_ptr<prof::ProfilerResult> result = prof::disableProfiler();
    result->save(path);
    return info.Env().Undefined();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throwJsError(info.Env(), captureCurrentException());
  }
}

void registerProfiler(Napi::Env env, Napi::Object exports) {
  Napi::Object p = Napi::Object::New(env);
  p.Set("start", Napi::Function::New(env, Start, "start"));
  p.Set("stop", Napi::Function::New(env, Stop, "stop"));
  exports.Set("profiler", p);
}
Registrar registrar("profiler", registerProfiler);

}  // namespace
}  // namespace nq::addon
