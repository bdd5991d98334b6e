// Mapping of C++ exceptions to JS errors. Inside a catch block (possibly on a worker thread)
// capture the exception as plain data; on the JS thread turn it into an SftError instance
// (the class src/native.ts registers through setErrorClass) carrying the code.
#pragma once
#include <napi.h>

#include <string>

namespace nq::addon {

struct CapturedError {
  std::string code;
  std::string message;
};

// Call only inside a catch block: classifies nq::Error, c10::Error, std::exception and `...`.
CapturedError captureCurrentException();

// Builds the JS error object (an SftError when the class was registered).
Napi::Value makeJsError(Napi::Env env, const CapturedError& error);

// Throws (as a JS exception) the error; for synchronous bindings.
[[noreturn]] void throwJsError(Napi::Env env, const CapturedError& error);

// Argument checks for synchronous entry points: throw INVALID_ARGUMENT naming the argument.
std::string requireString(const Napi::CallbackInfo& info, size_t index, const char* name);
Napi::Object requireObject(const Napi::CallbackInfo& info, size_t index, const char* name);

}  // namespace nq::addon
