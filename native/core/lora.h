// LoRA adapters as peft defines them (tuners/lora/layer.py): y = base(x) + B(A(dropout(x))) *
// scaling, A and B fp32 parameters. This file holds the adapter, its scaling and its init; the
// forward and the hand-written backward are linear.h's (the branch runs in the compute dtype
// there, so fp32 on CPU, as peft computes it).
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

  // A or B in the compute dtype: cast once and kept while the parameter is unchanged (its
  // version counter moves with every in-place update: an optimizer step, a load), so a
  // decoding step does not cast every adapter again. The parameter itself when dtype is fp32.
  const at::Tensor& castA(at::ScalarType dtype) const { return a16.of(A, dtype); }
  const at::Tensor& castB(at::ScalarType dtype) const { return b16.of(B, dtype); }

 private:
  struct Cast {
    at::Tensor source, value;
    int64_t version = -1;
    const at::Tensor& of(const at::Tensor& param, at::ScalarType dtype);
  };
  mutable Cast a16, b16;
};

// alpha / r, or alpha / sqrt(r). Throws LORA_INVALID for r <= 0 quoting the value.
double loraScaling(int64_t r, double alpha, bool useRslora);

// A ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform_ with a = sqrt(5), as nn.Linear and peft
// initialize lora_A) drawn from `cpuGenerator`, B = 0; both fp32 on `device`, requiring grad.
LoraAdapter makeLoraAdapter(int64_t in, int64_t out, int64_t r, double scaling, double dropout,
                            at::Generator& cpuGenerator, at::Device device);

}  // namespace nq
