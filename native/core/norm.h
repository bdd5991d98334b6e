// RMSNorm as transformers computes it (LlamaRMSNorm / Gemma's (1 + w) variant): the row is
// normalized in fp32, then
//   llama form:  y = w * round(x * rstd)             (w in the compute dtype)
//   gemma form:  y = round(x * rstd * (1 + float(w)))
// with rstd = rsqrt(mean(x^2) + eps) per row. Norm weights are frozen (no weight gradient).
// On CUDA the fused kernels (kernels.h rmsNormForward / rmsNormAddForward / rmsNormBackward) do
// one pass each;
// elsewhere the ATen composition below is the reference they are checked against.
//
// Shapes: x (..., C), weight (C), rstd (...) fp32.
#pragma once
#include <ATen/ATen.h>

namespace nq {

struct NormOutput {
  at::Tensor y;     // (..., C) in x's dtype
  at::Tensor rstd;  // (...) fp32
};

NormOutput rmsNormForward(const at::Tensor& x, const at::Tensor& weight, double eps, bool plusOne);
inline at::Tensor rmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps, bool plusOne) {
  return rmsNormForward(x, weight, eps, plusOne).y;
}
// The norm of sum = x + residual (a residual add, rounded to x's dtype as ATen's add rounds, and
// the norm that reads it; one pass on CUDA). Returns the sum with the norm's output.
struct NormAddOutput {
  at::Tensor sum;  // (..., C) x + residual
  at::Tensor y;    // (..., C) the norm of sum
};
NormAddOutput rmsNormAdd(const at::Tensor& x, const at::Tensor& residual, const at::Tensor& weight, double eps,
                         bool plusOne);
// dy (..., C) -> dx (..., C) in x's dtype: rstd * (g - xhat * mean(g * xhat)), g = dy * w_eff.
at::Tensor rmsNormBackward(const at::Tensor& dy, const at::Tensor& x, const at::Tensor& weight,
                           const at::Tensor& rstd, bool plusOne);

// The ATen compositions (the CPU path and the kernels' reference).
NormOutput rmsNormForwardReference(const at::Tensor& x, const at::Tensor& weight, double eps, bool plusOne);
at::Tensor rmsNormBackwardReference(const at::Tensor& dy, const at::Tensor& x, const at::Tensor& weight,
                                    const at::Tensor& rstd, bool plusOne);

}  // namespace nq
