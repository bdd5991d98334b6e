// kernel_check's read floor (read_floor.cu): one launch that only reads `bytes`.
#pragma once
#include <ATen/ATen.h>

namespace nq::tools {

// Reads every byte of `bytes` (contiguous, CUDA, a whole number of aligned 16-byte words) once;
// `sink` (allocated on first use) receives what keeps the loads from being dropped.
void readFloor(const at::Tensor& bytes, at::Tensor& sink);

}  // namespace nq::tools
