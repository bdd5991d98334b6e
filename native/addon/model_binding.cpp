// JS face of nq::Model: loadModel(dir, arch, {device, dtype}) -> Promise<ModelHandle> with
// logits(), generate(), info(), dispose(). Arguments are copied into plain C++ values on the
// JS thread; the work runs on the model's own WorkerThread (worker.h).
#include <napi.h>

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "addon/arch_spec.h"
#include "addon/errors.h"
#include "addon/registry.h"
#include "addon/worker.h"
#include "core/errors.h"
#include "core/generate.h"
#include "core/model.h"

namespace nq::addon {

namespace {

// Lives as long as the JS handle or a pending job needs it; the model is built and destroyed
// on the worker thread.
struct ModelState {
  std::unique_ptr<WorkerThread> worker = std::make_unique<WorkerThread>();
  std::unique_ptr<Model> model;
  bool disposed = false;
};

std::vector<std::vector<int64_t>> idsFromJs(const Napi::Value& value, const char* name, int64_t vocab) {
  if (!value.IsArray()) throw Error("INVALID_ARGUMENT", std::string(name) + ": expected an array of token-id arrays");
  Napi::Array rows = value.As<Napi::Array>();
  std::vector<std::vector<int64_t>> out(rows.Length());
  for (uint32_t b = 0; b < rows.Length(); ++b) {
    Napi::Value rv = rows.Get(b);
    if (!rv.IsArray()) throw Error("INVALID_ARGUMENT", std::string(name) + "[" + std::to_string(b) + "]: expected an array of token ids");
    Napi::Array row = rv.As<Napi::Array>();
    out[b].reserve(row.Length());
    for (uint32_t t = 0; t < row.Length(); ++t) {
      Napi::Value v = row.Get(t);
      double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1.0;
      if (!v.IsNumber() || std::floor(d) != d || d < 0 || d >= static_cast<double>(vocab)) {
        throw Error("INVALID_ARGUMENT", std::string(name) + "[" + std::to_string(b) + "][" + std::to_string(t) +
                                            "]: expected a token id in [0, " + std::to_string(vocab) + ")");
      }
      out[b].push_back(static_cast<int64_t>(d));
    }
  }
  return out;
}

int64_t intOption(const Napi::Object& o, const char* key, int64_t fallback, int64_t min) {
  if (!o.Has(key) || o.Get(key).IsUndefined()) return fallback;
  Napi::Value v = o.Get(key);
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : std::nan("");
  if (!v.IsNumber() || std::floor(d) != d || d < static_cast<double>(min)) {
    throw Error("INVALID_ARGUMENT", std::string(key) + ": expected an integer >= " + std::to_string(min));
  }
  return static_cast<int64_t>(d);
}

const char* dtypeName(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kBFloat16: return "bfloat16";
    case at::kHalf: return "float16";
    default: return "unknown";
  }
}

class ModelHandle : public Napi::ObjectWrap<ModelHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ModelHandle",
                       {InstanceMethod("logits", &ModelHandle::Logits), InstanceMethod("generate", &ModelHandle::Generate),
                        InstanceMethod("info", &ModelHandle::Info), InstanceMethod("dispose", &ModelHandle::Dispose)});
  }

  explicit ModelHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelHandle>(info) {
    if (info.Length() != 1 || !info[0].IsExternal()) {
      throw Napi::TypeError::New(info.Env(), "ModelHandle is created by loadModel(), not with new");
    }
    state_ = *info[0].As<Napi::External<std::shared_ptr<ModelState>>>().Data();
  }

  ~ModelHandle() override {
    // Collected without dispose(): free the model on its own thread, then end the thread.
    std::shared_ptr<ModelState> state = state_;
    if (!state || state->disposed) return;
    state->disposed = true;
    state->worker->post([state] { state->model.reset(); });
    state->worker->stop();
  }

 private:
  void requireLive(Napi::Env env) const {
    if (state_->disposed) throwJsError(env, {"DISPOSED", "this model was disposed; load it again to use it"});
  }

  Napi::Value Logits(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    requireLive(env);
    std::vector<std::vector<int64_t>> ids;
    std::vector<std::vector<int64_t>> mask;
    try {
      ids = idsFromJs(info[0], "ids", state_->model->arch().vocabSize);
      if (ids.empty()) throw Error("INVALID_ARGUMENT", "ids: expected at least one sequence");
      for (size_t b = 0; b < ids.size(); ++b) {
        if (ids[b].size() != ids[0].size() || ids[b].empty()) {
          throw Error("INVALID_ARGUMENT", "ids: all sequences must have the same non-zero length (pad them and pass attentionMask); sequence " +
                                              std::to_string(b) + " has " + std::to_string(ids[b].size()) + " tokens, sequence 0 has " +
                                              std::to_string(ids[0].size()));
        }
      }
      if (info.Length() > 1 && !info[1].IsNull() && !info[1].IsUndefined()) {
        mask = idsFromJs(info[1], "attentionMask", 2);
        bool ok = mask.size() == ids.size();
        for (size_t b = 0; ok && b < mask.size(); ++b) ok = mask[b].size() == ids[b].size();
        if (!ok) throw Error("INVALID_ARGUMENT", "attentionMask: expected the same shape as ids, with 0 for padding and 1 for tokens");
      }
    } catch (...) {
      throwJsError(env, captureCurrentException());
    }
    std::shared_ptr<ModelState> state = state_;
    std::function<at::Tensor()> work = [state, ids = std::move(ids), mask = std::move(mask)]() {
      at::NoGradGuard noGrad;
      const int64_t B = static_cast<int64_t>(ids.size()), T = static_cast<int64_t>(ids[0].size());
      std::vector<int64_t> flat, flatMask;
      for (const auto& row : ids) flat.insert(flat.end(), row.begin(), row.end());
      for (const auto& row : mask) flatMask.insert(flatMask.end(), row.begin(), row.end());
      const at::Device device = state->model->device();
      at::Tensor idsT = at::tensor(flat, at::kLong).view({B, T}).to(device);
      at::Tensor valid = mask.empty() ? at::ones({B, T}, at::TensorOptions().dtype(at::kBool).device(device))
                                      : at::tensor(flatMask, at::kLong).view({B, T}).to(device).ne(0);
      at::Tensor out = state->model->forward(idsT, positionsFromMask(valid), valid, nullptr, false);
      return out.to(at::kCPU).contiguous();
    };
    std::function<Napi::Value(Napi::Env, at::Tensor&)> toJs = [](Napi::Env env, at::Tensor& t) -> Napi::Value {
      Napi::Object out = Napi::Object::New(env);
      Napi::Array shape = Napi::Array::New(env, t.dim());
      for (int64_t i = 0; i < t.dim(); ++i) shape.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(t.size(i))));
      Napi::Float32Array data = Napi::Float32Array::New(env, static_cast<size_t>(t.numel()));
      std::memcpy(data.Data(), t.data_ptr<float>(), static_cast<size_t>(t.numel()) * sizeof(float));
      out.Set("shape", shape);
      out.Set("data", data);
      return out;
    };
    return runOnWorker<at::Tensor>(env, *state_->worker, std::move(work), std::move(toJs), Value());
  }

  Napi::Value Generate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    requireLive(env);
    std::vector<std::vector<int64_t>> prompts;
    GreedyOptions options;
    try {
      const int64_t vocab = state_->model->arch().vocabSize;
      prompts = idsFromJs(info[0], "ids", vocab);
      if (info.Length() < 2 || !info[1].IsObject()) throw Error("INVALID_ARGUMENT", "generate: expected an options object");
      Napi::Object o = info[1].As<Napi::Object>();
      options.maxNewTokens = intOption(o, "maxNewTokens", 16, 0);
      options.minNewTokens = intOption(o, "minNewTokens", 0, 0);
      options.padTokenId = intOption(o, "padTokenId", 0, 0);
      if (options.padTokenId >= vocab) throw Error("INVALID_ARGUMENT", "padTokenId: expected a token id in [0, " + std::to_string(vocab) + ")");
      if (o.Has("eosTokenIds") && !o.Get("eosTokenIds").IsUndefined()) {
        Napi::Value ev = o.Get("eosTokenIds");
        if (!ev.IsArray()) throw Error("INVALID_ARGUMENT", "eosTokenIds: expected an array of token ids");
        Napi::Array wrapped = Napi::Array::New(env, 1);
        wrapped.Set(0u, ev);
        options.eosTokenIds = idsFromJs(wrapped, "eosTokenIds", vocab)[0];
      }
    } catch (...) {
      throwJsError(env, captureCurrentException());
    }
    std::shared_ptr<ModelState> state = state_;
    using Out = std::vector<std::vector<int64_t>>;
    std::function<Out()> work = [state, prompts = std::move(prompts), options]() {
      return generateGreedy(*state->model, prompts, options);
    };
    std::function<Napi::Value(Napi::Env, Out&)> toJs = [](Napi::Env env, Out& rows) -> Napi::Value {
      Napi::Array out = Napi::Array::New(env, rows.size());
      for (size_t b = 0; b < rows.size(); ++b) {
        Napi::Array row = Napi::Array::New(env, rows[b].size());
        for (size_t t = 0; t < rows[b].size(); ++t) row.Set(static_cast<uint32_t>(t), Napi::Number::New(env, static_cast<double>(rows[b][t])));
        out.Set(static_cast<uint32_t>(b), row);
      }
      return out;
    };
    return runOnWorker<Out>(env, *state_->worker, std::move(work), std::move(toJs), Value());
  }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    requireLive(env);
    const Model& m = *state_->model;
    Napi::Object out = Napi::Object::New(env);
    out.Set("device", Napi::String::New(env, m.device().is_cuda() ? "cuda" : "cpu"));
    out.Set("dtype", Napi::String::New(env, dtypeName(m.dtype())));
    out.Set("parameters", Napi::Number::New(env, static_cast<double>(m.parameterCount())));
    out.Set("parameterBytes", Napi::Number::New(env, static_cast<double>(m.parameterBytes())));
    out.Set("weightPrefix", Napi::String::New(env, m.weightPrefix()));
    out.Set("quantizedLinears", Napi::Number::New(env, static_cast<double>(m.quantizedLinears())));
    return out;
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::shared_ptr<ModelState> state = state_;
    if (state->disposed) {
      auto deferred = Napi::Promise::Deferred::New(env);
      deferred.Resolve(env.Undefined());
      return deferred.Promise();
    }
    state->disposed = true;
    std::function<bool()> work = [state]() {
      state->model.reset();
      return true;
    };
    std::function<Napi::Value(Napi::Env, bool&)> toJs = [state](Napi::Env env, bool&) -> Napi::Value {
      state->worker->stop();  // its queue is empty: this was the last task
      return env.Undefined();
    };
    return runOnWorker<bool>(env, *state->worker, std::move(work), std::move(toJs), Value());
  }

  std::shared_ptr<ModelState> state_;
};

