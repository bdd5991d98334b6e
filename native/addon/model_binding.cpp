// JS face of nq::Model: loadModel(dir, arch, {device, dtype, ...}) -> Promise<ModelHandle>.
// Inference: logits(), generate(); sequence classification (loaded with numLabels):
// classifyLogits(), classifyStep(). LoRA training: addLora(), trainStep() over a packed batch,
// gradients(), zeroGrad(), optimizerStep(); adapter and optimizer files written and read here
// (saveAdapter(), loadAdapterWeights(), saveOptimizerState(), loadOptimizerState(),
// mergeAdapter()); loraTensors() / setLoraTensors() for inspection; data parallelism:
// initProcessGroup(), allReduceGradients(), abortProcessGroup(). info() and
// abortProcessGroup() are synchronous; every other method returns a Promise and reports bad
// arguments by rejecting it.
//
// Every asynchronous method is one parse -> work -> toJs (worker.h parseThenRun): token ids,
// labels and masks arrive as typed arrays and are copied into tensors on the JS thread; the
// work runs on the model's own WorkerThread.
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
#include "addon/js_options.h"
#include "addon/lora_files.h"
#include "addon/registry.h"
#include "addon/tensor_js.h"
#include "addon/token_arrays.h"
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

// Record<name, {dtype, shape, data}> -> owned CPU tensors (copied: the JS buffers may change).
NamedTensors recordFromJs(const Napi::Value& value, const std::string& what) {
  if (!value.IsObject() || value.IsArray()) {
    invalidArgument(what + ": expected a record of tensors {name: {dtype, shape, data}} but received " + describeJs(value));
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

const char* dtypeName(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kBFloat16: return "bfloat16";
    case at::kHalf: return "float16";
    default: return "unknown";
  }
}

Napi::Value undefinedToJs(Napi::Env env, bool&) { return env.Undefined(); }

// {ids: Int32Array, seqLens: Int32Array}: sequences one after another (generate's prompts and
// its output).
Napi::Object packedToJs(Napi::Env env, const std::vector<std::vector<int64_t>>& rows) {
  std::vector<int64_t> flat, lens;
  for (const auto& row : rows) {
    flat.insert(flat.end(), row.begin(), row.end());
    lens.push_back(static_cast<int64_t>(row.size()));
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("ids", int32ArrayToJs(env, at::tensor(flat, at::kLong)));
  out.Set("seqLens", int32ArrayToJs(env, at::tensor(lens, at::kLong)));
  return out;
}

// generate's optional `sampling` object: absent or null = greedy.
void readSamplingOptions(const Napi::Object& o, GenerateOptions& options) {
  Napi::Value v = o.Get("sampling");
  if (v.IsUndefined() || v.IsNull()) return;
  if (!v.IsObject() || v.IsArray()) invalidArgument("sampling: expected an object but received " + describeJs(v));
  Napi::Object s = v.As<Napi::Object>();
  options.sample = true;
  options.sampling.temperature = numberOption(s, "temperature", std::nullopt);
  options.sampling.topK = intOption(s, "topK", std::nullopt, 0);
  options.sampling.topP = numberOption(s, "topP", std::nullopt);
  if (!(options.sampling.temperature > 0)) invalidArgument("sampling.temperature: expected a number > 0");
  if (!(options.sampling.topP > 0 && options.sampling.topP <= 1)) invalidArgument("sampling.topP: expected a number in (0, 1]");
  Napi::Value seeds = s.Get("seeds");
  if (!seeds.IsArray()) invalidArgument("sampling.seeds: expected an array of integers but received " + describeJs(seeds));
  Napi::Array list = seeds.As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Value seed = list.Get(i);
    const double d = seed.IsNumber() ? seed.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d <= 9007199254740991.0 && std::floor(d) == d)) {
      invalidArgument("sampling.seeds[" + std::to_string(i) + "]: expected an integer in [0, 2^53) but received " + describeJs(seed));
    }
    options.seeds.push_back(static_cast<uint64_t>(d));
  }
}

