// The tensor-core 4-bit gemv (gemv_4bit_mma.cu), called by gemv_4bit.cu's entry points: not for
// the engine (call kernels.h).
#pragma once
#include <ATen/ATen.h>

#include <cstdint>

#include "kernels/gemv_4bit_launch.h"

namespace nq::kernels::mma {

constexpr int kVariants = 3;  // 0: 8 warps a block, 4 k-blocks ahead; 1: 16 warps, 4; 2: 8 warps, 8

using Args = GemvLaunch;  // blockShift >= 6

// bf16 or fp16 x, blocksize a power of two >= 64, inFeatures % 64 == 0, packed and x 16-byte
// aligned.
bool eligible(at::ScalarType dtype, int64_t inFeatures, int64_t blocksize, const void* packed, const void* x);
const char* variantName(int variant);
// y (rows, out) = x (rows, in) @ W^T; x and y contiguous, checked by the caller.
void gemv4bit(const Args& a, const at::Tensor& x, at::Tensor& y);

}  // namespace nq::kernels::mma
