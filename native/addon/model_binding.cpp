// JS face of nq::Model: loadModel(dir, arch, {device, dtype}) -> Promise<ModelHandle> with
// logits(), generate(), info(), dispose(), and LoRA training: addLora(), loraTensors(),
// setLoraTensors(), trainStep(), gradients(), zeroGrad(), optimizerStep(), optimizerState(),
// setOptimizerState(); data parallelism: initProcessGroup(), allReduceGradients(). Arguments are copied into plain C++ values on the JS thread; the work
// runs on the model's own WorkerThread (worker.h).
#include <napi.h>

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "addon/arch_spec.h"
#include "addon/errors.h"
#include "addon/registry.h"
#include "addon/tensor_js.h"
#include "addon/worker.h"
#include "core/distributed.h"
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
  std::unique_ptr<ProcessGroup> group;  // data-parallel training: this rank's process group
  std::shared_ptr<std::atomic<bool>> groupAborted = std::make_shared<std::atomic<bool>>(false);
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

// A rectangular (B, T) int64 matrix: every value in [min, max) or equal to `extra`.
at::Tensor matrixFromJs(const Napi::Value& value, const char* name, int64_t min, int64_t max, std::optional<int64_t> extra) {
  const std::string expected = "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + ")" +
                               (extra ? " or " + std::to_string(*extra) : std::string());
  if (!value.IsArray()) throw Error("INVALID_ARGUMENT", std::string(name) + ": expected an array of rows but received " + describeJs(value));
  Napi::Array rows = value.As<Napi::Array>();
  std::vector<int64_t> flat;
  int64_t T = -1;
  for (uint32_t b = 0; b < rows.Length(); ++b) {
    Napi::Value rv = rows.Get(b);
    if (!rv.IsArray()) throw Error("INVALID_ARGUMENT", std::string(name) + "[" + std::to_string(b) + "]: expected an array but received " + describeJs(rv));
    Napi::Array row = rv.As<Napi::Array>();
    if (T < 0) T = row.Length();
    if (static_cast<int64_t>(row.Length()) != T || T == 0) {
      throw Error("INVALID_ARGUMENT", std::string(name) + ": every row must have the same non-zero length (right-pad them); row " +
                                          std::to_string(b) + " has " + std::to_string(row.Length()) + ", row 0 has " + std::to_string(T));
    }
    for (uint32_t t = 0; t < row.Length(); ++t) {
      Napi::Value v = row.Get(t);
      double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : std::nan("");
      bool ok = v.IsNumber() && std::floor(d) == d &&
                ((d >= static_cast<double>(min) && d < static_cast<double>(max)) || (extra && d == static_cast<double>(*extra)));
      if (!ok) {
        throw Error("INVALID_ARGUMENT", std::string(name) + "[" + std::to_string(b) + "][" + std::to_string(t) + "]: expected " +
                                            expected + " but received " + describeJs(v));
      }
      flat.push_back(static_cast<int64_t>(d));
    }
  }
  if (T < 0) throw Error("INVALID_ARGUMENT", std::string(name) + ": expected at least one row");
  return at::tensor(flat, at::kLong).view({static_cast<int64_t>(rows.Length()), T});
}

double numberOption(const Napi::Object& o, const char* key, std::optional<double> fallback) {
  if (!o.Has(key) || o.Get(key).IsUndefined()) {
    if (fallback) return *fallback;
    throw Error("INVALID_ARGUMENT", std::string(key) + ": expected a number but received undefined");
  }
  Napi::Value v = o.Get(key);
  if (!v.IsNumber() || !std::isfinite(v.As<Napi::Number>().DoubleValue())) {
    throw Error("INVALID_ARGUMENT", std::string(key) + ": expected a finite number but received " + describeJs(v));
  }
  return v.As<Napi::Number>().DoubleValue();
}

bool boolOption(const Napi::Object& o, const char* key, bool fallback) {
  if (!o.Has(key) || o.Get(key).IsUndefined()) return fallback;
  Napi::Value v = o.Get(key);
  if (!v.IsBoolean()) throw Error("INVALID_ARGUMENT", std::string(key) + ": expected a boolean but received " + describeJs(v));
  return v.As<Napi::Boolean>().Value();
}

