// N-API glue for native/core/safetensors.h: exports.safetensors = {inspect, read, write,
// checkpointNames}. Synchronous on purpose: these calls parse a header or move one tensor;
// bulk checkpoint loading happens inside the model loader's worker thread, not here.
#include <napi.h>

#include <ATen/ATen.h>

#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "addon/errors.h"
#include "addon/registry.h"
#include "core/errors.h"
#include "core/safetensors.h"

namespace nq::addon {
namespace {

constexpr double kMaxSafeInteger = 9007199254740991.0;  // 2^53 - 1

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

[[noreturn]] void invalidArgument(const std::string& message) {
  throw nq::Error("INVALID_ARGUMENT", message);
}

Napi::Array shapeToJs(Napi::Env env, const std::vector<int64_t>& shape) {
  Napi::Array out = Napi::Array::New(env, shape.size());
  for (size_t i = 0; i < shape.size(); ++i) {
    out.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(shape[i])));
  }
  return out;
}

Napi::Object metadataToJs(Napi::Env env, const std::map<std::string, std::string>& metadata) {
  Napi::Object out = Napi::Object::New(env);
  for (const auto& [key, value] : metadata) out.Set(key, value);
  return out;
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
  if (v.IsFunction()) return "a function";
  if (v.IsObject()) return "an object";
  return "a value of another type";
}

Napi::Value Inspect(const Napi::CallbackInfo& info) {
  std::string path = requireString(info, 0, "path");
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    auto file = st::File::open(path);
    Napi::Array tensors = Napi::Array::New(env, file->tensors().size());
    uint32_t i = 0;
    for (const auto& t : file->tensors()) {
      Napi::Object entry = Napi::Object::New(env);
      entry.Set("name", t.name);
      entry.Set("dtype", st::dtypeName(t.dtype));
      entry.Set("shape", shapeToJs(env, t.shape));
      entry.Set("begin", Napi::Number::New(env, static_cast<double>(t.begin)));
      entry.Set("end", Napi::Number::New(env, static_cast<double>(t.end)));
      tensors.Set(i++, entry);
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("tensors", tensors);
    out.Set("metadata", metadataToJs(env, file->metadata()));
    return out;
  });
}

Napi::Value Read(const Napi::CallbackInfo& info) {
  std::string path = requireString(info, 0, "path");
  std::string name = requireString(info, 1, "name");
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    auto file = st::File::open(path);
    at::Tensor t = file->tensor(name);
    const st::TensorInfo& meta = *file->find(name);
    const size_t nbytes = static_cast<size_t>(meta.end - meta.begin);
    Napi::Object out = Napi::Object::New(env);
    out.Set("dtype", st::dtypeName(meta.dtype));
    out.Set("shape", shapeToJs(env, meta.shape));
    out.Set("data", nbytes == 0 ? Napi::Buffer<uint8_t>::New(env, 0)
                                : Napi::Buffer<uint8_t>::Copy(
                                      env, static_cast<const uint8_t*>(t.const_data_ptr()), nbytes));
    return out;
  });
}

// One JS {dtype, shape, data} as a CPU tensor over (or, when misaligned, copied from) the JS
// bytes. The view is valid only during the synchronous call that made it.
at::Tensor tensorFromJs(const std::string& path, const std::string& name, const Napi::Value& value) {
  const std::string ctx = path + ": tensor \"" + name + "\": ";
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

Napi::Value Write(const Napi::CallbackInfo& info) {
  std::string path = requireString(info, 0, "path");
  Napi::Object tensors = requireObject(info, 1, "tensors");
  return guarded(info, [&]() -> Napi::Value {
    std::vector<std::pair<std::string, at::Tensor>> list;
    Napi::Array names = tensors.GetPropertyNames();
    for (uint32_t i = 0; i < names.Length(); ++i) {
      std::string name = names.Get(i).ToString().Utf8Value();
      list.emplace_back(name, tensorFromJs(path, name, tensors.Get(name)));
    }
    std::map<std::string, std::string> metadata;
    if (info.Length() > 2 && !info[2].IsUndefined() && !info[2].IsNull()) {
      if (!info[2].IsObject() || info[2].IsArray()) {
        invalidArgument(path + ": expected metadata to be an object of strings but received " + describeJs(info[2]));
      }
      Napi::Object meta = info[2].As<Napi::Object>();
      Napi::Array keys = meta.GetPropertyNames();
      for (uint32_t i = 0; i < keys.Length(); ++i) {
        std::string key = keys.Get(i).ToString().Utf8Value();
        Napi::Value value = meta.Get(key);
        if (!value.IsString()) {
          invalidArgument(path + ": expected metadata \"" + key + "\" to be a string but received " +
                          describeJs(value));
        }
        metadata.emplace(key, value.As<Napi::String>().Utf8Value());
      }
    }
    st::write(path, list, metadata);
    return info.Env().Undefined();
  });
}

// Sorted tensor names of a checkpoint directory (model.safetensors or sharded with an index).
Napi::Value CheckpointNames(const Napi::CallbackInfo& info) {
  std::string dir = requireString(info, 0, "dir");
  return guarded(info, [&]() -> Napi::Value {
    Napi::Env env = info.Env();
    st::Checkpoint checkpoint = st::Checkpoint::open(dir);
    std::vector<std::string> names = checkpoint.names();
    Napi::Array out = Napi::Array::New(env, names.size());
    for (size_t i = 0; i < names.size(); ++i) out.Set(static_cast<uint32_t>(i), names[i]);
    return out;
  });
}

void registerSafetensors(Napi::Env env, Napi::Object exports) {
  Napi::Object st = Napi::Object::New(env);
  st.Set("inspect", Napi::Function::New(env, Inspect, "inspect"));
  st.Set("read", Napi::Function::New(env, Read, "read"));
  st.Set("write", Napi::Function::New(env, Write, "write"));
  st.Set("checkpointNames", Napi::Function::New(env, CheckpointNames, "checkpointNames"));
  exports.Set("safetensors", st);
}
Registrar registrar("safetensors", registerSafetensors);

}  // namespace
}  // namespace nq::addon
