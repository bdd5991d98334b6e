// LoRA adapters on frozen linear layers, with peft's numerics (tuners/lora/layer.py Linear and
// bnb.py Linear4bit): y = base(x) + B(A(dropout(x))) * scaling, the LoRA branch in the
// adapter dtype (fp32) and the sum returned in the base output dtype.
// Not here: which modules get adapters (the model decides), training, saving.
//
// Shapes: in / out the base layer's features, r the rank.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>

namespace nq {

struct LoraAdapter {
  at::Tensor A;          // (r, in) fp32, requires grad; peft's lora_A.weight
  at::Tensor B;          // (out, r) fp32, requires grad; peft's lora_B.weight
  double scaling = 1.0;  // alpha / r, or alpha / sqrt(r) with rsLoRA
  double dropout = 0.0;  // probability of zeroing an input element (training only)
  // peft adds the branch differently to a 4-bit (bitsandbytes) base: the scaled branch is cast
  // to the base output dtype before the sum, instead of summing in fp32 and casting after.
  bool quantizedBase = false;
};

// alpha / r, or alpha / sqrt(r). Throws LORA_INVALID for r <= 0 quoting the value.
double loraScaling(int64_t r, double alpha, bool useRslora);

// A ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform_ with a = sqrt(5), as nn.Linear and peft
// initialize lora_A) drawn from `cpuGenerator`, B = 0; both fp32 on `device`, requiring grad.
LoraAdapter makeLoraAdapter(int64_t in, int64_t out, int64_t r, double scaling, double dropout,
                            bool quantizedBase, at::Generator& cpuGenerator, at::Device device);

// x (..., in) the base layer's input, base (..., out) its output. `dropoutGenerator` is null
// outside training (dropout is then the identity), else the generator the mask is drawn from.
at::Tensor applyLora(const LoraAdapter& lora, const at::Tensor& x, const at::Tensor& base,
                     at::Generator* dropoutGenerator);

}  // namespace nq
