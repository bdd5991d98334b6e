// Causal self-attention with grouped-query heads (H query heads share KV key/value heads),
// optional sliding window and optional tanh soft-capping of the scores, as transformers' eager
// attention computes it: scores = q k^T * scale [-> softcap * tanh(scores / softcap)] ->
// masked -> softmax in fp32 -> cast -> probs v.
//  - Packed (training, padding-free): S sequences one after another, token-major. On CUDA in
//    bf16/fp16 without soft-capping this is flash attention over cu_seqlens with native GQA
//    (at::_flash_attention_forward / _backward: nothing of size T x T is stored); elsewhere a
//    per-sequence math path with an explicit backward (the reference; CPU tests run it).
//    Batches whose sequences all have one length of at least 4,096 tokens (long rows) and need
//    no window run cuDNN's fused attention instead (at::_scaled_dot_product_cudnn_attention /
//    _backward over a (S, H, L, D) view), the Hopper kernel torch's SDPA can pick;
//    NQ_CUDNN_ATTENTION=0 turns it off, =1 on at every equal length.
//    scripts/gpu/attention-paths-check.mjs holds the two paths to each other on the GPU machine
//    (docs/perf-notes.md, long context).
//  - Padded (inference, with or without a KV cache): (B, H, T, D) with a (B, 1, T, S) mask.
// Not here: projections, RoPE, caches (model.cpp).
//
// Shapes: N tokens, S sequences, H / KV heads, D head dim, T queries, L one sequence's length.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace nq {

// Where each packed sequence starts: lens on the host, cu_seqlens on the device.
struct PackedLayout {
  std::vector<int64_t> lens;  // (S) tokens per sequence
  at::Tensor cuSeqlens;       // (S + 1) int32 on the tokens' device: 0, l0, l0 + l1, ...
  int64_t maxLen = 0;
  at::Tensor positions;       // (N) int64: 0 .. l - 1 within each sequence
  static PackedLayout from(const std::vector<int64_t>& lens, at::Device device);
};

struct AttentionSpec {
  double scale = 1.0;
  double softcap = 0.0;    // 0 = none
  int64_t window = 0;      // 0 = full causal; else a query sees the `window` keys ending at itself
};

// What the packed backward needs.
struct AttentionSaved {
  at::Tensor q, k, v, out;  // (N, H, D), (N, KV, D), (N, KV, D), (N, H, D)
  at::Tensor lse, rngState, unused;  // flash path (cuDNN path: its lse, philox seed and offset)
  at::Tensor cudnnOut;               // cuDNN path: out as cuDNN returned it, (S, H, L, D)
};

// q (N, H, D), k / v (N, KV, D). Returns out (N, H, D).
at::Tensor attentionPackedForward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                  const PackedLayout& layout, const AttentionSpec& spec, AttentionSaved* saved);
struct AttentionGrads {
  at::Tensor dq, dk, dv;
};
AttentionGrads attentionPackedBackward(const at::Tensor& dout, const AttentionSaved& saved, const PackedLayout& layout,
                                       const AttentionSpec& spec);

// q (B, H, T, D), k / v (B, KV, S, D), mask (B, 1, T, S) bool (true = may attend), or for
// T = 1 an additive bias (B * KV, 1, S) of 0 / -inf in the compute dtype. Returns (B, H, T, D).
at::Tensor attentionPadded(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask,
                           const AttentionSpec& spec);

}  // namespace nq
