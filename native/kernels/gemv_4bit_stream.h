// The streaming scalar 4-bit gemv (gemv_4bit_stream.cu), called by gemv_4bit.cu's entry points:
// not for the engine (call kernels.h).
#pragma once
#include <ATen/ATen.h>

#include <cstdint>

#include "kernels/gemv_4bit_launch.h"

namespace nq::kernels::stream {

// 0: K=2 U=2; 1, 2: (K, U) = (2, 4), (4, 2) with the code values from a table of byte pairs and x
// staged in shared memory (rows = 1; other rows, or an x too long for shared memory, run 0).
constexpr int kVariants = 3;

using Args = GemvLaunch;  // blockShift >= 5

const char* variantName(int variant);
// y (rows, out) = x (rows, in) @ W^T; x and y contiguous, in % 32 == 0, packed and x 16-byte
// aligned: checked by the caller.
void gemv4bit(const Args& a, const at::Tensor& x, at::Tensor& y);

}  // namespace nq::kernels::stream
