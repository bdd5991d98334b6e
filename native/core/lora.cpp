// See lora.h. Op order mirrors peft so fp32 results agree to rounding:
//   16-bit base: result = (base + (B(A(drop(x32))) * scaling)).to(base dtype)
//   4-bit base:  result = base + (B(A(drop(x32))) * scaling).to(base dtype)
#include "core/lora.h"

#include <ATen/core/grad_mode.h>

#include <cmath>
#include <string>

#include "core/errors.h"

namespace nq {

double loraScaling(int64_t r, double alpha, bool useRslora) {
  if (r <= 0) throw Error("LORA_INVALID", "LoRA rank r must be a positive integer, got " + std::to_string(r));
  return useRslora ? alpha / std::sqrt(static_cast<double>(r)) : alpha / static_cast<double>(r);
}

LoraAdapter makeLoraAdapter(int64_t in, int64_t out, int64_t r, double scaling, double dropout,
                            bool quantizedBase, at::Generator& cpuGenerator, at::Device device) {
  if (dropout < 0.0 || dropout >= 1.0) {
    throw Error("LORA_INVALID", "LoRA dropout must be in [0, 1), got " + std::to_string(dropout));
  }
  at::NoGradGuard noGrad;
  LoraAdapter l;
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  at::Tensor a = at::empty({r, in}, at::TensorOptions().dtype(at::kFloat));
  a.uniform_(-bound, bound, cpuGenerator);  // the kernel takes the generator's lock itself
  l.A = a.to(device).requires_grad_(true);
  l.B = at::zeros({out, r}, at::TensorOptions().dtype(at::kFloat).device(device)).requires_grad_(true);
  l.scaling = scaling;
  l.dropout = dropout;
  l.quantizedBase = quantizedBase;
  return l;
}

namespace {
// nn.Dropout in training: zero with probability p, scale the rest by 1 / (1 - p).
at::Tensor dropout(const at::Tensor& x, double p, at::Generator* generator) {
  if (!generator || p == 0.0) return x;
  at::Tensor keep = at::empty_like(x);
  keep.bernoulli_(1.0 - p, *generator);  // the kernel takes the generator's lock itself
  return x * keep.div_(1.0 - p);
}
}  // namespace

at::Tensor applyLora(const LoraAdapter& lora, const at::Tensor& x, const at::Tensor& base,
                     at::Generator* dropoutGenerator) {
  const at::ScalarType outDtype = base.scalar_type();
  at::Tensor x32 = x.scalar_type() == lora.A.scalar_type() ? x : x.to(lora.A.scalar_type());
  at::Tensor branch = at::linear(at::linear(dropout(x32, lora.dropout, dropoutGenerator), lora.A), lora.B) * lora.scaling;
  if (lora.quantizedBase) return base + branch.to(outDtype);
  at::Tensor sum = base + branch;
  return sum.scalar_type() == outDtype ? sum : sum.to(outDtype);
}

}  // namespace nq
