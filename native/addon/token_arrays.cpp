// See token_arrays.h.
#include "addon/token_arrays.h"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "addon/tensor_js.h"
#include "core/errors.h"

namespace nq::addon {

namespace {

Napi::TypedArray typedArray(const Napi::Value& value, const std::string& name, napi_typedarray_type type, const char* typeName) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != type) {
    invalidArgument(name + ": expected an " + typeName + " but received " + describeJs(value));
  }
  return value.As<Napi::TypedArray>();
}

}  // namespace

Napi::Int32Array requireInt32Array(const Napi::Value& value, const std::string& name) {
  return typedArray(value, name, napi_int32_array, "Int32Array").As<Napi::Int32Array>();
}

std::string elementName(const std::string& name, int64_t index, int64_t cols) {
  if (cols > 0) return name + "[" + std::to_string(index / cols) + "][" + std::to_string(index % cols) + "]";
  return name + "[" + std::to_string(index) + "]";
}

at::Tensor int32ArrayFromJs(const Napi::Value& value, const std::string& name, int64_t min, int64_t max,
                            std::optional<int64_t> extra, int64_t cols) {
  Napi::Int32Array typed = requireInt32Array(value, name);
  const int64_t n = static_cast<int64_t>(typed.ElementLength());
  at::Tensor out = at::empty({n}, at::kLong);
  int64_t* dst = out.data_ptr<int64_t>();
  // An Int32Array's byte offset is a multiple of 4 (V8 enforces it): direct reads are aligned.
  const int32_t* src = typed.Data();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t v = src[i];
    if ((v < min || v >= max) && !(extra && v == *extra)) {
      invalidArgument(elementName(name, i, cols) + ": expected a token id in [" + std::to_string(min) + ", " + std::to_string(max) + ")" +
                      (extra ? " or " + std::to_string(*extra) : std::string()) + " but received " + std::to_string(v));
    }
    dst[i] = v;
  }
  return out;
}

at::Tensor maskFromJs(const Napi::Value& value, const std::string& name, int64_t length) {
  Napi::TypedArray typed = typedArray(value, name, napi_uint8_array, "Uint8Array");
  const int64_t n = static_cast<int64_t>(typed.ElementLength());
  if (n != length) {
    invalidArgument(name + ": expected " + std::to_string(length) + " entries (one per token id, 1 = token, 0 = padding) but received " +
                    std::to_string(n));
  }
  const uint8_t* src = typed.As<Napi::Uint8Array>().Data();
  at::Tensor out = at::empty({n}, at::kBool);
  bool* dst = out.data_ptr<bool>();
  for (int64_t i = 0; i < n; ++i) {
    if (src[i] > 1) invalidArgument(elementName(name, i) + ": expected 0 or 1 but received " + std::to_string(src[i]));
    dst[i] = src[i] != 0;
  }
  return out;
}

at::Tensor seqLensFromJs(const Napi::Value& value, const std::string& name, int64_t total, int64_t minLength,
                         const std::string& what) {
  at::Tensor lens = int32ArrayFromJs(value, name, minLength, static_cast<int64_t>(INT32_MAX) + 1);
  if (lens.numel() == 0) invalidArgument(name + ": expected at least one " + what);
  const int64_t sum = lens.sum().item<int64_t>();
  if (sum != total) {
    invalidArgument(name + ": the " + std::to_string(lens.numel()) + " lengths sum to " + std::to_string(sum) + " but ids holds " +
                    std::to_string(total) + " tokens; each " + what + " takes seqLens[i] consecutive ids");
  }
  return lens;
}

std::pair<int64_t, int64_t> matrixShapeFromJs(const Napi::Value& value, const std::string& name, int64_t total) {
  auto dim = [&](Napi::Value v) -> int64_t {
    const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : std::nan("");
    if (!(d >= 1) || std::floor(d) != d || d > 9007199254740991.0) {
      invalidArgument(name + ": expected [rows, cols] of positive integers but an entry is " + describeJs(v));
    }
    return static_cast<int64_t>(d);
  };
  if (!value.IsArray() || value.As<Napi::Array>().Length() != 2) {
    invalidArgument(name + ": expected [rows, cols] but received " + describeJs(value));
  }
  Napi::Array a = value.As<Napi::Array>();
  const int64_t rows = dim(a.Get(0u)), cols = dim(a.Get(1u));
  if (rows * cols != total) {
    invalidArgument(name + ": [" + std::to_string(rows) + ", " + std::to_string(cols) + "] needs " + std::to_string(rows * cols) +
                    " ids but received " + std::to_string(total) + " (every row has the same length: right-pad and pass attentionMask)");
  }
  return {rows, cols};
}

Napi::Int32Array int32ArrayToJs(Napi::Env env, const at::Tensor& t) {
  at::Tensor c = t.to(at::kCPU, at::kInt).contiguous();
  Napi::Int32Array out = Napi::Int32Array::New(env, static_cast<size_t>(c.numel()));
  if (c.numel() > 0) std::memcpy(out.Data(), c.data_ptr<int32_t>(), static_cast<size_t>(c.numel()) * sizeof(int32_t));
  return out;
}

}  // namespace nq::addon
