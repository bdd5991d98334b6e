// N-API glue for native/core/quant.h: exports.quant = {quantize, dequantize, gemv,
// readSerialized}. Synchronous test and tool entry points (one weight at a time); the model
// loader quantizes whole checkpoints on its own worker thread. A 4-bit weight crosses as the
// record of tensors bitsandbytes serializes ("weight", "weight.absmax", ...,
// "weight.quant_state.bitsandbytes__nf4"); `device: 'cuda'` runs the same call on the GPU.
#include <napi.h>

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "addon/errors.h"
#include "addon/registry.h"
#include "addon/tensor_js.h"
#include "core/errors.h"
#include "core/model.h"
#include "core/quant.h"
#include "core/safetensors.h"

namespace nq::addon {
namespace {

const char* kStateMarker = ".quant_state.bitsandbytes__";

// Runs a binding body; every C++ exception reaches JS as an SftError with its code.
template <typename Body>
Napi::Value guarded(const Napi::CallbackInfo& info, Body&& body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;  // already a JS exception (argument checks)
  } catch (...) {
    throwJsError(info.Env(), captureCurrentException());
  }
}

Napi::Object optionsArg(const Napi::CallbackInfo& info, size_t index, const char* fn) {
  if (info.Length() <= index || info[index].IsUndefined()) return Napi::Object::New(info.Env());
  if (!info[index].IsObject() || info[index].IsArray()) {
    invalidArgument(std::string(fn) + ": expected an options object but received " + describeJs(info[index]));
  }
  return info[index].As<Napi::Object>();
}

at::Device deviceOption(const Napi::Object& options, const char* fn) {
  Napi::Value v = options.Get("device");
  if (v.IsUndefined()) return at::kCPU;
  const std::string name = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  if (name == "cpu") return at::kCPU;
  if (name == "cuda") {
    if (!at::hasCUDA()) invalidArgument(std::string(fn) + ": device \"cuda\" was asked for but CUDA is not available");
    return at::Device(at::kCUDA, 0);
  }
  invalidArgument(std::string(fn) + ": expected device to be \"cpu\" or \"cuda\" but received " + describeJs(v));
}

// {name: {dtype, shape, data}} -> tensors on the CPU (views over the JS bytes).
std::map<std::string, at::Tensor> tensorsFromJs(const Napi::Value& value, const char* fn) {
  if (!value.IsObject() || value.IsArray()) {
    invalidArgument(std::string(fn) + ": expected a record of tensors but received " + describeJs(value));
  }
  Napi::Object obj = value.As<Napi::Object>();
  Napi::Array names = obj.GetPropertyNames();
  std::map<std::string, at::Tensor> out;
  for (uint32_t i = 0; i < names.Length(); ++i) {
    const std::string name = names.Get(i).ToString().Utf8Value();
    out.emplace(name, tensorFromJs(std::string(fn) + ": tensor \"" + name + "\": ", obj.Get(name)));
  }
  return out;
}

// The one weight a record holds: the name before its ".quant_state.bitsandbytes__*" key.
quant::Weight4 weightFromJs(const Napi::Value& value, const char* fn) {
  std::map<std::string, at::Tensor> tensors = tensorsFromJs(value, fn);
  std::vector<std::string> weights;
  for (const auto& entry : tensors) {
    const size_t at = entry.first.rfind(kStateMarker);
    if (at != std::string::npos) weights.push_back(entry.first.substr(0, at));
  }
  if (weights.size() != 1) {
    throw nq::Error("QUANT_INVALID", std::string(fn) + ": expected the tensors of one 4-bit weight with one "
                                     "\"<name>.quant_state.bitsandbytes__nf4|fp4\" entry but found " +
                                         std::to_string(weights.size()));
  }
  return quant::fromSerialized(tensors, weights[0], std::string(fn) + " (JS tensors)");
}

Napi::Object serializedToJs(Napi::Env env, const std::string& weightName, const quant::Weight4& w) {
  std::vector<std::pair<std::string, at::Tensor>> list;
  quant::appendSerialized(list, weightName, w);
  Napi::Object out = Napi::Object::New(env);
  for (const auto& [name, tensor] : list) out.Set(name, tensorToJs(env, tensor));
  return out;
}

// quantize(input, {type, blocksize, doubleQuant, device?}) -> serialized record under "weight";
// type, blocksize and doubleQuant are required.
Napi::Value Quantize(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (info.Length() < 1) invalidArgument("quantize: expected an input tensor");
    at::Tensor input = tensorFromJs("quantize: input: ", info[0]);
    Napi::Object options = optionsArg(info, 1, "quantize");
    Napi::Value type = options.Get("type");
    const std::string typeName = type.IsString() ? type.As<Napi::String>().Utf8Value() : "";
    if (typeName != "nf4" && typeName != "fp4") {
      invalidArgument("quantize: expected type to be \"nf4\" or \"fp4\" but received " + describeJs(type));
    }
    // Both required: bitsandbytes' defaults are the recipe's (src/config/defaults.ts).
    Napi::Value blocksize = options.Get("blocksize");
    const double d = blocksize.IsNumber() ? blocksize.As<Napi::Number>().DoubleValue() : -1.0;
    if (!blocksize.IsNumber() || !std::isfinite(d) || std::fabs(d) > 1e15 || d != static_cast<double>(static_cast<int64_t>(d))) {
      invalidArgument("quantize: expected blocksize to be an integer but received " + describeJs(blocksize));
    }
    const int64_t bs = static_cast<int64_t>(d);
    Napi::Value dq = options.Get("doubleQuant");
    if (!dq.IsBoolean()) invalidArgument("quantize: expected doubleQuant to be a boolean but received " + describeJs(dq));
    const bool doubleQuant = dq.As<Napi::Boolean>().Value();
    const at::Device device = deviceOption(options, "quantize");
    quant::Weight4 w = quant::quantize(input.to(device), typeName == "nf4" ? quant::Type::NF4 : quant::Type::FP4,
                                       bs, doubleQuant);
    return serializedToJs(info.Env(), "weight", w);
  });
}

