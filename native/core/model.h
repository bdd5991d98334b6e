// A decoder-only transformer built from an ArchSpec and an HF safetensors checkpoint:
// embeddings, N decoder layers (GQA attention with RoPE, causal + padding + sliding-window
// masks, optional soft-capping and q/k norms; gated MLP), final norm, lm head.
// Not here: tokens or text, sampling policy (generate.h), quantization (later).
//
// Shapes: B batch, T new tokens this call, S keys visible (cache + T), V vocab, H heads,
// KV kv heads, D head dim, C hidden size.
#pragma once
#include <ATen/ATen.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/arch.h"
#include "core/quant.h"
#include "core/rope.h"
#include "core/safetensors.h"

namespace nq {

// Per-layer key/value cache, preallocated for `capacity` positions: (B, KV, capacity, D).
struct KvCache {
  std::vector<at::Tensor> keys, values;
  at::Tensor keyValid;  // (B, capacity) bool: which cached positions are real tokens
  int64_t length = 0;   // positions filled
  int64_t capacity = 0;
};

// A frozen linear layer: 16-bit weight, or a 4-bit one (forward = dequantize + matmul, or the
// 4-bit gemv kernel for a few rows on CUDA; autograd then yields the input gradient only).
struct Linear {
  at::Tensor weight;                   // (out, in) in the compute dtype, or undefined if 4-bit
  std::shared_ptr<quant::Weight4> w4;  // the 4-bit weight, or null
  at::Tensor bias;                     // (out) or undefined
  bool defined() const { return weight.defined() || w4 != nullptr; }
  at::Tensor operator()(const at::Tensor& x) const;
  int64_t parameterCount() const;
  int64_t bytes() const;
};

// How the base weights are held: as stored, or quantized on load.
struct LoadOptions {
  // For 16-bit checkpoints: quantize the decoder's linear layers on load (None keeps them).
  // Pre-quantized (bitsandbytes) weights load as stored, unless dequantizeStored is set.
  enum class Quant { None, NF4, FP4 } quant = Quant::None;
  bool doubleQuant = true;
  int64_t blocksize = 64;
  bool dequantizeStored = false;  // quant 'none' asked explicitly: 4-bit files become 16-bit
};

struct DecoderLayer {
  Linear q, k, v, o;  // q/k/v undefined when the checkpoint fuses them
  Linear qkv;          // phi3
  Linear gate, up, down;
  Linear gateUp;       // phi3
  at::Tensor inputNorm, postAttnNorm, preFfnNorm, postFfnNorm;
  at::Tensor qNorm, kNorm;
  std::unique_ptr<Rope> rope;
  int64_t slidingWindow = 0;
};

class Model {
 public:
  // Loads and shape-checks every weight. Throws WEIGHT_MISSING / WEIGHT_SHAPE naming the
  // tensor, the expected and found shapes and the checkpoint dir.
  Model(const ArchSpec& arch, const std::string& dir, at::Device device, at::ScalarType dtype,
        const LoadOptions& load = {});

  const ArchSpec& arch() const { return arch_; }
  at::Device device() const { return device_; }
  at::ScalarType dtype() const { return dtype_; }
  const std::string& weightPrefix() const { return prefix_; }
  int64_t parameterCount() const;
  int64_t parameterBytes() const;  // device memory held by the weights
  int64_t quantizedLinears() const;  // how many linear layers hold 4-bit weights

  KvCache newCache(int64_t batch, int64_t capacity) const;

  // longrope models: the context length past which long factors apply (0 if no layer uses
  // longrope). Keys cached under the short factors are stale once a sequence grows past it.
  int64_t longRopeSwitchLength() const;

  // ids (B, T) int64; positions (B, T) int64 (RoPE positions); valid (B, T) bool (false for
  // padding). With a cache, the T tokens are appended after cache->length. lastOnly returns
  // logits of the last position only: (B, 1, V); else (B, T, V). Logits are float32.
  at::Tensor forward(const at::Tensor& ids, const at::Tensor& positions, const at::Tensor& valid,
                     KvCache* cache, bool lastOnly) const;

 private:
  at::Tensor norm(const at::Tensor& x, const at::Tensor& weight) const;
  at::Tensor attention(const DecoderLayer& layer, int64_t index, const at::Tensor& x,
                       const at::Tensor& positions, const at::Tensor& mask, KvCache* cache) const;
  at::Tensor mlp(const DecoderLayer& layer, const at::Tensor& x) const;

  ArchSpec arch_;
  at::Device device_;
  at::ScalarType dtype_;
  std::string prefix_;
  at::Tensor embed_;   // (V, C)
  at::Tensor lmHead_;  // (V, C), the embedding when tied
  at::Tensor finalNorm_;
  std::vector<DecoderLayer> layers_;
};

}  // namespace nq
