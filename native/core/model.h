// A decoder-only transformer built from an ArchSpec and an HF safetensors checkpoint:
// embeddings, N decoder layers (GQA attention with RoPE, causal + padding + sliding-window
// masks, optional soft-capping and q/k norms; gated MLP), final norm, lm head.
// LoRA fine-tuning: adapters on chosen linear layers (lora.h), a training step with autograd on
// the adapters only (chunked loss, loss.h; optional per-layer recomputation), clipping and AdamW
// (optimizer.h). Adapter tensors are named as peft saves them.
// Not here: tokens or text, sampling policy (generate.h), learning-rate schedules.
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
#include "core/lora.h"
#include "core/optimizer.h"
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
  std::shared_ptr<LoraAdapter> lora;   // trainable adapter, or null
  bool defined() const { return weight.defined() || w4 != nullptr; }
  // The frozen base layer alone (no adapter).
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

struct LoraOptions {
  std::vector<std::string> targets;  // module names: q_proj, k_proj, v_proj, o_proj, qkv_proj,
                                     // gate_proj, up_proj, down_proj, gate_up_proj
  int64_t r = 8;
  double alpha = 16;
  bool useRslora = false;
  double dropout = 0.0;
  std::vector<int64_t> layers;  // decoder layers that get adapters; empty = all
  uint64_t seed = 0;            // lora_A init and the dropout masks
  std::optional<uint64_t> dropoutSeed;  // the dropout masks alone (data-parallel ranks differ); default seed
};

// A padding-free training batch: S sequences one after another.
struct PackedBatch {
  at::Tensor ids;      // (N) int64 token ids
  at::Tensor labels;   // (N) int64 aligned with ids as transformers aligns them: the loss at token t
                       // predicts labels[t + 1] of the same sequence; -100 = no loss; the last token of
                       // each sequence has no target
  at::Tensor seqLens;  // (S) int64 on the CPU, each >= 1, summing to N
};

struct TrainStepResult {
  double lossSum = 0.0;  // summed cross-entropy over the counted tokens
  int64_t tokens = 0;    // positions whose shifted label is not -100
};

struct OptimizerStepOptions {
  AdamWOptions adamw;
  double maxGradNorm = 0.0;  // <= 0: no clipping
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

  // The base checkpoint in srcDir with every adapter merged into its weight:
  // W + scaling * (B @ A) in fp32, stored in the weight's 16-bit dtype. 4-bit weights are
  // dequantized (to their quant_state dtype) and their bitsandbytes companions dropped, so the
  // result is a plain 16-bit checkpoint. Other tensors are copied as stored. CPU tensors.
  std::vector<std::pair<std::string, at::Tensor>> mergedCheckpoint(const std::string& srcDir) const;

  // --- LoRA training ---
  // Adds fp32 adapters (A random from the seed, B zero) to the targeted linear layers of the
  // chosen decoder layers; returns the full module names, in parameter order. Throws
  // LORA_INVALID for an unknown target, a target matching nothing, a layer index out of range,
  // r <= 0, a dropout outside [0, 1), or adapters already present.
  std::vector<std::string> addLora(const LoraOptions& options);
  bool hasLora() const { return !loraParams_.empty(); }
  int64_t loraParameterCount() const;
  // Live adapter tensors keyed as in peft's adapter_model.safetensors:
  // "base_model.model.<module>.lora_A.weight" / ".lora_B.weight", in parameter order.
  const std::vector<std::pair<std::string, at::Tensor>>& loraParameters() const { return loraParams_; }
  // Copies every adapter tensor from `tensors` (any float dtype; cast to fp32). The names must
  // be exactly this model's adapter names; throws LORA_INVALID naming a missing, unexpected or
  // misshapen tensor (nothing is changed then).
  void setLoraTensors(const std::vector<std::pair<std::string, at::Tensor>>& tensors);

  // One forward + backward of a right-padded batch: ids (B, T) int64, valid (B, T) bool, labels
  // (B, T) int64 with -100 for ignored positions (the label of position t is labels[t + 1], as
  // transformers shifts them). ADDS d(lossSum * lossScale) / d(adapter) into the adapter grads.
  // checkpointing recomputes each decoder layer during backward instead of keeping its
  // activations (same gradients).
  TrainStepResult trainStep(const at::Tensor& ids, const at::Tensor& valid, const at::Tensor& labels,
                            double lossScale, bool checkpointing);
  // The same for a packed batch (no padding anywhere). Throws INVALID_ARGUMENT for lengths that
  // do not add up.
  TrainStepResult trainStep(const PackedBatch& batch, double lossScale, bool checkpointing);
  void zeroGrad();
  // fp32 gradients in parameter order (zeros where none has accumulated).
  std::vector<std::pair<std::string, at::Tensor>> gradients() const;
  // Clips (when maxGradNorm > 0), takes one AdamW step, zeroes the grads; returns the total
  // gradient norm before clipping. Throws NO_GRADIENTS when no trainStep has added gradients
  // since the last step.
  double optimizerStep(const OptimizerStepOptions& options);
  const AdamW& optimizer() const { return optimizer_; }
  // Tensors keyed "exp_avg.<name>" / "exp_avg_sq.<name>"; validated like setLoraTensors.
  // `tensors` may also hold "rng.dropout" (dropoutRngState()), restored with the moments.
  void setOptimizerState(int64_t steps, const std::vector<std::pair<std::string, at::Tensor>>& tensors);
  // State of the generator that draws LoRA dropout masks (undefined without dropout): saved
  // with the optimizer state so a resumed run draws the masks it would have drawn.
  at::Tensor dropoutRngState() const;

 private:
  // Decoder layer `index` on h (B, T, C); masks[w] is the attention mask for window w.
  at::Tensor layerForward(size_t index, const at::Tensor& h, const at::Tensor& positions,
                          const std::vector<std::pair<int64_t, at::Tensor>>& masks, KvCache* cache) const;
  // The base layer plus its adapter (dropout while training_).
  at::Tensor linear(const Linear& l, const at::Tensor& x) const;
  at::Tensor embedTokens(const at::Tensor& ids) const;

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

  std::vector<std::pair<std::string, at::Tensor>> loraParams_;  // peft name -> A or B
  AdamW optimizer_;
  mutable std::optional<at::Generator> dropoutGenerator_;
  bool training_ = false;  // set by trainStep: adapters apply dropout
};

}  // namespace nq
