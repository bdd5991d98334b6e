// See arch_spec.h.
#include "addon/arch_spec.h"

#include <cmath>
#include <set>
#include <string>

#include "addon/js_options.h"
#include "addon/registry.h"
#include "addon/worker.h"
#include "core/errors.h"

namespace nq::addon {

namespace {

[[noreturn]] void bad(const std::string& path, const char* expected) {
  throw Error("INVALID_ARGUMENT", "arch." + path + ": expected " + expected);
}

Napi::Value field(const Napi::Object& o, const std::string& path, const char* key) {
  if (!o.Has(key)) bad(path + key, "a value, but it is missing");
  return o.Get(key);
}

double number(const Napi::Object& o, const std::string& path, const char* key) {
  Napi::Value v = field(o, path, key);
  if (!v.IsNumber()) bad(path + key, "a number");
  return v.As<Napi::Number>().DoubleValue();
}

int64_t integer(const Napi::Object& o, const std::string& path, const char* key) {
  double d = number(o, path, key);
  if (std::floor(d) != d) bad(path + key, "an integer");
  return static_cast<int64_t>(d);
}

// null -> 0 (meaning "none"), else a positive number.
double optionalNumber(const Napi::Object& o, const std::string& path, const char* key) {
  Napi::Value v = field(o, path, key);
  if (v.IsNull() || v.IsUndefined()) return 0.0;
  if (!v.IsNumber()) bad(path + key, "a number or null");
  return v.As<Napi::Number>().DoubleValue();
}

bool boolean(const Napi::Object& o, const std::string& path, const char* key) {
  Napi::Value v = field(o, path, key);
  if (!v.IsBoolean()) bad(path + key, "a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string string(const Napi::Object& o, const std::string& path, const char* key) {
  Napi::Value v = field(o, path, key);
  if (!v.IsString()) bad(path + key, "a string");
  return v.As<Napi::String>().Utf8Value();
}

Napi::Array array(const Napi::Object& o, const std::string& path, const char* key) {
  Napi::Value v = field(o, path, key);
  if (!v.IsArray()) bad(path + key, "an array");
  return v.As<Napi::Array>();
}

std::vector<double> numbers(const Napi::Object& o, const std::string& path, const char* key) {
  Napi::Array a = array(o, path, key);
  std::vector<double> out;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value v = a.Get(i);
    if (!v.IsNumber()) bad(path + key + "[" + std::to_string(i) + "]", "a number");
    out.push_back(v.As<Napi::Number>().DoubleValue());
  }
  return out;
}

std::vector<std::string> strings(const Napi::Object& o, const std::string& path, const char* key) {
  Napi::Array a = array(o, path, key);
  std::vector<std::string> out;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value v = a.Get(i);
    if (!v.IsString()) bad(path + key + "[" + std::to_string(i) + "]", "a string");
    out.push_back(v.As<Napi::String>().Utf8Value());
  }
  return out;
}

// A field the engine does not read would be silently dropped: name it instead, so a field
// added to ArchConfig (src/config/arch.ts) fails here until this file reads it.
void rejectUnknown(const Napi::Object& o, const std::string& path, const std::set<std::string>& known) {
  Napi::Array keys = o.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    const std::string key = keys.Get(i).ToString().Utf8Value();
    if (!known.count(key)) {
      throw Error("INVALID_ARGUMENT", "arch." + path + key + ": unknown field; the native engine reads only the ArchConfig fields of src/config/arch.ts "
                                      "(add it to native/addon/arch_spec.cpp and native/core/arch.h, or leave it out)");
    }
  }
}

const std::set<std::string> kRopeFields = {"type", "theta", "rotaryDim", "factor", "lowFreqFactor", "highFreqFactor",
                                           "originalMaxPositionEmbeddings", "shortFactor", "longFactor", "attentionScaling"};
const std::set<std::string> kLayerFields = {"slidingWindow", "rope"};
const std::set<std::string> kArchFields = {
    "family", "vocabSize", "hiddenSize", "intermediateSize", "numLayers", "numHeads", "numKvHeads", "headDim",
    "maxPositionEmbeddings", "rmsNormEps", "normWeightOffset", "hiddenAct", "embedScale", "qkvBias", "oBias", "mlpBias",
    "qkNorm", "fusedQkv", "fusedGateUp", "sandwichNorms", "attnScale", "attnLogitSoftcap", "finalLogitSoftcap",
    "tieWordEmbeddings", "layers", "weightPrefixes", "lmHeadNames"};

