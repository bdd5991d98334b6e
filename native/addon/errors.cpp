// See errors.h.
#include "addon/errors.h"

#include <c10/util/Exception.h>

#include <exception>

#include "core/errors.h"
#include "addon/registry.h"

namespace nq::addon {

namespace {
Napi::FunctionReference& errorClass() {
  static Napi::FunctionReference ref;
  return ref;
}

// c10 messages carry a C++ backtrace after the first line; users need only the first part.
std::string firstParagraph(const std::string& what) {
  auto cut = what.find("\nException raised from");
  return cut == std::string::npos ? what : what.substr(0, cut);
}
}  // namespace

CapturedError captureCurrentException() {
  try {
    throw;
  } catch (const nq::Error& e) {
    return {e.code(), e.what()};
  } catch (const c10::OutOfMemoryError& e) {
    return {"OUT_OF_MEMORY", firstParagraph(e.what_without_backtrace())};
  } catch (const c10::Error& e) {
    return {"TORCH_ERROR", firstParagraph(e.what_without_backtrace())};
  } catch (const std::bad_alloc&) {
    return {"OUT_OF_MEMORY", "out of host memory"};
  } catch (const std::exception& e) {
    return {"NATIVE_ERROR", e.what()};
  } catch (...) {
    return {"NATIVE_ERROR", "unknown native exception"};
  }
}

Napi::Value makeJsError(Napi::Env env, const CapturedError& error) {
  Napi::String message = Napi::String::New(env, error.message);
  Napi::String code = Napi::String::New(env, error.code);
  if (!errorClass().IsEmpty()) {
    return errorClass().Value().New({message, code});
  }
  Napi::Error plain = Napi::Error::New(env, error.message);
  plain.Set("code", code);
  return plain.Value();
}

void throwJsError(Napi::Env env, const CapturedError& error) {
  throw Napi::Error(env, makeJsError(env, error));
}

std::string requireString(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (info.Length() <= index || !info[index].IsString()) {
    throwJsError(info.Env(), {"INVALID_ARGUMENT", std::string("Expected a string for ") + name});
  }
  return info[index].As<Napi::String>().Utf8Value();
}

Napi::Object requireObject(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (info.Length() <= index || !info[index].IsObject()) {
    throwJsError(info.Env(), {"INVALID_ARGUMENT", std::string("Expected an object for ") + name});
  }
  return info[index].As<Napi::Object>();
}

namespace {
Napi::Value SetErrorClass(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsFunction()) {
    throw Napi::TypeError::New(info.Env(), "setErrorClass expects a constructor");
  }
  errorClass() = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

void registerErrors(Napi::Env env, Napi::Object exports) {
  exports.Set("setErrorClass", Napi::Function::New(env, SetErrorClass, "setErrorClass"));
}
Registrar registrar("errors", registerErrors);
}  // namespace

}  // namespace nq::addon
