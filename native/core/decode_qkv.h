// One decoding step's q/k/v on CUDA in one kernel (kernels::decodeQkv): the per-head norms of q
// and k, their rotary embedding and the new key and value written to the cache slot, instead of
// six launches. The same bits as the separate ops (decoder_layer.cpp's general path), which run
// wherever this does not apply.
#pragma once
#include <ATen/ATen.h>

#include "core/arch.h"
#include "core/decoder_layer.h"

namespace nq {

// q (B, H*D), k and v (B, KV*D) from the projection of one new token per row; cos, sin (B, 1,
// rot) for its positions; cache with `slot` defined. Returns the rotated queries (B, H, 1, D)
// after writing the new key and value into the cache, or an undefined tensor when the fused
// kernel does not apply (CPU, an unsupported head size, NQ_DECODE_FUSION=0): then nothing
// was written and the caller runs the separate ops.
at::Tensor decodeQkvFused(const ArchSpec& arch, const DecoderLayer& l, const Rope& rope, const at::Tensor& q,
                          const at::Tensor& k, const at::Tensor& v, const at::Tensor& cos, const at::Tensor& sin,
                          LayerCache& cache);

}  // namespace nq
