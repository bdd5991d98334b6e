// See js_options.h.
#include "addon/js_options.h"

#include <cmath>

#include "addon/tensor_js.h"

namespace nq::addon {

namespace {
bool absent(const Napi::Object& o, const char* key) {
  return !o.Has(key) || o.Get(key).IsUndefined();
}
}  // namespace

Napi::Object objectArg(const Napi::CallbackInfo& info, size_t index, const std::string& what) {
  if (info.Length() <= index || !info[index].IsObject() || info[index].IsArray()) {
    invalidArgument(what + ": expected an object but received " + (info.Length() <= index ? std::string("nothing") : describeJs(info[index])));
  }
  return info[index].As<Napi::Object>();
}

std::string stringArg(const Napi::CallbackInfo& info, size_t index, const std::string& what) {
  if (info.Length() <= index || !info[index].IsString()) {
    invalidArgument(what + ": expected a string but received " + (info.Length() <= index ? std::string("nothing") : describeJs(info[index])));
  }
  return info[index].As<Napi::String>().Utf8Value();
}

int64_t intOption(const Napi::Object& o, const char* key, std::optional<int64_t> fallback, int64_t min) {
  if (absent(o, key) && fallback) return *fallback;
  Napi::Value v = o.Get(key);
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : std::nan("");
  if (!v.IsNumber() || std::floor(d) != d || d < static_cast<double>(min) || d > 9007199254740991.0) {
    invalidArgument(std::string(key) + ": expected an integer >= " + std::to_string(min) + " but received " + describeJs(v));
  }
  return static_cast<int64_t>(d);
}

double numberOption(const Napi::Object& o, const char* key, std::optional<double> fallback) {
  if (absent(o, key) && fallback) return *fallback;
  Napi::Value v = o.Get(key);
  if (!v.IsNumber() || !std::isfinite(v.As<Napi::Number>().DoubleValue())) {
    invalidArgument(std::string(key) + ": expected a finite number but received " + describeJs(v));
  }
  return v.As<Napi::Number>().DoubleValue();
}

bool boolOption(const Napi::Object& o, const char* key, std::optional<bool> fallback) {
  if (absent(o, key) && fallback) return *fallback;
  Napi::Value v = o.Get(key);
  if (!v.IsBoolean()) invalidArgument(std::string(key) + ": expected a boolean but received " + describeJs(v));
  return v.As<Napi::Boolean>().Value();
}

std::optional<std::string> stringOption(const Napi::Object& o, const char* key) {
  if (absent(o, key)) return std::nullopt;
  Napi::Value v = o.Get(key);
  if (!v.IsString()) invalidArgument(std::string(key) + ": expected a string but received " + describeJs(v));
  return v.As<Napi::String>().Utf8Value();
}

}  // namespace nq::addon