at::Device parseDevice(const std::string& name) {
  if (name == "cpu") return at::Device(at::kCPU);
  if (name == "cuda") {
#ifdef NQ_WITH_CUDA
    if (!at::hasCUDA()) throw Error("CUDA_UNAVAILABLE", "device 'cuda' was asked for but no CUDA device is visible to libtorch");
    return at::Device(at::kCUDA, 0);
#else
    throw Error("CUDA_UNAVAILABLE", "device 'cuda' was asked for but this addon was built without CUDA (Torch without CUDA, or no nvcc at build time); use device 'cpu' or rebuild on a CUDA machine");
#endif
  }
  throw Error("INVALID_ARGUMENT", "device: expected 'cpu' or 'cuda', got '" + name + "'");
}

at::ScalarType parseDtype(const std::string& name) {
  if (name == "float32") return at::kFloat;
  if (name == "bfloat16") return at::kBFloat16;
  if (name == "float16") return at::kHalf;
  throw Error("INVALID_ARGUMENT", "dtype: expected 'float32', 'bfloat16' or 'float16', got '" + name + "'");
}

// {quant: 'none'|'nf4'|'fp4', doubleQuant: boolean, blocksize?: number, dequantizeStored: boolean}
LoadOptions parseLoadOptions(const Napi::Object& o) {
  LoadOptions load;
  const std::string quant = o.Has("quant") ? o.Get("quant").ToString().Utf8Value() : "none";
  if (quant == "none") load.quant = LoadOptions::Quant::None;
  else if (quant == "nf4") load.quant = LoadOptions::Quant::NF4;
  else if (quant == "fp4") load.quant = LoadOptions::Quant::FP4;
  else throw Error("INVALID_ARGUMENT", "quant: expected 'none', 'nf4' or 'fp4', got '" + quant + "'");
  if (o.Has("doubleQuant")) load.doubleQuant = o.Get("doubleQuant").ToBoolean().Value();
  if (o.Has("dequantizeStored")) load.dequantizeStored = o.Get("dequantizeStored").ToBoolean().Value();
  load.blocksize = intOption(o, "blocksize", 64, 64);
  return load;
}