// Each decoding step's tokens to a JS callback through a thread-safe function. The worker does
// not wait for JS: a callback returning false raises `stop`, which the next step reads.
class StepStream {
 public:
  StepStream(Napi::Env env, Napi::Function callback)
      : tsfn_(Napi::ThreadSafeFunction::New(env, callback, "node-qlora-generate-steps", 0, 1)),
        stop_(std::make_shared<std::atomic<bool>>(false)) {}

  // On the worker: queues the step; false once JS asked to stop (or the environment is closing).
  bool send(const std::vector<int64_t>& step) {
    if (stop_->load()) return false;
    auto* data = new std::vector<int64_t>(step);
    std::shared_ptr<std::atomic<bool>> stop = stop_;
    napi_status status = tsfn_.NonBlockingCall(data, [stop](Napi::Env env, Napi::Function fn, std::vector<int64_t>* tokens) {
      Napi::Int32Array ids = Napi::Int32Array::New(env, tokens->size());
      for (size_t i = 0; i < tokens->size(); ++i) ids[i] = static_cast<int32_t>((*tokens)[i]);
      delete tokens;
      if (stop->load()) return;
      try {
        Napi::Value r = fn.Call({ids});
        if (r.IsBoolean() && !r.As<Napi::Boolean>().Value()) stop->store(true);
      } catch (const Napi::Error&) {
        stop->store(true);  // a throwing listener ends the stream; the promise still settles
      }
    });
    if (status != napi_ok) {
      delete data;
      return false;
    }
    return true;
  }

  // Releases the thread-safe function when the work ends, thrown or not.
  struct Closer {
    std::shared_ptr<StepStream> stream;
    ~Closer() {
      if (stream) stream->tsfn_.Release();
    }
  };

 private:
  Napi::ThreadSafeFunction tsfn_;
  std::shared_ptr<std::atomic<bool>> stop_;
};