Napi::Object objectArg(const Napi::CallbackInfo& info, size_t index, const std::string& what) {
  if (info.Length() <= index || !info[index].IsObject() || info[index].IsArray()) {
    throw Error("INVALID_ARGUMENT", what + ": expected an object but received " +
                                        (info.Length() <= index ? std::string("nothing") : describeJs(info[index])));
  }
  return info[index].As<Napi::Object>();
}

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// Record<name, {dtype, shape, data}> -> owned CPU tensors (copied: the JS buffers may change).
NamedTensors recordFromJs(const Napi::Value& value, const std::string& what) {
  if (!value.IsObject() || value.IsArray()) {
    throw Error("INVALID_ARGUMENT", what + ": expected a record of tensors {name: {dtype, shape, data}} but received " + describeJs(value));
  }
  Napi::Object o = value.As<Napi::Object>();
  Napi::Array names = o.GetPropertyNames();
  NamedTensors out;
  for (uint32_t i = 0; i < names.Length(); ++i) {
    const std::string name = names.Get(i).ToString().Utf8Value();
    out.emplace_back(name, tensorFromJs(what + ": tensor \"" + name + "\": ", o.Get(name)).clone());
  }
  return out;
}

Napi::Object recordToJs(Napi::Env env, const NamedTensors& tensors) {
  Napi::Object out = Napi::Object::New(env);
  for (const auto& [name, t] : tensors) out.Set(name, tensorToJs(env, t));
  return out;
}

