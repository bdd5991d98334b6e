// quantizeCheckpoint(srcDir, outFile, names, {type, blocksize, doubleQuant, device}) ->
// Promise<{quantized, copied, bytesOut}>: the native half of `sft quantize`, on the libuv
// thread pool (it is not tied to a loaded model).
#include <napi.h>

#include <set>
#include <string>

#include "addon/errors.h"
#include "addon/registry.h"
#include "core/checkpoint_quantize.h"
#include "core/errors.h"

namespace nq::addon {
namespace {

class QuantizeWorker : public Napi::AsyncWorker {
 public:
  QuantizeWorker(Napi::Env env, std::string src, std::string out, std::set<std::string> names, quant::Type type,
                 int64_t blocksize, bool doubleQuant, at::Device device)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), src_(std::move(src)),
        out_(std::move(out)), names_(std::move(names)), type_(type), blocksize_(blocksize),
        doubleQuant_(doubleQuant), device_(device) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      stats_ = quantizeCheckpoint(src_, out_, names_, type_, blocksize_, doubleQuant_, device_);
    } catch (...) {
      error_ = captureCurrentException();
      failed_ = true;
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (failed_) {
      deferred_.Reject(makeJsError(env, error_));
      return;
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("quantized", Napi::Number::New(env, static_cast<double>(stats_.quantized)));
    result.Set("copied", Napi::Number::New(env, static_cast<double>(stats_.copied)));
    result.Set("bytesOut", Napi::Number::New(env, static_cast<double>(stats_.bytesOut)));
    deferred_.Resolve(result);
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::string src_, out_;
  std::set<std::string> names_;
  quant::Type type_;
  int64_t blocksize_;
  bool doubleQuant_;
  at::Device device_;
  CheckpointQuantizeStats stats_;
  CapturedError error_;
  bool failed_ = false;
};

Napi::Value QuantizeCheckpoint(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
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
    const int64_t blocksize = o.Has("blocksize") ? o.Get("blocksize").ToNumber().Int64Value() : 64;
    const bool doubleQuant = o.Has("doubleQuant") ? o.Get("doubleQuant").ToBoolean().Value() : true;
    const std::string deviceName = o.Has("device") ? o.Get("device").ToString().Utf8Value() : "cpu";
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
    auto* worker = new QuantizeWorker(env, std::move(src), std::move(out), std::move(names), type, blocksize, doubleQuant, device);
    Napi::Promise promise = worker->Promise();
    worker->Queue();
    return promise;
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throwJsError(env, captureCurrentException());
  }
}

void registerCheckpoint(Napi::Env env, Napi::Object exports) {
  exports.Set("quantizeCheckpoint", Napi::Function::New(env, QuantizeCheckpoint, "quantizeCheckpoint"));
}
Registrar registrar("checkpoint", registerCheckpoint);

}  // namespace
}  // namespace nq::addon
