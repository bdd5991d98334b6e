// See norm.h.
#include "core/norm.h"

#ifdef NQ_WITH_CUDA
#include "kernels/kernels.h"
#endif

namespace nq {

NormOutput rmsNormForwardReference(const at::Tensor& x, const at::Tensor& weight, double eps, bool plusOne) {
  at::Tensor xf = x.to(at::kFloat);
  at::Tensor rstd = at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
  xf = xf * rstd;
  at::Tensor y = plusOne ? (xf * (1.0 + weight.to(at::kFloat))).to(x.scalar_type()) : weight * xf.to(x.scalar_type());
  return {y, rstd.squeeze(-1)};
}

at::Tensor rmsNormBackwardReference(const at::Tensor& dy, const at::Tensor& x, const at::Tensor& weight,
                                    const at::Tensor& rstd, bool plusOne) {
  at::Tensor r = rstd.unsqueeze(-1);
  at::Tensor xhat = x.to(at::kFloat) * r;
  at::Tensor w = plusOne ? 1.0 + weight.to(at::kFloat) : weight.to(at::kFloat);
  at::Tensor g = dy.to(at::kFloat) * w;
  return (r * (g - xhat * (g * xhat).mean(-1, /*keepdim=*/true))).to(x.scalar_type());
}

namespace {
#ifdef NQ_WITH_CUDA
bool useKernel(const at::Tensor& x) { return x.is_cuda(); }
#endif
}  // namespace

NormOutput rmsNormForward(const at::Tensor& x, const at::Tensor& weight, double eps, bool plusOne) {
#ifdef NQ_WITH_CUDA
  if (useKernel(x)) {
    const int64_t C = x.size(-1);
    auto [y, rstd] = kernels::rmsNormForward(x.reshape({-1, C}).contiguous(), weight.contiguous(), eps, plusOne);
    std::vector<int64_t> rows(x.sizes().begin(), x.sizes().end() - 1);
    return {y.view(x.sizes()), rstd.view(rows)};
  }
#endif
  return rmsNormForwardReference(x, weight, eps, plusOne);
}

NormAddOutput rmsNormAdd(const at::Tensor& x, const at::Tensor& residual, const at::Tensor& weight, double eps,
                         bool plusOne) {
#ifdef NQ_WITH_CUDA
  if (useKernel(x) && x.sizes() == residual.sizes() && x.scalar_type() == residual.scalar_type()) {
    const int64_t C = x.size(-1);
    auto [sum, y, rstd] = kernels::rmsNormAddForward(x.reshape({-1, C}).contiguous(),
                                                     residual.reshape({-1, C}).contiguous(), weight.contiguous(), eps,
                                                     plusOne);
    return {sum.view(x.sizes()), y.view(x.sizes())};
  }
#endif
  at::Tensor sum = x + residual;
  return {sum, rmsNormForward(sum, weight, eps, plusOne).y};
}

at::Tensor rmsNormBackward(const at::Tensor& dy, const at::Tensor& x, const at::Tensor& weight,
                           const at::Tensor& rstd, bool plusOne) {
#ifdef NQ_WITH_CUDA
  if (useKernel(x)) {
    const int64_t C = x.size(-1);
    at::Tensor dx = kernels::rmsNormBackward(dy.reshape({-1, C}).contiguous(), x.reshape({-1, C}).contiguous(),
                                             weight.contiguous(), rstd.reshape({-1}).contiguous(), plusOne);
    return dx.view(x.sizes());
  }
#endif
  return rmsNormBackwardReference(dy, x, weight, rstd, plusOne);
}

}  // namespace nq