// CPU copies (taken on the worker, where the tensors live).
NamedTensors cpuCopies(const NamedTensors& tensors) {
  NamedTensors out;
  for (const auto& [name, t] : tensors) out.emplace_back(name, t.detach().to(at::kCPU, /*non_blocking=*/false, /*copy=*/true).contiguous());
  return out;
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
                        InstanceMethod("info", &ModelHandle::Info), InstanceMethod("dispose", &ModelHandle::Dispose),
                        InstanceMethod("addLora", &ModelHandle::AddLora), InstanceMethod("loraTensors", &ModelHandle::LoraTensors),
                        InstanceMethod("setLoraTensors", &ModelHandle::SetLoraTensors),
                        InstanceMethod("trainStep", &ModelHandle::TrainStep), InstanceMethod("gradients", &ModelHandle::Gradients),
                        InstanceMethod("zeroGrad", &ModelHandle::ZeroGrad), InstanceMethod("optimizerStep", &ModelHandle::OptimizerStep),
                        InstanceMethod("optimizerState", &ModelHandle::OptimizerState),
                        InstanceMethod("setOptimizerState", &ModelHandle::SetOptimizerState),
                        InstanceMethod("mergeAdapter", &ModelHandle::MergeAdapter),
                        InstanceMethod("initProcessGroup", &ModelHandle::InitProcessGroup),
                        InstanceMethod("allReduceGradients", &ModelHandle::AllReduceGradients),
                        InstanceMethod("abortProcessGroup", &ModelHandle::AbortProcessGroup)});
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
    state->worker->post([state] {
      state->group.reset();
      state->model.reset();
    });
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

  // Parses on the JS thread (errors thrown as SftError), then runs `work` on the worker.
  template <class R>
  Napi::Value onWorker(const Napi::CallbackInfo& info, std::function<std::function<R()>()> parse,
                       std::function<Napi::Value(Napi::Env, R&)> toJs) {
    Napi::Env env = info.Env();
    requireLive(env);
    std::function<R()> work;
    try {
      work = parse();
    } catch (...) {
      // Argument errors reject the promise, like errors from the work itself.
      auto deferred = Napi::Promise::Deferred::New(env);
      try {
        throw;
      } catch (const Napi::Error& e) {
        deferred.Reject(e.Value());
      } catch (...) {
        deferred.Reject(makeJsError(env, captureCurrentException()));
      }
      return deferred.Promise();
    }
    return runOnWorker<R>(env, *state_->worker, std::move(work), std::move(toJs), Value());
  }

  // addLora({targets, r, alpha, useRslora?, dropout?, layers?, seed?, dropoutSeed?}) -> {modules, parameters}
  Napi::Value AddLora(const Napi::CallbackInfo& info) {
    struct Out {
      std::vector<std::string> modules;
      int64_t parameters = 0;
    };
    std::shared_ptr<ModelState> state = state_;
    return onWorker<Out>(
        info,
        [&]() -> std::function<Out()> {
          Napi::Object o = objectArg(info, 0, "addLora");
          LoraOptions options;
          Napi::Value targets = o.Get("targets");
          if (!targets.IsArray()) throw Error("INVALID_ARGUMENT", "targets: expected an array of module names but received " + describeJs(targets));
          Napi::Array ta = targets.As<Napi::Array>();
          for (uint32_t i = 0; i < ta.Length(); ++i) {
            if (!ta.Get(i).IsString()) throw Error("INVALID_ARGUMENT", "targets[" + std::to_string(i) + "]: expected a module name but received " + describeJs(ta.Get(i)));
            options.targets.push_back(ta.Get(i).As<Napi::String>().Utf8Value());
          }
          options.r = intOption(o, "r", 0, 1);
          if (options.r == 0) throw Error("INVALID_ARGUMENT", "r: expected an integer >= 1 but received undefined");
          options.alpha = numberOption(o, "alpha", std::nullopt);
          options.useRslora = boolOption(o, "useRslora", false);
          options.dropout = numberOption(o, "dropout", 0.0);
          options.seed = static_cast<uint64_t>(intOption(o, "seed", 0, 0));
          if (o.Has("dropoutSeed") && !o.Get("dropoutSeed").IsUndefined()) {
            options.dropoutSeed = static_cast<uint64_t>(intOption(o, "dropoutSeed", 0, 0));
          }
          if (o.Has("layers") && !o.Get("layers").IsUndefined() && !o.Get("layers").IsNull()) {
            Napi::Value lv = o.Get("layers");
            if (!lv.IsArray()) throw Error("INVALID_ARGUMENT", "layers: expected an array of decoder-layer indices but received " + describeJs(lv));
            Napi::Array la = lv.As<Napi::Array>();
            for (uint32_t i = 0; i < la.Length(); ++i) {
              Napi::Value v = la.Get(i);
              const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : std::nan("");
              if (!v.IsNumber() || std::floor(d) != d || std::fabs(d) > 1e9) {
                throw Error("INVALID_ARGUMENT", "layers[" + std::to_string(i) + "]: expected a layer index but received " + describeJs(v));
              }
              options.layers.push_back(static_cast<int64_t>(d));
            }
            if (options.layers.empty()) throw Error("INVALID_ARGUMENT", "layers: expected at least one layer index (leave it out for all layers)");
          }
          return [state, options]() {
            Out out;
            out.modules = state->model->addLora(options);
            out.parameters = state->model->loraParameterCount();
            return out;
          };
        },
        [](Napi::Env env, Out& out) -> Napi::Value {
          Napi::Object result = Napi::Object::New(env);
          Napi::Array modules = Napi::Array::New(env, out.modules.size());
          for (size_t i = 0; i < out.modules.size(); ++i) modules.Set(static_cast<uint32_t>(i), Napi::String::New(env, out.modules[i]));
          result.Set("modules", modules);
          result.Set("parameters", Napi::Number::New(env, static_cast<double>(out.parameters)));
          return result;
        });
  }

  // loraTensors() -> Record<peft name, {dtype, shape, data}> (fp32 copies)
  Napi::Value LoraTensors(const Napi::CallbackInfo& info) {
    std::shared_ptr<ModelState> state = state_;
    return onWorker<NamedTensors>(
        info, [&]() -> std::function<NamedTensors()> { return [state]() { return cpuCopies(state->model->loraParameters()); }; },
        [](Napi::Env env, NamedTensors& t) -> Napi::Value { return recordToJs(env, t); });
  }

  // setLoraTensors(record): every adapter tensor, by peft name.
  Napi::Value SetLoraTensors(const Napi::CallbackInfo& info) {
    std::shared_ptr<ModelState> state = state_;
    return onWorker<bool>(
        info,
        [&]() -> std::function<bool()> {
          if (info.Length() < 1) throw Error("INVALID_ARGUMENT", "setLoraTensors: expected a record of tensors");
          NamedTensors tensors = recordFromJs(info[0], "setLoraTensors");
          return [state, tensors]() {
            state->model->setLoraTensors(tensors);
            return true;
          };
        },
        [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
  }

  // trainStep({ids, attentionMask?, labels}, {lossScale, gradientCheckpointing?}) -> {lossSum, tokens}
  Napi::Value TrainStep(const Napi::CallbackInfo& info) {
    std::shared_ptr<ModelState> state = state_;
    return onWorker<TrainStepResult>(
        info,
        [&]() -> std::function<TrainStepResult()> {
          Napi::Object batch = objectArg(info, 0, "trainStep batch");
          Napi::Object o = objectArg(info, 1, "trainStep options");
          const int64_t vocab = state->model->arch().vocabSize;
          at::Tensor ids = matrixFromJs(batch.Get("ids"), "ids", 0, vocab, std::nullopt);
          at::Tensor labels = matrixFromJs(batch.Get("labels"), "labels", 0, vocab, -100);
          at::Tensor mask = batch.Has("attentionMask") && !batch.Get("attentionMask").IsUndefined() && !batch.Get("attentionMask").IsNull()
                                ? matrixFromJs(batch.Get("attentionMask"), "attentionMask", 0, 2, std::nullopt)
                                : at::ones_like(ids);
          if (labels.sizes() != ids.sizes() || mask.sizes() != ids.sizes()) {
            throw Error("INVALID_ARGUMENT", "trainStep: ids, attentionMask and labels must have the same shape");
          }
          const double lossScale = numberOption(o, "lossScale", std::nullopt);
          const bool checkpointing = boolOption(o, "gradientCheckpointing", false);
          return [state, ids, labels, mask, lossScale, checkpointing]() {
            const at::Device device = state->model->device();
            return state->model->trainStep(ids.to(device), mask.to(device).ne(0), labels.to(device), lossScale, checkpointing);
          };
        },
        [](Napi::Env env, TrainStepResult& r) -> Napi::Value {
          Napi::Object out = Napi::Object::New(env);
          out.Set("lossSum", Napi::Number::New(env, r.lossSum));
          out.Set("tokens", Napi::Number::New(env, static_cast<double>(r.tokens)));
          return out;
        });
  }

  // gradients() -> Record<peft name, fp32 tensor>
  Napi::Value Gradients(const Napi::CallbackInfo& info) {
    std::shared_ptr<ModelState> state = state_;
    return onWorker<NamedTensors>(
        info, [&]() -> std::function<NamedTensors()> { return [state]() { return cpuCopies(state->model->gradients()); }; },
        [](Napi::Env env, NamedTensors& t) -> Napi::Value { return recordToJs(env, t); });
  }

  // mergeAdapter(srcDir, outFile) -> {tensors, bytes}: writes the merged 16-bit checkpoint.
  Napi::Value MergeAdapter(const Napi::CallbackInfo& info) {
    std::shared_ptr<ModelState> state = state_;
    using Out = std::pair<int64_t, int64_t>;
    return onWorker<Out>(
        info,
        [&]() -> std::function<Out()> {
          std::string src = requireString(info, 0, "srcDir");
          std::string outFile = requireString(info, 1, "outFile");
          return [state, src, outFile]() {
            auto tensors = state->model->mergedCheckpoint(src);
            int64_t bytes = 0;
            for (const auto& [name, t] : tensors) bytes += t.numel() * static_cast<int64_t>(t.element_size());
            st::write(outFile, tensors, {{"format", "pt"}});
            return Out{static_cast<int64_t>(tensors.size()), bytes};
          };
        },
        [](Napi::Env env, Out& r) -> Napi::Value {
          Napi::Object o = Napi::Object::New(env);
          o.Set("tensors", Napi::Number::New(env, static_cast<double>(r.first)));
          o.Set("bytes", Napi::Number::New(env, static_cast<double>(r.second)));
          return o;
        });
  }

  Napi::Value ZeroGrad(const Napi::CallbackInfo& info) {
    std::shared_ptr<ModelState> state = state_;
    return onWorker<bool>(
        info,
        [&]() -> std::function<bool()> {
          return [state]() {
            state->model->zeroGrad();
            return true;
          };
        },
        [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
  }

  // optimizerStep({lr, beta1, beta2, eps, weightDecay, maxGradNorm}) -> {gradNorm}
  Napi::Value OptimizerStep(const Napi::CallbackInfo& info) {
    std::shared_ptr<ModelState> state = state_;
    return onWorker<double>(
        info,
        [&]() -> std::function<double()> {
          Napi::Object o = objectArg(info, 0, "optimizerStep");
          OptimizerStepOptions options;
          options.adamw.lr = numberOption(o, "lr", std::nullopt);
          options.adamw.beta1 = numberOption(o, "beta1", std::nullopt);
          options.adamw.beta2 = numberOption(o, "beta2", std::nullopt);
          options.adamw.eps = numberOption(o, "eps", std::nullopt);
          options.adamw.weightDecay = numberOption(o, "weightDecay", std::nullopt);
          options.maxGradNorm = numberOption(o, "maxGradNorm", std::nullopt);
          return [state, options]() { return state->model->optimizerStep(options); };
        },
        [](Napi::Env env, double& norm) -> Napi::Value {
          Napi::Object out = Napi::Object::New(env);
          out.Set("gradNorm", Napi::Number::New(env, norm));
          return out;
        });
  }

  // initProcessGroup({rank, worldSize, host, port, backend, timeoutMs}): joins the rendezvous
  // (rank 0 hosts the store); resolves once every rank has joined.
  Napi::Value InitProcessGroup(const Napi::CallbackInfo& info) {
    std::shared_ptr<ModelState> state = state_;
    return onWorker<bool>(
        info,
        [&]() -> std::function<bool()> {
          Napi::Object o = objectArg(info, 0, "initProcessGroup");
          ProcessGroupOptions options;
          options.worldSize = static_cast<int>(intOption(o, "worldSize", -1, 1));
          if (options.worldSize < 1) throw Error("INVALID_ARGUMENT", "worldSize: expected an integer >= 1 but received undefined");
          options.rank = static_cast<int>(intOption(o, "rank", -1, 0));
          if (options.rank < 0 || options.rank >= options.worldSize) {
            throw Error("INVALID_ARGUMENT", "rank: expected an integer in [0, " + std::to_string(options.worldSize) + ")");
          }
          options.port = static_cast<int>(intOption(o, "port", -1, 1));
          if (options.port < 1) throw Error("INVALID_ARGUMENT", "port: expected an integer in [1, 65535] but received undefined");
          if (o.Has("host") && !o.Get("host").IsUndefined()) options.host = o.Get("host").ToString().Utf8Value();
          if (o.Has("backend") && !o.Get("backend").IsUndefined()) options.backend = o.Get("backend").ToString().Utf8Value();
          options.timeoutMs = intOption(o, "timeoutMs", options.timeoutMs, 1);
          return [state, options]() {
            if (state->group) throw Error("DIST_INIT", "initProcessGroup: this model already belongs to a process group");
            state->group = std::make_unique<ProcessGroup>(options, state->groupAborted);
            return true;
          };
        },
        [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
  }

  // abortProcessGroup(): synchronous, any time: the pending and later collectives of this rank
  // throw DIST_ABORTED (used when another rank failed).
  Napi::Value AbortProcessGroup(const Napi::CallbackInfo& info) {
    state_->groupAborted->store(true);
    return info.Env().Undefined();
  }

  // allReduceGradients(scalars: number[]) -> number[]: sums the LoRA gradients (a rank without
  // any counts zeros) and `scalars` over the ranks, in place; returns the summed scalars.
  Napi::Value AllReduceGradients(const Napi::CallbackInfo& info) {
    std::shared_ptr<ModelState> state = state_;
    using Out = std::vector<double>;
    return onWorker<Out>(
        info,
        [&]() -> std::function<Out()> {
          Out scalars;
          if (info.Length() > 0 && !info[0].IsUndefined()) {
            if (!info[0].IsArray()) throw Error("INVALID_ARGUMENT", "allReduceGradients: expected an array of numbers but received " + describeJs(info[0]));
            Napi::Array a = info[0].As<Napi::Array>();
            for (uint32_t i = 0; i < a.Length(); ++i) {
              Napi::Value v = a.Get(i);
              if (!v.IsNumber()) throw Error("INVALID_ARGUMENT", "allReduceGradients[" + std::to_string(i) + "]: expected a number but received " + describeJs(v));
              scalars.push_back(v.As<Napi::Number>().DoubleValue());
            }
          }
          return [state, scalars]() {
            if (!state->group) throw Error("DIST_NOT_INITIALIZED", "allReduceGradients: call initProcessGroup first");
            Model& m = *state->model;
            if (!m.hasLora()) throw Error("LORA_INVALID", "this model has no LoRA adapters; call addLora first");
            std::vector<at::Tensor> tensors;
            for (const auto& [name, p] : m.loraParameters()) {
              if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
              tensors.push_back(p.grad());
            }
            at::Tensor extra = at::tensor(scalars, at::kDouble).to(m.device());
            if (!scalars.empty()) tensors.push_back(extra);
            state->group->allReduceSum(tensors);
            at::Tensor summed = extra.to(at::kCPU).contiguous();
            return Out(summed.data_ptr<double>(), summed.data_ptr<double>() + summed.numel());
          };
        },
        [](Napi::Env env, Out& out) -> Napi::Value {
          Napi::Array a = Napi::Array::New(env, out.size());
          for (size_t i = 0; i < out.size(); ++i) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, out[i]));
          return a;
        });
  }

  // optimizerState() -> {step, tensors: {"exp_avg.<name>", "exp_avg_sq.<name>"}}
  Napi::Value OptimizerState(const Napi::CallbackInfo& info) {
    struct Out {
      int64_t step = 0;
      NamedTensors tensors;
    };
    std::shared_ptr<ModelState> state = state_;
    return onWorker<Out>(
        info,
        [&]() -> std::function<Out()> {
          return [state]() {
            const Model& m = *state->model;
            if (!m.hasLora()) throw Error("LORA_INVALID", "this model has no LoRA adapters; call addLora first");
            Out out;
            out.step = m.optimizer().steps();
            NamedTensors named;
            const auto& params = m.loraParameters();
            for (size_t i = 0; i < params.size(); ++i) named.emplace_back("exp_avg." + params[i].first, m.optimizer().expAvg()[i]);
            for (size_t i = 0; i < params.size(); ++i) named.emplace_back("exp_avg_sq." + params[i].first, m.optimizer().expAvgSq()[i]);
            if (at::Tensor rng = m.dropoutRngState(); rng.defined()) named.emplace_back("rng.dropout", rng);
            out.tensors = cpuCopies(named);
            return out;
          };
        },
        [](Napi::Env env, Out& out) -> Napi::Value {
          Napi::Object result = Napi::Object::New(env);
          result.Set("step", Napi::Number::New(env, static_cast<double>(out.step)));
          result.Set("tensors", recordToJs(env, out.tensors));
          return result;
        });
  }

  // setOptimizerState({step, tensors})
  Napi::Value SetOptimizerState(const Napi::CallbackInfo& info) {
    std::shared_ptr<ModelState> state = state_;
    return onWorker<bool>(
        info,
        [&]() -> std::function<bool()> {
          Napi::Object o = objectArg(info, 0, "setOptimizerState");
          const int64_t step = intOption(o, "step", -1, 0);
          if (step < 0) throw Error("INVALID_ARGUMENT", "step: expected an integer >= 0 but received undefined");
          NamedTensors tensors = recordFromJs(o.Get("tensors"), "setOptimizerState");
          return [state, step, tensors]() {
            state->model->setOptimizerState(step, tensors);
            return true;
          };
        },
        [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
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
      state->group.reset();
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
