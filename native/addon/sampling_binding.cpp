// N-API glue for the sampling policy of native/core/sampling.h: exports.sampling = {warp, draw}.
// Synchronous test entry points (a few rows of logits): generation calls the same functions on
// the model's worker thread.
#include <napi.h>

#include <ATen/ATen.h>

#include <string>

#include "addon/errors.h"
#include "addon/js_options.h"
#include "addon/registry.h"
#include "addon/tensor_js.h"
#include "core/sampling.h"

namespace nq::addon {
namespace {

at::Tensor rowsFromJs(const std::string& what, const Napi::Value& v) {
  at::Tensor t = tensorFromJs(what + ": ", v).to(at::kFloat).clone();
  if (t.dim() != 2 || t.size(1) == 0) invalidArgument(what + ": expected a (rows, vocab) tensor");
  return t;
}

// warp(logits: tensor (B, V), {temperature, topK, topP}) -> tensor (B, V) F32, filtered tokens -inf.
Napi::Value Warp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    at::Tensor logits = rowsFromJs("logits", info[0]);
    Napi::Object o = objectArg(info, 1, "sampling.warp options");
    SamplingOptions options;
    options.temperature = numberOption(o, "temperature", std::nullopt);
    options.topK = intOption(o, "topK", std::nullopt, 0);
    options.topP = numberOption(o, "topP", std::nullopt);
    if (!(options.temperature > 0)) invalidArgument("temperature: expected a number > 0");
    if (!(options.topP > 0 && options.topP <= 1)) invalidArgument("topP: expected a number in (0, 1]");
    return tensorToJs(env, warpLogits(logits, options));
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throwJsError(env, captureCurrentException());
  }
}

// draw(warped: tensor (B, V), u: tensor (B) F64 in (0, 1)) -> tensor (B) I64: one token per row.
Napi::Value Draw(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    at::Tensor warped = rowsFromJs("warped", info[0]);
    at::Tensor u = tensorFromJs("u: ", info[1]).to(at::kDouble).clone();
    if (u.dim() != 1 || u.size(0) != warped.size(0)) invalidArgument("u: expected one uniform per row");
    if (!(u.gt(0).all().item<bool>() && u.lt(1).all().item<bool>())) invalidArgument("u: expected values in (0, 1)");
    return tensorToJs(env, sampleTokens(warped, u));
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throwJsError(env, captureCurrentException());
  }
}

void registerSampling(Napi::Env env, Napi::Object exports) {
  Napi::Object sampling = Napi::Object::New(env);
  sampling.Set("warp", Napi::Function::New(env, Warp, "warp"));
  sampling.Set("draw", Napi::Function::New(env, Draw, "draw"));
  exports.Set("sampling", sampling);
}
Registrar registrar("sampling", registerSampling);

}  // namespace
}  // namespace nq::addon