at::ScalarType dtypeOption(const Napi::Object& options, const char* fn) {
  Napi::Value v = options.Get("dtype");
  const std::string name = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  if (name == "float32") return at::kFloat;
  if (name == "bfloat16") return at::kBFloat16;
  if (name == "float16") return at::kHalf;
  invalidArgument(std::string(fn) + ": expected dtype to be \"float32\", \"bfloat16\" or \"float16\" but received " +
                  describeJs(v));
}

// dequantize(serialized, {dtype, device?, reference?}) -> {dtype, shape, data}.
Napi::Value Dequantize(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (info.Length() < 1) invalidArgument("dequantize: expected a record of tensors");
    quant::Weight4 w = weightFromJs(info[0], "dequantize");
    Napi::Object options = optionsArg(info, 1, "dequantize");
    const at::ScalarType dtype = dtypeOption(options, "dequantize");
    Napi::Value reference = options.Get("reference");
    if (!reference.IsUndefined() && !reference.IsBoolean()) {
      invalidArgument("dequantize: expected reference to be a boolean but received " + describeJs(reference));
    }
    const bool useReference = reference.IsBoolean() && reference.As<Napi::Boolean>().Value();
    w = w.to(deviceOption(options, "dequantize"));
    at::Tensor out = useReference ? quant::dequantizeReference(w, dtype) : quant::dequantize(w, dtype);
    return tensorToJs(info.Env(), out);
  });
}

// gemv(x, serialized, {device?}) -> y = x @ W^T in x's dtype.
Napi::Value Gemv(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (info.Length() < 2) invalidArgument("gemv: expected x and a record of tensors");
    at::Tensor x = tensorFromJs("gemv: x: ", info[0]);
    quant::Weight4 w = weightFromJs(info[1], "gemv");
    const at::Device device = deviceOption(optionsArg(info, 2, "gemv"), "gemv");
    return tensorToJs(info.Env(), quant::gemv(x.to(device), w.to(device)));
  });
}

// linearBackward(x, serialized, gradOut, {device?}) -> {y, dx, weightGrads}: one forward and
// backward through the model's 4-bit Linear with autograd on. The frozen 4-bit base yields the
// input gradient only; weightGrads counts the weight tensors autograd gave a gradient (0).
Napi::Value LinearBackward(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (info.Length() < 3) invalidArgument("linearBackward: expected x, a record of tensors and gradOut");
    const at::Device device = deviceOption(optionsArg(info, 3, "linearBackward"), "linearBackward");
    Linear linear;
    linear.w4 = std::make_shared<quant::Weight4>(weightFromJs(info[1], "linearBackward").to(device));
    at::Tensor x = tensorFromJs("linearBackward: x: ", info[0]).to(device).clone().requires_grad_(true);
    at::Tensor gradOut = tensorFromJs("linearBackward: gradOut: ", info[2]).to(device);
    at::AutoGradMode enable(true);
    at::Tensor y = linear(x);
    y.backward(gradOut);
    int64_t weightGrads = 0;
    for (const at::Tensor* t : {&linear.w4->packed, &linear.w4->absmax, &linear.w4->code, &linear.w4->nestedAbsmax}) {
      if (t->defined() && t->grad().defined()) weightGrads++;
    }
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("y", tensorToJs(info.Env(), y.detach()));
    out.Set("dx", tensorToJs(info.Env(), x.grad()));
    out.Set("weightGrads", Napi::Number::New(info.Env(), static_cast<double>(weightGrads)));
    return out;
  });
}

// readSerialized(dir, weightName) -> the record under weightName, as stored (validated).
Napi::Value ReadSerialized(const Napi::CallbackInfo& info) {
  std::string dir = requireString(info, 0, "dir");
  std::string weightName = requireString(info, 1, "weightName");
  return guarded(info, [&]() -> Napi::Value {
    st::Checkpoint ckpt = st::Checkpoint::open(dir);
    return serializedToJs(info.Env(), weightName, quant::readSerialized(ckpt, weightName));
  });
}

void registerQuant(Napi::Env env, Napi::Object exports) {
  Napi::Object q = Napi::Object::New(env);
  q.Set("quantize", Napi::Function::New(env, Quantize, "quantize"));
  q.Set("dequantize", Napi::Function::New(env, Dequantize, "dequantize"));
  q.Set("gemv", Napi::Function::New(env, Gemv, "gemv"));
  q.Set("readSerialized", Napi::Function::New(env, ReadSerialized, "readSerialized"));
  q.Set("linearBackward", Napi::Function::New(env, LinearBackward, "linearBackward"));
  exports.Set("quant", q);
}
Registrar registrar("quant", registerQuant);

}  // namespace
}  // namespace nq::addon
