// See tensor_js.h. Moved here from safetensors_binding.cpp so every binding converts alike.
#include "addon/tensor_js.h"

#include <cmath>
#include <cstring>

#include "core/errors.h"
#include "core/safetensors.h"

namespace nq::addon {
namespace {
constexpr double kMaxSafeInteger = 9007199254740991.0;  // 2^53 - 1
}  // namespace

void invalidArgument(const std::string& message) {
  throw nq::Error("INVALID_ARGUMENT", message);
}

std::string describeJs(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsString()) {
    std::string quoted = "\"";
    quoted += v.As<Napi::String>().Utf8Value();
    return quoted + "\"";
  }
  if (v.IsNumber() || v.IsBoolean()) return v.ToString().Utf8Value();
  if (v.IsArray()) return "an array";
  if (v.IsTypedArray()) {
    switch (v.As<Napi::TypedArray>().TypedArrayType()) {
      case napi_int8_array: return "an Int8Array";
      case napi_uint8_array: return "a Uint8Array (or Buffer)";
      case napi_uint8_clamped_array: return "a Uint8ClampedArray";
      case napi_int16_array: return "an Int16Array";
      case napi_uint16_array: return "a Uint16Array";
      case napi_int32_array: return "an Int32Array";
      case napi_uint32_array: return "a Uint32Array";
      case napi_float32_array: return "a Float32Array";
      case napi_float64_array: return "a Float64Array";
      default: return "a typed array";
    }
  }
  if (v.IsArrayBuffer()) return "an ArrayBuffer";
  if (v.IsFunction()) return "a function";
  if (v.IsObject()) return "an object";
  return "a value of another type";
}

Napi::Array shapeToJs(Napi::Env env, const std::vector<int64_t>& shape) {
  Napi::Array out = Napi::Array::New(env, shape.size());
  for (size_t i = 0; i < shape.size(); ++i) {
    out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(shape[i])));
  }
  return out;
}

at::Tensor tensorFromJs(const std::string& ctx, const Napi::Value& value) {
  if (!value.IsObject() || value.IsArray()) {
    invalidArgument(ctx + "expected an object {dtype, shape, data} but received " + describeJs(value));
  }
  Napi::Object obj = value.As<Napi::Object>();

  Napi::Value dtypeValue = obj.Get("dtype");
  const char* allowed = "F32, F16, BF16, U8, I8, I32, I64, BOOL";
  if (!dtypeValue.IsString()) {
    invalidArgument(ctx + "expected dtype to be one of " + allowed + " but received " + describeJs(dtypeValue));
  }
  std::string dtypeName = dtypeValue.As<Napi::String>().Utf8Value();
  st::DType dtype = st::DType::F32;
  bool known = false;
  for (st::DType d : {st::DType::F32, st::DType::F16, st::DType::BF16, st::DType::U8, st::DType::I8,
                      st::DType::I32, st::DType::I64, st::DType::BOOL}) {
    if (dtypeName == st::dtypeName(d)) {
      dtype = d;
      known = true;
    }
  }
  if (!known) {
    invalidArgument(ctx + "expected dtype to be one of " + allowed + " but received \"" + dtypeName + "\"");
  }

  Napi::Value shapeValue = obj.Get("shape");
  if (!shapeValue.IsArray()) {
    invalidArgument(ctx + "expected shape to be an array of non-negative integers but received " +
                    describeJs(shapeValue));
  }
  Napi::Array shapeArray = shapeValue.As<Napi::Array>();
  std::vector<int64_t> shape;
  uint64_t numel = 1;
  bool overflow = false;
  for (uint32_t i = 0; i < shapeArray.Length(); ++i) {
    Napi::Value dim = shapeArray.Get(i);
    double d = dim.IsNumber() ? dim.As<Napi::Number>().DoubleValue() : -1.0;
    if (!dim.IsNumber() || !(d >= 0) || d > kMaxSafeInteger || std::floor(d) != d) {
      invalidArgument(ctx + "expected shape to be an array of non-negative integers but entry " +
                      std::to_string(i) + " is " + describeJs(dim));
    }
    shape.push_back(static_cast<int64_t>(d));
    if (__builtin_mul_overflow(numel, static_cast<uint64_t>(d), &numel)) overflow = true;
  }
  if (numel == 0) overflow = false;  // a zero dimension empties the tensor whatever the rest
  uint64_t expected = 0;
  if (overflow || __builtin_mul_overflow(numel, st::dtypeSize(dtype), &expected)) {
    invalidArgument(ctx + "shape is too large");
  }

  Napi::Value dataValue = obj.Get("data");
  if (!dataValue.IsTypedArray()) {
    invalidArgument(ctx + "expected data to be a Buffer or TypedArray but received " + describeJs(dataValue));
  }
  Napi::TypedArray typed = dataValue.As<Napi::TypedArray>();
  const size_t length = typed.ByteLength();
  if (length != expected) {
    invalidArgument(ctx + "data holds " + std::to_string(length) + " bytes but its shape of " +
                    std::to_string(numel) + " " + dtypeName + " elements needs " + std::to_string(expected));
  }

  auto options = at::TensorOptions().dtype(st::toScalarType(dtype)).device(at::kCPU);
  if (length == 0) return at::empty(shape, options);
  auto* bytes = static_cast<uint8_t*>(typed.ArrayBuffer().Data()) + typed.ByteOffset();
  if (reinterpret_cast<uintptr_t>(bytes) % st::dtypeSize(dtype) == 0) {
    return at::from_blob(bytes, shape, options);
  }
  at::Tensor copy = at::empty(shape, options);
  std::memcpy(copy.data_ptr(), bytes, length);
  return copy;
}

Napi::Object tensorToJs(Napi::Env env, const at::Tensor& t) {
  at::Tensor c = t.to(at::kCPU).contiguous();
  Napi::Object out = Napi::Object::New(env);
  out.Set("dtype", st::dtypeName(st::fromScalarType(c.scalar_type())));
  out.Set("shape", shapeToJs(env, c.sizes().vec()));
  const size_t nbytes = c.nbytes();
  out.Set("data", nbytes == 0 ? Napi::Buffer<uint8_t>::New(env, 0)
                              : Napi::Buffer<uint8_t>::Copy(env, static_cast<const uint8_t*>(c.const_data_ptr()), nbytes));
  return out;
}

}  // namespace nq::addon