struct Env {
  Napi::FunctionReference handleClass;
};

Napi::Value LoadModel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string dir;
  ArchSpec arch;
  at::Device device(at::kCPU);
  at::ScalarType dtype = at::kFloat;
  LoadOptions load;
  try {
    dir = requireString(info, 0, "dir");
    arch = archSpecFromJs(requireObject(info, 1, "arch"));
    Napi::Object options = requireObject(info, 2, "options");
    device = parseDevice(options.Get("device").ToString().Utf8Value());
    dtype = parseDtype(options.Get("dtype").ToString().Utf8Value());
    load = parseLoadOptions(options);
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throwJsError(env, captureCurrentException());
  }
  auto state = std::make_shared<ModelState>();
  std::function<bool()> work = [state, arch = std::move(arch), dir, device, dtype, load]() {
    at::NoGradGuard noGrad;
    state->model = std::make_unique<Model>(arch, dir, device, dtype, load);
    return true;
  };
  std::function<Napi::Value(Napi::Env, bool&)> toJs = [state](Napi::Env env, bool&) -> Napi::Value {
    Env* data = env.GetInstanceData<Env>();
    auto external = Napi::External<std::shared_ptr<ModelState>>::New(env, new std::shared_ptr<ModelState>(state),
                                                                      [](Napi::Env, std::shared_ptr<ModelState>* p) { delete p; });
    return data->handleClass.New({external});
  };
  Napi::Promise promise = runOnWorker<bool>(env, *state->worker, std::move(work), std::move(toJs));
  return promise;
}

void registerModel(Napi::Env env, Napi::Object exports) {
  auto* data = new Env();
  data->handleClass = Napi::Persistent(ModelHandle::Define(env));
  env.SetInstanceData<Env>(data);
  exports.Set("loadModel", Napi::Function::New(env, LoadModel, "loadModel"));
}
Registrar registrar("model", registerModel);

}  // namespace
}  // namespace nq::addon