class ModelHandle : public Napi::ObjectWrap<ModelHandle> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ModelHandle",
                       {InstanceMethod("logits", &ModelHandle::Logits), InstanceMethod("generate", &ModelHandle::Generate),
                        InstanceMethod("classifyLogits", &ModelHandle::ClassifyLogits),
                        InstanceMethod("classifyStep", &ModelHandle::ClassifyStep),
                        InstanceMethod("info", &ModelHandle::Info), InstanceMethod("dispose", &ModelHandle::Dispose),
                        InstanceMethod("addLora", &ModelHandle::AddLora), InstanceMethod("loraTensors", &ModelHandle::LoraTensors),
                        InstanceMethod("setLoraTensors", &ModelHandle::SetLoraTensors),
                        InstanceMethod("trainStep", &ModelHandle::TrainStep), InstanceMethod("gradients", &ModelHandle::Gradients),
                        InstanceMethod("zeroGrad", &ModelHandle::ZeroGrad), InstanceMethod("optimizerStep", &ModelHandle::OptimizerStep),
                        InstanceMethod("saveAdapter", &ModelHandle::SaveAdapter),
                        InstanceMethod("loadAdapterWeights", &ModelHandle::LoadAdapterWeights),
                        InstanceMethod("saveOptimizerState", &ModelHandle::SaveOptimizerState),
                        InstanceMethod("loadOptimizerState", &ModelHandle::LoadOptimizerState),
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
  void requireLive() const {
    if (state_->disposed) throw Error("DISPOSED", "this model was disposed; load it again to use it");
  }

  // The one path of every asynchronous method: a disposed model or a bad argument rejects the
  // promise; the work runs on the model's thread; the handle stays alive until it settles.
  template <class R>
  Napi::Value onWorker(const Napi::CallbackInfo& info, const std::function<std::function<R()>()>& parse, ToJsFn<R> toJs) {
    return parseThenRun<R>(
        info.Env(), *state_->worker,
        [&]() {
          requireLive();
          return parse();
        },
        std::move(toJs), Value());
  }

  // (ids: Int32Array, shape: [B, T], attentionMask: Uint8Array | null) -> ids (B, T) int64 and
  // valid (B, T) bool (all true without a mask), CPU tensors; `method` names the call in messages.
  std::pair<at::Tensor, at::Tensor> paddedIdsFromJs(const Napi::CallbackInfo& info, const std::string& method) const {
    const int64_t vocab = state_->model->arch().vocabSize;
    if (info.Length() < 2) invalidArgument(method + ": expected (ids: Int32Array, shape: [rows, cols], attentionMask: Uint8Array | null)");
    const int64_t total = static_cast<int64_t>(requireInt32Array(info[0], "ids").ElementLength());
    const auto [B, T] = matrixShapeFromJs(info[1], "shape", total);
    at::Tensor ids = int32ArrayFromJs(info[0], "ids", 0, vocab, std::nullopt, T).view({B, T});
    at::Tensor valid = info.Length() > 2 && !info[2].IsNull() && !info[2].IsUndefined()
                           ? maskFromJs(info[2], "attentionMask", B * T).view({B, T})
                           : at::ones({B, T}, at::kBool);
    return {ids, valid};
  }

  // {shape, data: Float32Array} of a contiguous CPU float32 tensor.
  static Napi::Value floatTensorToJs(Napi::Env env, at::Tensor& t) {
    Napi::Object out = Napi::Object::New(env);
    Napi::Float32Array data = Napi::Float32Array::New(env, static_cast<size_t>(t.numel()));
    std::memcpy(data.Data(), t.data_ptr<float>(), static_cast<size_t>(t.numel()) * sizeof(float));
    out.Set("shape", shapeToJs(env, t.sizes().vec()));
    out.Set("data", data);
    return out;
  }

  // A forward over a padded batch (ids, shape, attentionMask as paddedIdsFromJs reads them) on
  // the worker: run(model, ids, positions, valid) -> a float32 tensor, returned as {shape, data}.
  using PaddedRun = std::function<at::Tensor(const Model&, const at::Tensor&, const at::Tensor&, const at::Tensor&)>;
  Napi::Value paddedForward(const Napi::CallbackInfo& info, const std::string& method, PaddedRun run) {
    std::shared_ptr<ModelState> state = state_;
    return onWorker<at::Tensor>(
        info,
        [&]() -> std::function<at::Tensor()> {
          auto [ids, valid] = paddedIdsFromJs(info, method);
          return [state, ids, valid, run]() {
            at::NoGradGuard noGrad;
            const at::Device device = state->model->device();
            at::Tensor v = valid.to(device);
            return run(*state->model, ids.to(device), positionsFromMask(v), v).to(at::kCPU).contiguous();
          };
        },
        floatTensorToJs);
  }

  // logits(ids: Int32Array, shape: [B, T], attentionMask: Uint8Array | null) -> {shape: [B, T, V], data: Float32Array}
  Napi::Value Logits(const Napi::CallbackInfo& info) {
    return paddedForward(info, "logits", [](const Model& m, const at::Tensor& ids, const at::Tensor& positions, const at::Tensor& valid) {
      return m.forward(ids, positions, valid, nullptr, false);
    });
  }

  // classifyLogits(ids: Int32Array, shape: [B, T], attentionMask: Uint8Array | null) -> {shape: [B, K], data: Float32Array}:
  // the score head at each row's last token where the mask is 1.
  Napi::Value ClassifyLogits(const Napi::CallbackInfo& info) {
    return paddedForward(info, "classifyLogits", [](const Model& m, const at::Tensor& ids, const at::Tensor& positions, const at::Tensor& valid) {
      return m.classifyForward(ids, positions, valid);
    });
  }

  // generate({ids: Int32Array, seqLens: Int32Array}, {maxNewTokens, minNewTokens, eosTokenIds: Int32Array, padTokenId,
  //   sampling?: {temperature, topK, topP, seeds: number[] (one per prompt)}}, onStep?: (ids: Int32Array) => boolean | void)
  //   -> {ids: Int32Array, seqLens: Int32Array}: per prompt, only the new tokens. onStep hears each
  //   step's token per prompt on the JS thread; returning false stops generation a step or two later.
  Napi::Value Generate(const Napi::CallbackInfo& info) {
    std::shared_ptr<ModelState> state = state_;
    using Out = std::vector<std::vector<int64_t>>;
    return onWorker<Out>(
        info,
        [&]() -> std::function<Out()> {
          const int64_t vocab = state->model->arch().vocabSize;
          Napi::Object prompts = objectArg(info, 0, "generate prompts");
          Napi::Object o = objectArg(info, 1, "generate options");
          at::Tensor ids = int32ArrayFromJs(prompts.Get("ids"), "ids", 0, vocab);
          at::Tensor lens = seqLensFromJs(prompts.Get("seqLens"), "seqLens", ids.numel(), 0, "prompt");
          GenerateOptions options;
          options.maxNewTokens = intOption(o, "maxNewTokens", std::nullopt, 0);
          options.minNewTokens = intOption(o, "minNewTokens", std::nullopt, 0);
          options.padTokenId = intOption(o, "padTokenId", std::nullopt, 0);
          if (options.padTokenId >= vocab) invalidArgument("padTokenId: expected a token id in [0, " + std::to_string(vocab) + ")");
          at::Tensor eos = int32ArrayFromJs(o.Get("eosTokenIds"), "eosTokenIds", 0, vocab);
          options.eosTokenIds.assign(eos.data_ptr<int64_t>(), eos.data_ptr<int64_t>() + eos.numel());
          readSamplingOptions(o, options);
          std::shared_ptr<StepStream> stream;
          if (info.Length() > 2 && !info[2].IsUndefined()) {
            if (!info[2].IsFunction()) invalidArgument("onStep: expected a function but received " + describeJs(info[2]));
            stream = std::make_shared<StepStream>(info.Env(), info[2].As<Napi::Function>());
            options.onStep = [stream](const std::vector<int64_t>& step) { return stream->send(step); };
          }
          return [state, ids, lens, options, stream]() {
            StepStream::Closer closer{stream};
            Out rows;
            const int64_t* id = ids.data_ptr<int64_t>();
            const int64_t* len = lens.data_ptr<int64_t>();
            for (int64_t s = 0, start = 0; s < lens.numel(); start += len[s], ++s) rows.emplace_back(id + start, id + start + len[s]);
            return generate(*state->model, rows, options);
          };
        },
        [](Napi::Env env, Out& rows) -> Napi::Value { return packedToJs(env, rows); });
  }

  // addLora({targets, r, alpha, useRslora, dropout, layers?, seed, dropoutSeed?}) -> {modules, parameters}
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
          if (!targets.IsArray()) invalidArgument("targets: expected an array of module names but received " + describeJs(targets));
          Napi::Array ta = targets.As<Napi::Array>();
          for (uint32_t i = 0; i < ta.Length(); ++i) {
            if (!ta.Get(i).IsString()) invalidArgument("targets[" + std::to_string(i) + "]: expected a module name but received " + describeJs(ta.Get(i)));
            options.targets.push_back(ta.Get(i).As<Napi::String>().Utf8Value());
          }
          options.r = intOption(o, "r", std::nullopt, 1);
          options.alpha = numberOption(o, "alpha", std::nullopt);
          options.useRslora = boolOption(o, "useRslora", std::nullopt);
          options.dropout = numberOption(o, "dropout", std::nullopt);
          options.seed = static_cast<uint64_t>(intOption(o, "seed", std::nullopt, 0));
          if (o.Has("dropoutSeed") && !o.Get("dropoutSeed").IsUndefined()) {
            options.dropoutSeed = static_cast<uint64_t>(intOption(o, "dropoutSeed", std::nullopt, 0));
          }
          if (o.Has("layers") && !o.Get("layers").IsUndefined() && !o.Get("layers").IsNull()) {
            Napi::Value lv = o.Get("layers");
            if (!lv.IsArray()) invalidArgument("layers: expected an array of decoder-layer indices but received " + describeJs(lv));
            Napi::Array la = lv.As<Napi::Array>();
            for (uint32_t i = 0; i < la.Length(); ++i) {
              Napi::Value v = la.Get(i);
              const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : std::nan("");
              if (!v.IsNumber() || std::floor(d) != d || std::fabs(d) > 1e9) {
                invalidArgument("layers[" + std::to_string(i) + "]: expected a layer index but received " + describeJs(v));
              }
              options.layers.push_back(static_cast<int64_t>(d));
            }
            if (options.layers.empty()) invalidArgument("layers: expected at least one layer index (leave it out for all layers)");
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

  // loraTensors() -> Record<peft name, {dtype, shape, data}> (fp32 copies), for inspection and tests.
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
          if (info.Length() < 1) invalidArgument("setLoraTensors: expected a record of tensors");
          NamedTensors tensors = recordFromJs(info[0], "setLoraTensors");
          return [state, tensors]() {
            state->model->setLoraTensors(tensors);
            return true;
          };
        },
        undefinedToJs);
  }

  // trainStep({ids: Int32Array, labels: Int32Array, seqLens: Int32Array}, {lossScale, gradientCheckpointing})
  //   -> {lossSum, tokens}. A packed batch: sequence i is the next seqLens[i] entries of ids and
  //   labels; the label of token t is labels[t + 1] of the same sequence (-100: no loss).
  Napi::Value TrainStep(const Napi::CallbackInfo& info) {
    std::shared_ptr<ModelState> state = state_;
    return onWorker<TrainStepResult>(
        info,
        [&]() -> std::function<TrainStepResult()> {
          Napi::Object batch = objectArg(info, 0, "trainStep batch");
          Napi::Object o = objectArg(info, 1, "trainStep options");
          const int64_t vocab = state->model->arch().vocabSize;
          PackedBatch packed;
          packed.ids = int32ArrayFromJs(batch.Get("ids"), "ids", 0, vocab);
          packed.labels = int32ArrayFromJs(batch.Get("labels"), "labels", 0, vocab, -100);
          if (packed.labels.numel() != packed.ids.numel()) {
            invalidArgument("labels: expected one label per token id (" + std::to_string(packed.ids.numel()) + ") but received " +
                            std::to_string(packed.labels.numel()));
          }
          packed.seqLens = seqLensFromJs(batch.Get("seqLens"), "seqLens", packed.ids.numel(), 1, "sequence");
          const double lossScale = numberOption(o, "lossScale", std::nullopt);
          const bool checkpointing = boolOption(o, "gradientCheckpointing", std::nullopt);
          return [state, packed, lossScale, checkpointing]() {
            const at::Device device = state->model->device();
            PackedBatch onDevice{packed.ids.to(device), packed.labels.to(device), packed.seqLens};
            return state->model->trainStep(onDevice, lossScale, checkpointing);
          };
        },
        [](Napi::Env env, TrainStepResult& r) -> Napi::Value {
          Napi::Object out = Napi::Object::New(env);
          out.Set("lossSum", Napi::Number::New(env, r.lossSum));
          out.Set("tokens", Napi::Number::New(env, static_cast<double>(r.tokens)));
          return out;
        });
  }

  // classifyStep({ids: Int32Array, seqLens: Int32Array, labels: Int32Array}, {lossScale, gradientCheckpointing,
  //   rdropAlpha, supconWeight, supconTemperature}) -> {lossSum, rows}: one label per sequence.
  Napi::Value ClassifyStep(const Napi::CallbackInfo& info) {
    std::shared_ptr<ModelState> state = state_;
    return onWorker<TrainStepResult>(
        info,
        [&]() -> std::function<TrainStepResult()> {
          Napi::Object batch = objectArg(info, 0, "classifyStep batch");
          Napi::Object o = objectArg(info, 1, "classifyStep options");
          const Model& m = *state->model;
          if (!m.hasScoreHead()) invalidArgument("classifyStep: this model has no score head; load it with numLabels");
          ClassifyBatch packed;
          packed.ids = int32ArrayFromJs(batch.Get("ids"), "ids", 0, m.arch().vocabSize);
          packed.seqLens = seqLensFromJs(batch.Get("seqLens"), "seqLens", packed.ids.numel(), 1, "sequence");
          packed.labels = int32ArrayFromJs(batch.Get("labels"), "labels", 0, m.numLabels());
          if (packed.labels.numel() != packed.seqLens.numel()) {
            invalidArgument("labels: expected one label per sequence (" + std::to_string(packed.seqLens.numel()) + ") but received " +
                            std::to_string(packed.labels.numel()));
          }
          ClassifyStepOptions options;
          options.lossScale = numberOption(o, "lossScale", std::nullopt);
          options.checkpointing = boolOption(o, "gradientCheckpointing", std::nullopt);
          options.loss.rdropAlpha = numberOption(o, "rdropAlpha", std::nullopt);
          options.loss.supconWeight = numberOption(o, "supconWeight", std::nullopt);
          options.loss.supconTemperature = numberOption(o, "supconTemperature", std::nullopt);
          return [state, packed, options]() { return state->model->classifyStep(packed, options); };
        },
        [](Napi::Env env, TrainStepResult& r) -> Napi::Value {
          Napi::Object out = Napi::Object::New(env);
          out.Set("lossSum", Napi::Number::New(env, r.lossSum));
          out.Set("rows", Napi::Number::New(env, static_cast<double>(r.tokens)));
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

  // A method that takes one file path and runs `action(model, path)` on the worker.
  Napi::Value withFile(const Napi::CallbackInfo& info, const char* method, std::function<void(Model&, const std::string&)> action) {
    std::shared_ptr<ModelState> state = state_;
    return onWorker<bool>(
        info,
        [&]() -> std::function<bool()> {
          const std::string file = stringArg(info, 0, std::string(method) + " file");
          return [state, file, action]() {
            action(*state->model, file);
            return true;
          };
        },
        undefinedToJs);
  }

  // saveAdapter(file): adapter_model.safetensors in peft's layout.
  Napi::Value SaveAdapter(const Napi::CallbackInfo& info) {
    return withFile(info, "saveAdapter", [](Model& m, const std::string& f) { saveAdapterFile(m, f); });
  }

  // loadAdapterWeights(file): every adapter tensor from a peft adapter_model.safetensors.
  Napi::Value LoadAdapterWeights(const Napi::CallbackInfo& info) {
    return withFile(info, "loadAdapterWeights", [](Model& m, const std::string& f) { loadAdapterFile(m, f); });
  }

  // saveOptimizerState(file) -> {step}: the AdamW moments (and dropout generator) as of `step`.
  Napi::Value SaveOptimizerState(const Napi::CallbackInfo& info) {
    std::shared_ptr<ModelState> state = state_;
    return onWorker<int64_t>(
        info,
        [&]() -> std::function<int64_t()> {
          const std::string file = stringArg(info, 0, "saveOptimizerState file");
          return [state, file]() { return saveOptimizerFile(*state->model, file); };
        },
        [](Napi::Env env, int64_t& step) -> Napi::Value {
          Napi::Object out = Napi::Object::New(env);
          out.Set("step", Napi::Number::New(env, static_cast<double>(step)));
          return out;
        });
  }

  // loadOptimizerState(file, {step}): restores what saveOptimizerState wrote.
  Napi::Value LoadOptimizerState(const Napi::CallbackInfo& info) {
    std::shared_ptr<ModelState> state = state_;
    return onWorker<bool>(
        info,
        [&]() -> std::function<bool()> {
          const std::string file = stringArg(info, 0, "loadOptimizerState file");
          const int64_t step = intOption(objectArg(info, 1, "loadOptimizerState options"), "step", std::nullopt, 0);
          return [state, file, step]() {
            loadOptimizerFile(*state->model, file, step);
            return true;
          };
        },
        undefinedToJs);
  }

  // mergeAdapter(srcDir, outFile) -> {tensors, bytes}: writes the merged 16-bit checkpoint.
  Napi::Value MergeAdapter(const Napi::CallbackInfo& info) {
    std::shared_ptr<ModelState> state = state_;
    using Out = std::pair<int64_t, int64_t>;
    return onWorker<Out>(
        info,
        [&]() -> std::function<Out()> {
          std::string src = stringArg(info, 0, "mergeAdapter srcDir");
          std::string outFile = stringArg(info, 1, "mergeAdapter outFile");
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
        undefinedToJs);
  }

  // optimizerStep({lr, beta1, beta2, eps, weightDecay, maxGradNorm, skipNonFinite}) -> {gradNorm, applied}
  Napi::Value OptimizerStep(const Napi::CallbackInfo& info) {
    std::shared_ptr<ModelState> state = state_;
    return onWorker<OptimizerStepResult>(
        info,
        [&]() -> std::function<OptimizerStepResult()> {
          Napi::Object o = objectArg(info, 0, "optimizerStep");
          OptimizerStepOptions options;
          options.adamw.lr = numberOption(o, "lr", std::nullopt);
          options.adamw.beta1 = numberOption(o, "beta1", std::nullopt);
          options.adamw.beta2 = numberOption(o, "beta2", std::nullopt);
          options.adamw.eps = numberOption(o, "eps", std::nullopt);
          options.adamw.weightDecay = numberOption(o, "weightDecay", std::nullopt);
          options.maxGradNorm = numberOption(o, "maxGradNorm", std::nullopt);
          options.skipNonFinite = boolOption(o, "skipNonFinite", std::nullopt);
          return [state, options]() { return state->model->optimizerStep(options); };
        },
        [](Napi::Env env, OptimizerStepResult& r) -> Napi::Value {
          Napi::Object out = Napi::Object::New(env);
          out.Set("gradNorm", Napi::Number::New(env, r.gradNorm));
          out.Set("applied", Napi::Boolean::New(env, r.applied));
          return out;
        });
  }

  // initProcessGroup({rank, worldSize, host?, port, backend?, timeoutMs?}): joins the rendezvous
  // (rank 0 hosts the store); resolves once every rank has joined.
  Napi::Value InitProcessGroup(const Napi::CallbackInfo& info) {
    std::shared_ptr<ModelState> state = state_;
    return onWorker<bool>(
        info,
        [&]() -> std::function<bool()> {
          Napi::Object o = objectArg(info, 0, "initProcessGroup");
          ProcessGroupOptions options;
          options.worldSize = static_cast<int>(intOption(o, "worldSize", std::nullopt, 1));
          options.rank = static_cast<int>(intOption(o, "rank", std::nullopt, 0));
          if (options.rank >= options.worldSize) {
            invalidArgument("rank: expected an integer in [0, " + std::to_string(options.worldSize) + ") but received " + std::to_string(options.rank));
          }
          options.port = static_cast<int>(intOption(o, "port", std::nullopt, 1));
          if (auto host = stringOption(o, "host")) options.host = *host;
          if (auto backend = stringOption(o, "backend")) options.backend = *backend;
          options.timeoutMs = intOption(o, "timeoutMs", options.timeoutMs, 1);
          return [state, options]() {
            if (state->group) throw Error("DIST_INIT", "initProcessGroup: this model already belongs to a process group");
            state->group = std::make_unique<ProcessGroup>(options, state->groupAborted);
            return true;
          };
        },
        undefinedToJs);
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
            if (!info[0].IsArray()) invalidArgument("allReduceGradients: expected an array of numbers but received " + describeJs(info[0]));
            Napi::Array a = info[0].As<Napi::Array>();
            for (uint32_t i = 0; i < a.Length(); ++i) {
              Napi::Value v = a.Get(i);
              if (!v.IsNumber()) invalidArgument("allReduceGradients[" + std::to_string(i) + "]: expected a number but received " + describeJs(v));
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

  // info(): synchronous (facts fixed at load); throws DISPOSED after dispose().
  Napi::Value Info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    try {
      requireLive();
    } catch (...) {
      throwJsError(env, captureCurrentException());
    }
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

  // dispose(): frees the model on its thread, then ends the thread. Resolves at once when
  // already disposed.
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
    ToJsFn<bool> toJs = [state](Napi::Env env, bool&) -> Napi::Value {
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

// {quant: 'none'|'nf4'|'fp4', doubleQuant: boolean, blocksize: number, dequantizeStored: boolean},
// every field required (the defaults are the recipe's: src/config/defaults.ts).
LoadOptions parseLoadOptions(const Napi::Object& o) {
  LoadOptions load;
  const std::optional<std::string> quant = stringOption(o, "quant");
  if (!quant) invalidArgument("quant: expected 'none', 'nf4' or 'fp4' but received " + describeJs(o.Get("quant")));
  if (*quant == "none") load.quant = LoadOptions::Quant::None;
  else if (*quant == "nf4") load.quant = LoadOptions::Quant::NF4;
  else if (*quant == "fp4") load.quant = LoadOptions::Quant::FP4;
  else throw Error("INVALID_ARGUMENT", "quant: expected 'none', 'nf4' or 'fp4', got '" + *quant + "'");
  load.doubleQuant = boolOption(o, "doubleQuant", std::nullopt);
  load.blocksize = intOption(o, "blocksize", std::nullopt, 64);
  load.dequantizeStored = boolOption(o, "dequantizeStored", std::nullopt);
  // Sequence classification: numLabels (absent: no score head) with the head's init.
  if (o.Has("numLabels") && !o.Get("numLabels").IsUndefined()) {
    load.numLabels = intOption(o, "numLabels", std::nullopt, 1);
    load.scoreInitStd = numberOption(o, "scoreInitStd", std::nullopt);
    if (!(load.scoreInitStd > 0)) invalidArgument("scoreInitStd: expected a positive number but received " + describeJs(o.Get("scoreInitStd")));
    load.scoreSeed = static_cast<uint64_t>(intOption(o, "scoreSeed", std::nullopt, 0));
  }
  return load;
}

struct Env {
  Napi::FunctionReference handleClass;
};

// loadModel(dir, arch, options) -> Promise<ModelHandle>; bad arguments reject it.
Napi::Value LoadModel(const Napi::CallbackInfo& info) {
  auto state = std::make_shared<ModelState>();
  return parseThenRun<bool>(
      info.Env(), *state->worker,
      [&]() -> std::function<bool()> {
        const std::string dir = stringArg(info, 0, "loadModel dir");
        ArchSpec arch = archSpecFromJs(objectArg(info, 1, "loadModel arch"));
        Napi::Object options = objectArg(info, 2, "loadModel options");
        const at::Device device = parseDevice(stringOption(options, "device").value_or(""));
        const at::ScalarType dtype = parseDtype(stringOption(options, "dtype").value_or(""));
        const LoadOptions load = parseLoadOptions(options);
        return [state, arch = std::move(arch), dir, device, dtype, load]() {
          at::NoGradGuard noGrad;
          state->model = std::make_unique<Model>(arch, dir, device, dtype, load);
          return true;
        };
      },
      [state](Napi::Env env, bool&) -> Napi::Value {
        Env* data = env.GetInstanceData<Env>();
        auto external = Napi::External<std::shared_ptr<ModelState>>::New(env, new std::shared_ptr<ModelState>(state),
                                                                          [](Napi::Env, std::shared_ptr<ModelState>* p) { delete p; });
        return data->handleClass.New({external});
      });
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