RopeSpec ropeFromJs(const Napi::Object& r, const std::string& path) {
  rejectUnknown(r, path, kRopeFields);
  RopeSpec s;
  const std::string type = string(r, path, "type");
  if (type == "default") s.type = RopeType::Default;
  else if (type == "linear") s.type = RopeType::Linear;
  else if (type == "llama3") s.type = RopeType::Llama3;
  else if (type == "longrope") s.type = RopeType::LongRope;
  else bad(path + "type", "one of default, linear, llama3, longrope");
  s.theta = number(r, path, "theta");
  s.rotaryDim = integer(r, path, "rotaryDim");
  s.factor = number(r, path, "factor");
  s.lowFreqFactor = number(r, path, "lowFreqFactor");
  s.highFreqFactor = number(r, path, "highFreqFactor");
  s.originalMaxPositionEmbeddings = integer(r, path, "originalMaxPositionEmbeddings");
  s.shortFactor = numbers(r, path, "shortFactor");
  s.longFactor = numbers(r, path, "longFactor");
  s.attentionScaling = number(r, path, "attentionScaling");
  return s;
}

}  // namespace

ArchSpec archSpecFromJs(const Napi::Object& o) {
  ArchSpec a;
  const std::string p;
  rejectUnknown(o, p, kArchFields);
  a.family = string(o, p, "family");
  a.vocabSize = integer(o, p, "vocabSize");
  a.hiddenSize = integer(o, p, "hiddenSize");
  a.intermediateSize = integer(o, p, "intermediateSize");
  a.numLayers = integer(o, p, "numLayers");
  a.numHeads = integer(o, p, "numHeads");
  a.numKvHeads = integer(o, p, "numKvHeads");
  a.headDim = integer(o, p, "headDim");
  a.maxPositionEmbeddings = integer(o, p, "maxPositionEmbeddings");
  a.rmsNormEps = number(o, p, "rmsNormEps");
  a.normWeightOffset = static_cast<int>(integer(o, p, "normWeightOffset"));
  const std::string act = string(o, p, "hiddenAct");
  if (act == "silu") a.hiddenAct = Activation::Silu;
  else if (act == "gelu_tanh") a.hiddenAct = Activation::GeluTanh;
  else if (act == "gelu") a.hiddenAct = Activation::Gelu;
  else bad("hiddenAct", "one of silu, gelu_tanh, gelu");
  a.embedScale = number(o, p, "embedScale");
  a.qkvBias = boolean(o, p, "qkvBias");
  a.oBias = boolean(o, p, "oBias");
  a.mlpBias = boolean(o, p, "mlpBias");
  a.qkNorm = boolean(o, p, "qkNorm");
  a.fusedQkv = boolean(o, p, "fusedQkv");
  a.fusedGateUp = boolean(o, p, "fusedGateUp");
  a.sandwichNorms = boolean(o, p, "sandwichNorms");
  a.attnScale = number(o, p, "attnScale");
  a.attnLogitSoftcap = optionalNumber(o, p, "attnLogitSoftcap");
  a.finalLogitSoftcap = optionalNumber(o, p, "finalLogitSoftcap");
  a.tieWordEmbeddings = boolean(o, p, "tieWordEmbeddings");
  Napi::Array layers = array(o, p, "layers");
  for (uint32_t i = 0; i < layers.Length(); ++i) {
    const std::string lp = "layers[" + std::to_string(i) + "].";
    Napi::Value lv = layers.Get(i);
    if (!lv.IsObject()) bad(lp, "an object");
    Napi::Object l = lv.As<Napi::Object>();
    rejectUnknown(l, lp, kLayerFields);
    LayerSpec spec;
    const double window = optionalNumber(l, lp, "slidingWindow");
    if (window < 0 || std::floor(window) != window) bad(lp + "slidingWindow", "a positive integer or null");
    spec.slidingWindow = static_cast<int64_t>(window);
    Napi::Value rv = field(l, lp, "rope");
    if (!rv.IsObject()) bad(lp + "rope", "an object");
    spec.rope = ropeFromJs(rv.As<Napi::Object>(), lp + "rope.");
    a.layers.push_back(std::move(spec));
  }
  a.weightPrefixes = strings(o, p, "weightPrefixes");
  a.lmHeadNames = strings(o, p, "lmHeadNames");
  return a;
}

namespace {

Napi::Array numbersToJs(Napi::Env env, const std::vector<double>& values) {
  Napi::Array out = Napi::Array::New(env, values.size());
  for (size_t i = 0; i < values.size(); ++i) out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, values[i]));
  return out;
}

Napi::Array stringsToJs(Napi::Env env, const std::vector<std::string>& values) {
  Napi::Array out = Napi::Array::New(env, values.size());
  for (size_t i = 0; i < values.size(); ++i) out.Set(static_cast<uint32_t>(i), Napi::String::New(env, values[i]));
  return out;
}

