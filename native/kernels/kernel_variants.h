// Alternative versions of the 4-bit kernels, selectable by index, for kernel_check to check
// and time side by side in one GPU run (the public entry points in kernels.h use the default
// variant, chosen from those timings). Not for the engine: call kernels.h.
#pragma once
#include <ATen/ATen.h>

namespace nq::kernels::variants {

// Dequantization: each thread decodes 1, 2 or 4 chunks of 32 elements (variants 0, 1, 2), or
// (coalesced) 4 or 8 groups of 8 elements, consecutive threads on consecutive groups (3, 4).
constexpr int kDequantVariants = 5;
const char* dequantVariantName(int variant);
void dequantize4bitInto(const at::Tensor& packed, const at::Tensor& code, const at::Tensor& absmax,
                        int64_t blocksize, int64_t numel, at::Tensor& out, int variant);
void dequantize4bitNestedInto(const at::Tensor& packed, const at::Tensor& code, const at::Tensor& absmaxQ,
                              const at::Tensor& nestedCode, const at::Tensor& nestedAbsmax, int64_t nestedBlocksize,
                              float offset, int64_t blocksize, int64_t numel, at::Tensor& out, int variant);

// gemv: 0 = one output feature per warp, nibble table lookups (the first version); 1..5 = K
// output features per warp sharing each x load, U chunks per feature loaded ahead, table
// addresses by one PRMT, the input dimension split over several warps of a block when the
// output has few features: (K, U) = (1, 4), (2, 2), (4, 1), (2, 4), (4, 2); 4 and 5 only at
// rows = 1 (other rows run variant 2); 6..8 = the tensor-core kernel (gemv_4bit_mma.cu: 8 warps a
// block with 4 k-blocks loaded ahead, 16 warps with 4, 8 warps with 8), for bf16 / fp16 x with
// blocksize >= 64 (else variant 2); 9..11 = the streaming kernel (gemv_4bit_stream.cu: resident
// blocks only, tiles dealt evenly, the next stage's loads issued before the current is computed;
// bit-identical to variant 2): 9 (K, U) = (2, 2); 10, 11 = (2, 4), (4, 2) with the code values of
// each packed byte from a table of pairs and x staged in shared memory (rows = 1; other rows run
// 9). The engine runs 10 at one row, 2 at more (kernels.h).
constexpr int kGemvVariants = 12;
const char* gemvVariantName(int variant);
at::Tensor gemv4bit(const at::Tensor& x, const at::Tensor& packed, const at::Tensor& code, const at::Tensor& absmax,
                    int64_t blocksize, int64_t outFeatures, int64_t inFeatures, int variant);

}  // namespace nq::kernels::variants
