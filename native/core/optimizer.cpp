// See optimizer.h. Scalars are computed in double as Python computes them, and handed to the
// same ATen ops torch's single-tensor path calls (their _foreach_ forms, which on CPU run them
// tensor by tensor), so updates agree to the last bit on CPU.
#include "core/optimizer.h"

#include <ATen/core/grad_mode.h>

#include <cmath>
#include <string>

#include "core/errors.h"

namespace nq {

at::Tensor totalGradNorm(const std::vector<at::Tensor>& grads) {
  if (grads.empty()) return at::zeros({}, at::kFloat);
  at::NoGradGuard noGrad;
  // Multi-tensor launches on CUDA (a few for all tensors, as torch's clip_grad_norm_); on CPU the
  // per-tensor norms.
  return at::linalg_vector_norm(at::stack(at::_foreach_norm(grads, 2)), 2);
}

void clipGradsWithNorm(const std::vector<at::Tensor>& grads, double maxNorm, const at::Tensor& totalNorm) {
  if (grads.empty()) return;
  at::NoGradGuard noGrad;
  // Python's `max_norm / (total_norm + 1e-6)` is Tensor.__rtruediv__: reciprocal() * max_norm.
  at::Tensor coef = (totalNorm + 1e-6).reciprocal() * maxNorm;
  at::Tensor clamped = at::clamp_max(coef, 1.0);
  at::_foreach_mul_(grads, clamped.to(grads[0].device()));
}

AdamW::AdamW(const std::vector<at::Tensor>& params) {
  at::NoGradGuard noGrad;
  for (const at::Tensor& p : params) {
    expAvg_.push_back(at::zeros_like(p, at::MemoryFormat::Preserve));
    expAvgSq_.push_back(at::zeros_like(p, at::MemoryFormat::Preserve));
  }
}

namespace {
void requireFinite(double v, const char* name, double min, bool minInclusive, double max, bool maxInclusive) {
  bool ok = std::isfinite(v) && (minInclusive ? v >= min : v > min) && (maxInclusive ? v <= max : v < max);
  if (!ok) {
    throw Error("INVALID_ARGUMENT", std::string("AdamW ") + name + " must be in " + (minInclusive ? "[" : "(") +
                                        std::to_string(min) + ", " + std::to_string(max) + (maxInclusive ? "]" : ")") +
                                        ", got " + std::to_string(v));
  }
}
}  // namespace

void AdamW::step(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& grads, const AdamWOptions& o) {
  for (const auto& [name, value] : {std::pair<const char*, double>{"lr", o.lr}, {"beta1", o.beta1}, {"beta2", o.beta2},
                                    {"eps", o.eps}, {"weightDecay", o.weightDecay}}) {
    if (!std::isfinite(value)) {
      throw Error("INVALID_ARGUMENT", std::string("AdamW ") + name + " must be a finite number (the caller sets every option)");
    }
  }
  requireFinite(o.lr, "lr", 0.0, true, INFINITY, false);
  requireFinite(o.beta1, "beta1", 0.0, true, 1.0, false);
  requireFinite(o.beta2, "beta2", 0.0, true, 1.0, false);
  requireFinite(o.eps, "eps", 0.0, true, INFINITY, false);
  requireFinite(o.weightDecay, "weightDecay", 0.0, true, INFINITY, false);
  if (params.size() != expAvg_.size() || grads.size() != params.size()) {
    throw Error("INVALID_ARGUMENT", "AdamW: expected " + std::to_string(expAvg_.size()) + " parameters and gradients, got " +
                                        std::to_string(params.size()) + " and " + std::to_string(grads.size()));
  }
  at::NoGradGuard noGrad;
  ++steps_;
  // torch keeps the step in a float32 tensor and reads it back with .item().
  const double step = static_cast<double>(static_cast<float>(steps_));
  const double biasCorrection1 = 1 - std::pow(o.beta1, step);
  const double biasCorrection2 = 1 - std::pow(o.beta2, step);
  const double stepSize = o.lr / biasCorrection1;
  const double biasCorrection2Sqrt = std::pow(biasCorrection2, 0.5);
  if (params.empty()) return;
  // The single-tensor algorithm's ops, each over every parameter at once: on CUDA a few
  // multi-tensor launches per op instead of one per parameter (torch's foreach AdamW, its CUDA
  // default); on CPU the same per-tensor ops, so the same bits as torch's single-tensor path.
  if (o.weightDecay != 0) at::_foreach_mul_(params, 1 - o.lr * o.weightDecay);
  at::_foreach_lerp_(expAvg_, grads, 1 - o.beta1);
  at::_foreach_mul_(expAvgSq_, o.beta2);
  at::_foreach_addcmul_(expAvgSq_, grads, grads, 1 - o.beta2);
  std::vector<at::Tensor> denom = at::_foreach_sqrt(expAvgSq_);
  at::_foreach_div_(denom, biasCorrection2Sqrt);
  at::_foreach_add_(denom, o.eps);
  at::_foreach_addcdiv_(params, expAvg_, denom, -stepSize);
}

void AdamW::setState(int64_t steps, const std::vector<at::Tensor>& expAvg, const std::vector<at::Tensor>& expAvgSq) {
  if (steps < 0) throw Error("INVALID_ARGUMENT", "optimizer step count must be >= 0, got " + std::to_string(steps));
  if (expAvg.size() != expAvg_.size() || expAvgSq.size() != expAvgSq_.size()) {
    throw Error("INVALID_ARGUMENT", "optimizer state: expected " + std::to_string(expAvg_.size()) + " tensors of each moment");
  }
  at::NoGradGuard noGrad;
  for (size_t i = 0; i < expAvg_.size(); ++i) {
    expAvg_[i].copy_(expAvg[i]);
    expAvgSq_[i].copy_(expAvgSq[i]);
  }
  steps_ = steps;
}

}  // namespace nq
