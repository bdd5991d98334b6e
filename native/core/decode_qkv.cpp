// See decode_qkv.h.
#include "core/decode_qkv.h"

#include "core/decode_fusion.h"

#ifdef NQ_WITH_CUDA
#include "kernels/kernels.h"
#endif

namespace nq {

at::Tensor decodeQkvFused(const ArchSpec& arch, const DecoderLayer& l, const Rope& rope, const at::Tensor& q,
                          const at::Tensor& k, const at::Tensor& v, const at::Tensor& cos, const at::Tensor& sin,
                          LayerCache& cache) {
#ifdef NQ_WITH_CUDA
  const int64_t B = q.size(0), H = arch.numHeads, D = arch.headDim, rot = rope.rotaryDim();
  const bool applies = decodeFusionEnabled() && q.is_cuda() && cache.slot.defined() && cache.keys.is_contiguous() &&
                       cache.values.is_contiguous() && cache.keys.scalar_type() == q.scalar_type() &&
                       cos.scalar_type() == q.scalar_type() && kernels::decodeQkvSupported(D, rot);
  if (!applies) return at::Tensor();
  const at::Tensor none;
  at::Tensor out = kernels::decodeQkv(q, k, v, arch.qkNorm ? l.qNorm : none, arch.qkNorm ? l.kNorm : none,
                                      arch.rmsNormEps, arch.normWeightOffset != 0, cos.reshape({B, rot}),
                                      sin.reshape({B, rot}), rot, cache.keys, cache.values, cache.slot);
  return out.view({B, H, 1, D});
#else
  (void)arch, (void)l, (void)rope, (void)q, (void)k, (void)v, (void)cos, (void)sin, (void)cache;
  return at::Tensor();
#endif
}

}  // namespace nq
