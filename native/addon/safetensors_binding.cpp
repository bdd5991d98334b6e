// N-API glue for native/core/safetensors.h: exports.safetensors = {inspect, read, write,
// checkpointNames}. inspect, read and checkpointNames are synchronous on purpose: they parse a
// header or move one tensor. write returns a Promise: it may write gigabytes (GGUF import
// shards). Bulk checkpoint loading happens inside the model loader's worker thread, not here.
#include <napi.h>

#include <ATen/ATen.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "addon/errors.h"
#include "addon/registry.h"
#include "addon/tensor_js.h"
#include "addon/worker.h"
#include "core/errors.h"
#include "core/safetensors.h"

namespace nq::addon {
namespace {

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

Napi::Object metadataToJs(Napi::Env env, const std::map<std::string, std::string>& metadata) {
  Napi::Object out = Napi::Object::New(env);
  for (const auto& [key, value] : metadata) out.Set(key, value);
  return out;
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

// write(path, tensors, metadata?) -> Promise<void>: on the libuv pool, so a multi-GB shard
// never stalls the event loop. The tensors are views over the JS buffers (no copy of a 2 GiB
// shard); the buffers stay referenced until the promise settles and must not change before.
Napi::Value Write(const Napi::CallbackInfo& info) {
  using Tensors = std::vector<std::pair<std::string, at::Tensor>>;
  Napi::Env env = info.Env();
  Napi::Array buffers = Napi::Array::New(env);  // keeps every JS buffer alive during the write
  return parseThenRunOnPool<bool>(
      env,
      [&]() -> std::function<bool()> {
        std::string path = requireString(info, 0, "path");
        Napi::Object tensors = requireObject(info, 1, "tensors");
        Tensors list;
        Napi::Array names = tensors.GetPropertyNames();
        for (uint32_t i = 0; i < names.Length(); ++i) {
          std::string name = names.Get(i).ToString().Utf8Value();
          Napi::Value value = tensors.Get(name);
          list.emplace_back(name, tensorFromJs(path + ": tensor \"" + name + "\": ", value));
          buffers.Set(i, value.As<Napi::Object>().Get("data"));
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
              invalidArgument(path + ": expected metadata \"" + key + "\" to be a string but received " + describeJs(value));
            }
            metadata.emplace(key, value.As<Napi::String>().Utf8Value());
          }
        }
        return [path, list = std::move(list), metadata = std::move(metadata)]() {
          st::write(path, list, metadata);
          return true;
        };
      },
      [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); }, buffers);
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
