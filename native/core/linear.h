// Frozen linear layers (16-bit or bitsandbytes 4-bit base weight, optional bias) with optional
// LoRA adapters, and the hand-written forward/backward of a group of linears that read the
// same input (q/k/v, gate/up, or one alone):
//   y_j = x W_j^T + b_j + s_j * (drop_j(x) A_j^T) B_j^T
// On CUDA with 4-bit weights the group's weights are dequantized into one stacked buffer and
// run as ONE GEMM, the adapters' A matrices as one more (when no dropout), and each B product
// is added into its slice of the output by addmm. The backward re-dequantizes (cheaper than
// keeping 16-bit copies alive), computes dx with one GEMM, and accumulates fp32 adapter
// gradients into A.grad / B.grad.
// On CPU (fp32) this is peft's arithmetic up to the order of fp32 roundings; the tests hold it
// to peft's logits and gradients.
// Not here: which modules get adapters (model.cpp).
//
// Shapes: rows tokens, in / out_j features, r_j adapter ranks.
#pragma once
#include <ATen/ATen.h>

#include <memory>
#include <vector>

#include "core/lora.h"
#include "core/quant.h"

namespace nq {

struct StackedWeight4;

struct Linear {
  at::Tensor weight;                   // (out, in) in the compute dtype, or undefined if 4-bit
  std::shared_ptr<quant::Weight4> w4;  // the 4-bit weight, or null
  at::Tensor bias;                     // (out) or undefined
  std::shared_ptr<LoraAdapter> lora;   // trainable adapter, or null
  // Decoding: the 4-bit weights of the group this layer leads (q of q/k/v, gate of gate/up)
  // stacked for one gemv; built on first use (linear.cpp).
  mutable std::shared_ptr<StackedWeight4> stacked;
  // Inference on CUDA: the adapters of the group this layer leads as two matrices (linear.cpp).
  mutable std::shared_ptr<struct GroupAdapters> adapters;
  bool defined() const { return weight.defined() || w4 != nullptr; }
  int64_t outFeatures() const { return weight.defined() ? weight.size(0) : w4->shape[0]; }
  int64_t inFeatures() const { return weight.defined() ? weight.size(1) : w4->shape[1]; }
  // The frozen base layer alone (no adapter), x (..., in) -> (..., out).
  at::Tensor operator()(const at::Tensor& x) const;
  // The base weight as a dense (out, in) tensor of `dtype` (dequantized when 4-bit).
  at::Tensor dense(at::ScalarType dtype) const;
  int64_t parameterCount() const;
  int64_t bytes() const;
};

// A group's 4-bit weights as one (sum out, in) weight whose packed bytes and float32 absmax the
// members' own tensors view.
struct StackedWeight4 {
  std::vector<const quant::Weight4*> members;
  quant::Weight4 weight;
};

// Inference with an adapter on every member of a group, all with one scaling: every A stacked
// (sum r, in) and every B as one block-diagonal (sum out, sum r) matrix, in the compute dtype,
// so the adapters add into the group's output with two GEMMs; rebuilt when a parameter changes
// (its version counter) or the dtype does.
struct GroupAdapters {
  std::vector<const LoraAdapter*> adapters;
  std::vector<int64_t> versions;  // A and B of each adapter
  at::Tensor a, b;
};

// What a group's backward needs from its forward.
struct LinearGroupSaved {
  at::Tensor x;                      // (rows, in) the shared input (only when a member has an adapter)
  std::vector<at::Tensor> xa;        // per member: (rows, r) = drop(x) A^T, undefined without adapter
  std::vector<at::Tensor> keep;      // per member with dropout: the mask scaled by 1 / (1 - p), drop(x) = x * keep
};

// x (rows, in). Returns one (rows, out_j) output per member (column slices of one buffer when
// the GEMM is fused). `dropout` draws the adapters' dropout masks (null outside training).
// `saved` (optional) receives what linearGroupBackward needs.
std::vector<at::Tensor> linearGroupForward(const std::vector<const Linear*>& members, const at::Tensor& x,
                                           at::Generator* dropout, LinearGroupSaved* saved);

// dys: per member (rows, out_j). Returns dx (rows, in) (undefined when !needDx) and adds each
// adapter's gradient into its A.grad / B.grad.
at::Tensor linearGroupBackward(const std::vector<const Linear*>& members, const std::vector<at::Tensor>& dys,
                               const LinearGroupSaved& saved, bool needDx);

// Column blocks (rows, w_j) that lie side by side in one (rows, sum w_j) buffer, as that buffer
// (a view); otherwise their concatenation (a copy).
at::Tensor joinColumns(const std::vector<at::Tensor>& parts);

}  // namespace nq
