// JS <-> tensor conversions shared by the synchronous bindings: a tensor crosses as
// {dtype, shape, data} with safetensors dtype names ("F32", "BF16", "U8", ...) and raw
// little-endian bytes. Argument errors throw nq::Error INVALID_ARGUMENT naming the input.
#pragma once
#include <napi.h>

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace nq::addon {

[[noreturn]] void invalidArgument(const std::string& message);

// "undefined", "null", "\"text\"", "12", "an array", ... for messages.
std::string describeJs(const Napi::Value& v);

Napi::Array shapeToJs(Napi::Env env, const std::vector<int64_t>& shape);

// One JS {dtype, shape, data} as a CPU tensor over (or, when misaligned, copied from) the JS
// bytes. The view is valid only during the synchronous call that made it. `context` prefixes
// every message (e.g. "<path>: tensor \"<name>\": ").
at::Tensor tensorFromJs(const std::string& context, const Napi::Value& value);

// {dtype, shape, data: Buffer} holding a copy of t (moved to the CPU, made contiguous).
Napi::Object tensorToJs(Napi::Env env, const at::Tensor& t);

}  // namespace nq::addon
