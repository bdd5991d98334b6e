// The gated feed-forward of every supported family: down(act(gate(x)) * up(x)) with act =
// SiLU (SwiGLU: llama, qwen, mistral, phi3) or GELU (GeGLU, tanh approximation: gemma). This
// file holds the gate: act(gate) * up in the compute dtype as transformers rounds it (the
// activation rounded first, then the product), and its backward; the projections are linear.h
// groups. On CUDA the fused kernels (kernels.h gluForward / gluBackward, in place) do each in one pass.
//
// Shapes: rows tokens, I intermediate size.
#pragma once
#include <ATen/ATen.h>

#include "core/arch.h"

namespace nq {

// gate, up (rows, I), unit column stride (may be column slices of one (rows, 2I) tensor).
at::Tensor gluForward(const at::Tensor& gate, const at::Tensor& up, Activation act);

struct GluGrads {
  at::Tensor dgate, dup;  // (rows, I) each, column slices of one (rows, 2I) buffer (or gate, up themselves)
};
// The gradients are written over gate and up where the fused kernel runs (CUDA): no second
// (rows, 2I) buffer at the training backward's peak. gate and up must not be read afterwards.
GluGrads gluBackwardOverwriting(const at::Tensor& dout, const at::Tensor& gate, const at::Tensor& up, Activation act);

// The ATen references of the two.
at::Tensor gluForwardReference(const at::Tensor& gate, const at::Tensor& up, Activation act);
GluGrads gluBackwardReference(const at::Tensor& dout, const at::Tensor& gate, const at::Tensor& up, Activation act);

}  // namespace nq
