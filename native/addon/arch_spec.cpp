// See arch_spec.h.
#include "addon/arch_spec.h"

#include <cmath>
#include <string>

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

RopeSpec ropeFromJs(const Napi::Object& r, const std::string& path) {
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

}  // namespace nq::addon