// 0 means "none" inside the engine; ArchConfig says null.
Napi::Value noneIfZero(Napi::Env env, double v) {
  return v == 0.0 ? env.Null() : Napi::Number::New(env, v);
}

Napi::Object ropeToJs(Napi::Env env, const RopeSpec& s) {
  static const char* const types[] = {"default", "linear", "llama3", "longrope"};
  Napi::Object r = Napi::Object::New(env);
  r.Set("type", types[static_cast<int>(s.type)]);
  r.Set("theta", s.theta);
  r.Set("rotaryDim", static_cast<double>(s.rotaryDim));
  r.Set("factor", s.factor);
  r.Set("lowFreqFactor", s.lowFreqFactor);
  r.Set("highFreqFactor", s.highFreqFactor);
  r.Set("originalMaxPositionEmbeddings", static_cast<double>(s.originalMaxPositionEmbeddings));
  r.Set("shortFactor", numbersToJs(env, s.shortFactor));
  r.Set("longFactor", numbersToJs(env, s.longFactor));
  r.Set("attentionScaling", s.attentionScaling);
  return r;
}

}  // namespace

Napi::Object archSpecToJs(Napi::Env env, const ArchSpec& a) {
  static const char* const activations[] = {"silu", "gelu_tanh", "gelu"};
  Napi::Object o = Napi::Object::New(env);
  o.Set("family", a.family);
  o.Set("vocabSize", static_cast<double>(a.vocabSize));
  o.Set("hiddenSize", static_cast<double>(a.hiddenSize));
  o.Set("intermediateSize", static_cast<double>(a.intermediateSize));
  o.Set("numLayers", static_cast<double>(a.numLayers));
  o.Set("numHeads", static_cast<double>(a.numHeads));
  o.Set("numKvHeads", static_cast<double>(a.numKvHeads));
  o.Set("headDim", static_cast<double>(a.headDim));
  o.Set("maxPositionEmbeddings", static_cast<double>(a.maxPositionEmbeddings));
  o.Set("rmsNormEps", a.rmsNormEps);
  o.Set("normWeightOffset", a.normWeightOffset);
  o.Set("hiddenAct", activations[static_cast<int>(a.hiddenAct)]);
  o.Set("embedScale", a.embedScale);
  o.Set("qkvBias", a.qkvBias);
  o.Set("oBias", a.oBias);
  o.Set("mlpBias", a.mlpBias);
  o.Set("qkNorm", a.qkNorm);
  o.Set("fusedQkv", a.fusedQkv);
  o.Set("fusedGateUp", a.fusedGateUp);
  o.Set("sandwichNorms", a.sandwichNorms);
  o.Set("attnScale", a.attnScale);
  o.Set("attnLogitSoftcap", noneIfZero(env, a.attnLogitSoftcap));
  o.Set("finalLogitSoftcap", noneIfZero(env, a.finalLogitSoftcap));
  o.Set("tieWordEmbeddings", a.tieWordEmbeddings);
  Napi::Array layers = Napi::Array::New(env, a.layers.size());
  for (size_t i = 0; i < a.layers.size(); ++i) {
    Napi::Object l = Napi::Object::New(env);
    l.Set("slidingWindow", noneIfZero(env, static_cast<double>(a.layers[i].slidingWindow)));
    l.Set("rope", ropeToJs(env, a.layers[i].rope));
    layers.Set(static_cast<uint32_t>(i), l);
  }
  o.Set("layers", layers);
  o.Set("weightPrefixes", stringsToJs(env, a.weightPrefixes));
  o.Set("lmHeadNames", stringsToJs(env, a.lmHeadNames));
  return o;
}

namespace {

// parseArch(arch) -> Promise<ArchConfig>: what the engine reads from `arch`, written back in
// ArchConfig's terms (checks that the two sides agree field by field).
Napi::Value ParseArch(const Napi::CallbackInfo& info) {
  return parseThenRunOnPool<ArchSpec>(
      info.Env(),
      [&]() -> std::function<ArchSpec()> {
        ArchSpec spec = archSpecFromJs(objectArg(info, 0, "parseArch arch"));
        return [spec]() { return spec; };
      },
      [](Napi::Env env, ArchSpec& spec) -> Napi::Value { return archSpecToJs(env, spec); });
}

void registerArch(Napi::Env env, Napi::Object exports) {
  exports.Set("parseArch", Napi::Function::New(env, ParseArch, "parseArch"));
}
Registrar registrar("arch", registerArch);

}  // namespace

}  // namespace nq::addon
