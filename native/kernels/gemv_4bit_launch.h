// What gemv_4bit.cu hands the 4-bit gemv kernels of its other files (gemv_4bit_mma.cu,
// gemv_4bit_stream.cu) after checking the inputs: raw pointers, the shape, the variant within
// that file, and where to launch. Not for the engine (call kernels.h).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace nq::kernels {

struct GemvLaunch {
  const uint8_t* packed;
  const float* code;
  const float* absmax;
  int blockShift;  // log2(blocksize)
  int64_t outFeatures;
  int64_t inFeatures;
  int variant;  // within the kernel's file
  int numSMs;
  cudaStream_t stream;
};

}  // namespace nq::kernels
