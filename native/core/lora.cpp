// See lora.h.
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

const at::Tensor& LoraAdapter::Cast::of(const at::Tensor& param, at::ScalarType dtype) {
  if (param.scalar_type() == dtype) return param;
  if (!value.defined() || value.scalar_type() != dtype || !source.is_same(param) || version != param._version()) {
    value = param.detach().to(dtype);
    source = param;
    version = param._version();
  }
  return value;
}

LoraAdapter makeLoraAdapter(int64_t in, int64_t out, int64_t r, double scaling, double dropout,
                            at::Generator& cpuGenerator, at::Device device) {
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
  return l;
}

}  // namespace nq
