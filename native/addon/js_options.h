// Reading plain option values (numbers, integers, booleans, strings, objects) from JS on the
// JS thread. Every violation throws nq::Error INVALID_ARGUMENT: "<key>: expected <what> but
// received <value>". `fallback` absent = the option is required (native holds no recipe defaults).
#pragma once
#include <napi.h>

#include <cstdint>
#include <optional>
#include <string>

namespace nq::addon {

// info[index] as a plain object (not an array); `what` names the argument.
Napi::Object objectArg(const Napi::CallbackInfo& info, size_t index, const std::string& what);
// info[index] as a string; `what` names the argument.
std::string stringArg(const Napi::CallbackInfo& info, size_t index, const std::string& what);

int64_t intOption(const Napi::Object& o, const char* key, std::optional<int64_t> fallback, int64_t min);
double numberOption(const Napi::Object& o, const char* key, std::optional<double> fallback);
bool boolOption(const Napi::Object& o, const char* key, std::optional<bool> fallback);
std::optional<std::string> stringOption(const Napi::Object& o, const char* key);

}  // namespace nq::addon
