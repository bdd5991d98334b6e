// Token ids, labels, lengths and masks from JS typed arrays (Int32Array / Uint8Array), read on
// the JS thread into owned CPU tensors (the JS memory may change once the call returns). One
// memcpy-sized pass per array instead of a property lookup per element. Every violation throws
// nq::Error INVALID_ARGUMENT naming the field and the element: "labels[17]: expected ...".
#pragma once
#include <napi.h>

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <string>

namespace nq::addon {

// An Int32Array as an int64 tensor (N). Each value in [min, max), or equal to `extra`. With
// cols > 0 the array is a row-major matrix and messages name [row][col].
at::Tensor int32ArrayFromJs(const Napi::Value& value, const std::string& name, int64_t min, int64_t max,
                            std::optional<int64_t> extra = std::nullopt, int64_t cols = 0);

// The value as an Int32Array, or INVALID_ARGUMENT naming `name` and what was received.
Napi::Int32Array requireInt32Array(const Napi::Value& value, const std::string& name);

// A Uint8Array mask of exactly `length` entries, each 0 or 1, as a bool tensor (length).
at::Tensor maskFromJs(const Napi::Value& value, const std::string& name, int64_t length);

// Sequence lengths (S) of a packed token array of `total` tokens: each >= `minLength`, summing
// to total. `what` names one sequence in messages ("sequence", "prompt").
at::Tensor seqLensFromJs(const Napi::Value& value, const std::string& name, int64_t total, int64_t minLength,
                         const std::string& what);

// [rows, cols] of a row-major matrix holding `total` elements: two positive integers.
std::pair<int64_t, int64_t> matrixShapeFromJs(const Napi::Value& value, const std::string& name, int64_t total);

// "ids[3]" for a flat index, "ids[0][3]" when the array is a (rows, cols) matrix.
std::string elementName(const std::string& name, int64_t index, int64_t cols = 0);

// A new Int32Array holding the int64 values of t (CPU, contiguous).
Napi::Int32Array int32ArrayToJs(Napi::Env env, const at::Tensor& t);

}  // namespace nq::addon
