// quantizeCheckpoint(srcDir, outFile, names, {type, blocksize, doubleQuant, device}) ->
// Promise<{quantized, copied, bytesOut}>: the native half of `sft quantize`, on the libuv
// thread pool (it is not tied to a loaded model). Bad arguments reject the promise.
#include <napi.h>

#include <optional>
#include <set>
#include <string>

#include "addon/errors.h"
#include "addon/js_options.h"
#include "addon/registry.h"
#include "addon/tensor_js.h"
#include "addon/worker.h"
#include "core/checkpoint_quantize.h"
#include "core/errors.h"

namespace nq::addon {
namespace {

Napi::Value QuantizeCheckpoint(const Napi::CallbackInfo& info) {
  return parseThenRunOnPool<CheckpointQuantizeStats>(
      info.Env(),
      [&]() -> std::function<CheckpointQuantizeStats()> {
        std::string src = requireString(info, 0, "srcDir");
        std::string out = requireString(info, 1, "outFile");
        if (info.Length() < 3 || !info[2].IsArray()) throw Error("INVALID_ARGUMENT", "names: expected an array of tensor names");
        Napi::Array list = info[2].As<Napi::Array>();
        std::set<std::string> names;
        for (uint32_t i = 0; i < list.Length(); ++i) names.insert(list.Get(i).ToString().Utf8Value());
        Napi::Object o = requireObject(info, 3, "options");
        const std::string typeName = o.Get("type").ToString().Utf8Value();
        if (typeName != "nf4" && typeName != "fp4") throw Error("INVALID_ARGUMENT", "type: expected 'nf4' or 'fp4', got '" + typeName + "'");
        const quant::Type type = typeName == "nf4" ? quant::Type::NF4 : quant::Type::FP4;
        // Required, like every quantization setting (bitsandbytes' defaults: src/config/defaults.ts).
        const int64_t blocksize = intOption(o, "blocksize", std::nullopt, 64);
        const bool doubleQuant = boolOption(o, "doubleQuant", std::nullopt);
        const std::optional<std::string> deviceOption = stringOption(o, "device");
        if (!deviceOption) invalidArgument("device: expected 'cpu' or 'cuda' but received " + describeJs(o.Get("device")));
        const std::string deviceName = *deviceOption;
        at::Device device(at::kCPU);
        if (deviceName == "cuda") {
#ifdef NQ_WITH_CUDA
          if (!at::hasCUDA()) throw Error("CUDA_UNAVAILABLE", "device 'cuda' was asked for but no CUDA device is visible to libtorch");
          device = at::Device(at::kCUDA, 0);
#else
          throw Error("CUDA_UNAVAILABLE", "device 'cuda' was asked for but this addon was built without CUDA");
#endif
        } else if (deviceName != "cpu") {
          throw Error("INVALID_ARGUMENT", "device: expected 'cpu' or 'cuda', got '" + deviceName + "'");
        }
        return [src, out, names, type, blocksize, doubleQuant, device]() {
          return quantizeCheckpoint(src, out, names, type, blocksize, doubleQuant, device);
        };
      },
      [](Napi::Env env, CheckpointQuantizeStats& stats) -> Napi::Value {
        Napi::Object result = Napi::Object::New(env);
        result.Set("quantized", Napi::Number::New(env, static_cast<double>(stats.quantized)));
        result.Set("copied", Napi::Number::New(env, static_cast<double>(stats.copied)));
        result.Set("bytesOut", Napi::Number::New(env, static_cast<double>(stats.bytesOut)));
        return result;
      });
}

void registerCheckpoint(Napi::Env env, Napi::Object exports) {
  exports.Set("quantizeCheckpoint", Napi::Function::New(env, QuantizeCheckpoint, "quantizeCheckpoint"));
}
Registrar registrar("checkpoint", registerCheckpoint);

}  // namespace
}  // namespace nq::addon
