// Gradient clipping and AdamW for the LoRA parameters, numerically as torch does on one device:
// torch.nn.utils.clip_grad_norm_ (2-norm of the per-tensor 2-norms; grads scaled by
// min(max_norm / (norm + 1e-6), 1)) and torch.optim.AdamW's single-tensor algorithm (same ops
// in the same order, fp32 moments, one step counter), each op run over all parameters by ATen's
// _foreach_* ops: per tensor on CPU (the same bits), multi-tensor launches on CUDA (as torch's
// foreach AdamW and clip_grad_norm_, their CUDA default).
// Not here: learning-rate schedules, which parameters train, accumulation (all in TS / model).
#pragma once
#include <ATen/ATen.h>

#include <cmath>

#include <cstdint>
#include <vector>

namespace nq {

// torch.nn.utils.get_total_norm(grads, 2): the 2-norm of the stacked per-tensor 2-norms, as a
// 0-dim tensor on the first grad's device. Zero for an empty list.
at::Tensor totalGradNorm(const std::vector<at::Tensor>& grads);

// Scales every grad in place by clamp(maxNorm / (totalNorm + 1e-6), max = 1), evaluated as
// torch does (reciprocal, then multiply).
void clipGradsWithNorm(const std::vector<at::Tensor>& grads, double maxNorm, const at::Tensor& totalNorm);

// Every field is the caller's (the recipe's defaults live in src/config/defaults.ts); NaN =
// unset, which step() rejects.
struct AdamWOptions {
  double lr = std::nan("");
  double beta1 = std::nan("");
  double beta2 = std::nan("");
  double eps = std::nan("");
  double weightDecay = std::nan("");
};

// State for a fixed list of parameters: exp_avg / exp_avg_sq (fp32, like the params) and the
// number of steps taken.
class AdamW {
 public:
  AdamW() = default;
  explicit AdamW(const std::vector<at::Tensor>& params);

  // One update of params[i] with grads[i] (same order as at construction). Throws
  // INVALID_ARGUMENT for a non-finite or out-of-range hyperparameter.
  void step(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& grads, const AdamWOptions& options);

  int64_t steps() const { return steps_; }
  const std::vector<at::Tensor>& expAvg() const { return expAvg_; }
  const std::vector<at::Tensor>& expAvgSq() const { return expAvgSq_; }
  // Replaces the state (tensors copied into the existing buffers; shapes must match).
  void setState(int64_t steps, const std::vector<at::Tensor>& expAvg, const std::vector<at::Tensor>& expAvgSq);

 private:
  int64_t steps_ = 0;
  std::vector<at::Tensor> expAvg_, expAvgSq_;
};

}  // namespace nq
