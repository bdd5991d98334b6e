// Host entry points of the CUDA kernels (native/kernels/*.cu), compiled only when Torch has
// CUDA (NQ_WITH_CUDA). Each has a CPU reference in native/core (quant.h) that tests compare
// against. Inputs: contiguous tensors on one CUDA device; launches go to the current stream.
#pragma once
#include <ATen/ATen.h>

namespace nq::kernels {

// 4-bit blockwise dequantization. packed: uint8 (ceil(numel/2)); code: float32 (16);
// absmax: float32 (nblocks). Returns a flat (numel) tensor of `out` dtype (float32, bfloat16
// or float16): code[q] * absmax[i / blocksize] computed in fp32 (no FMA), then rounded to
// nearest even, bit-identical to quant::dequantizeReference.
at::Tensor dequantize4bit(const at::Tensor& packed, const at::Tensor& code, const at::Tensor& absmax,
                          int64_t blocksize, int64_t numel, at::ScalarType out);

// The same with a double-quantized absmax: absmax[b] = nestedCode[absmaxQ[b]] *
// nestedAbsmax[b / nestedBlocksize] + offset, computed in fp32 without FMA, in the kernel.
at::Tensor dequantize4bitNested(const at::Tensor& packed, const at::Tensor& code, const at::Tensor& absmaxQ,
                                const at::Tensor& nestedCode, const at::Tensor& nestedAbsmax,
                                int64_t nestedBlocksize, float offset, int64_t blocksize, int64_t numel,
                                at::ScalarType out);

// y (rows, out) = x (rows, in) @ W^T with W (out, in) stored 4-bit (row-major, as packed by
// bitsandbytes); absmax float32 (nblocks). For decoding: rows <= 8. The weight is never
// materialized; accumulation in fp32; result in x's dtype (float32, bfloat16, float16).
at::Tensor gemv4bit(const at::Tensor& x, const at::Tensor& packed, const at::Tensor& code,
                    const at::Tensor& absmax, int64_t blocksize, int64_t outFeatures, int64_t inFeatures);

}  // namespace nq::kernels
