// N-API glue for the classification losses of native/core/loss.h: exports.losses =
// {classification}. A synchronous test entry point (a few rows of pooled features): the
// training step calls the same function on the model's worker thread (Model::classifyStep).
#include <napi.h>

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "addon/errors.h"
#include "addon/js_options.h"
#include "addon/registry.h"
#include "addon/tensor_js.h"
#include "addon/token_arrays.h"
#include "core/loss.h"

namespace nq::addon {
namespace {

// classification(pooled: tensor[] (one (S, C) per pass), weight: tensor (K, C), labels: Int32Array (S),
//   {rdropAlpha, supconWeight, supconTemperature, gradScale}) -> {lossSum, gradPooled: tensor[], gradWeight: tensor}
Napi::Value Classification(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    if (info.Length() < 4 || !info[0].IsArray()) {
      invalidArgument("losses.classification: expected (pooled: tensor[], weight: tensor, labels: Int32Array, options)");
    }
    Napi::Array list = info[0].As<Napi::Array>();
    std::vector<at::Tensor> pooled;
    for (uint32_t i = 0; i < list.Length(); ++i) {
      pooled.push_back(tensorFromJs("pooled[" + std::to_string(i) + "]: ", list.Get(i)).clone());
    }
    if (pooled.empty() || pooled.size() > 2) invalidArgument("pooled: expected one or two (rows, hidden) tensors");
    at::Tensor weight = tensorFromJs("weight: ", info[1]).clone();
    for (const at::Tensor& p : pooled) {
      if (p.dim() != 2 || weight.dim() != 2 || p.size(1) != weight.size(1) || p.size(0) != pooled[0].size(0)) {
        invalidArgument("pooled: expected (rows, hidden) tensors of one shape whose hidden size is weight's second dimension");
      }
    }
    at::Tensor labels = int32ArrayFromJs(info[2], "labels", 0, weight.size(0));
    if (labels.numel() != pooled[0].size(0)) invalidArgument("labels: expected one label per pooled row");
    Napi::Object o = objectArg(info, 3, "losses.classification options");
    ClassificationLossOptions options;
    options.rdropAlpha = numberOption(o, "rdropAlpha", std::nullopt);
    options.supconWeight = numberOption(o, "supconWeight", std::nullopt);
    options.supconTemperature = numberOption(o, "supconTemperature", std::nullopt);
    const double gradScale = numberOption(o, "gradScale", std::nullopt);
    ClassificationLoss loss = classificationLoss(pooled, weight, labels, options, gradScale);
    Napi::Object out = Napi::Object::New(env);
    out.Set("lossSum", Napi::Number::New(env, loss.lossSum));
    Napi::Array grads = Napi::Array::New(env, loss.gradPooled.size());
    for (size_t i = 0; i < loss.gradPooled.size(); ++i) grads.Set(static_cast<uint32_t>(i), tensorToJs(env, loss.gradPooled[i]));
    out.Set("gradPooled", grads);
    out.Set("gradWeight", tensorToJs(env, loss.gradWeight));
    return out;
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throwJsError(env, captureCurrentException());
  }
}

void registerLosses(Napi::Env env, Napi::Object exports) {
  Napi::Object losses = Napi::Object::New(env);
  losses.Set("classification", Napi::Function::New(env, Classification, "classification"));
  exports.Set("losses", losses);
}
Registrar registrar("losses", registerLosses);

}  // namespace
}  // namespace nq::addon
