// A decoder-only transformer built from an ArchSpec and an HF safetensors checkpoint:
// embeddings, N decoder layers (decoder_layer.h wires the shared blocks: attention.h, norm.h,
// rope.h, linear.h, mlp.h), final norm, lm head. This file loads the weights and wires the
// layers into inference (padded batches, KV cache) and LoRA training: adapters on chosen linear
// layers (lora.h), a padding-free training step with a hand-written backward into the adapters
// only (chunked loss, loss.h; optional per-layer recomputation), clipping and AdamW
// (optimizer.h). Adapter tensors are named as peft saves them.
// Not here: tokens or text, sampling policy (generate.h), learning-rate schedules.
//
// Shapes: B batch, T new tokens this call, S keys visible (cache + T), V vocab, H heads,
// KV kv heads, D head dim, C hidden size.
#pragma once
#include <ATen/ATen.h>

#include <cmath>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/arch.h"
#include "core/decoder_layer.h"
#include "core/loss.h"
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

// How the base weights are held: as stored, or quantized on load. Every field is the caller's
// (the binding requires each; bitsandbytes' defaults live in src/config/defaults.ts).
struct LoadOptions {
  // For 16-bit checkpoints: quantize the decoder's linear layers on load (None keeps them).
  // Pre-quantized (bitsandbytes) weights load as stored, unless dequantizeStored is set.
  enum class Quant { None, NF4, FP4 } quant = Quant::None;
  bool doubleQuant = false;
  int64_t blocksize = 0;  // unset: quantizing on load rejects it (QUANT_INVALID)
  bool dequantizeStored = false;  // quant 'none' asked explicitly: 4-bit files become 16-bit
  // Sequence classification (heads.h): numLabels > 0 adds a score head, the checkpoint's
  // score.weight when it holds one, else normal(0, scoreInitStd) from scoreSeed.
  int64_t numLabels = 0;
  double scoreInitStd = 0.0;
  uint64_t scoreSeed = 0;
};

struct LoraOptions {
  std::vector<std::string> targets;  // module names: q_proj, k_proj, v_proj, o_proj, qkv_proj,
                                     // gate_proj, up_proj, down_proj, gate_up_proj
  int64_t r = 0;                     // required (> 0): the recipe's defaults live in src/config
  double alpha = std::nan("");       // required
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

// A padding-free classification batch: S sequences one after another, one label each.
struct ClassifyBatch {
  at::Tensor ids;      // (N) int64
  at::Tensor seqLens;  // (S) int64 on the CPU, each >= 1, summing to N
  at::Tensor labels;   // (S) int64 class indices in [0, numLabels)
};

struct ClassifyStepOptions {
  double lossScale = 0.0;  // the gradient is d(lossSum * lossScale)
  bool checkpointing = false;
  ClassificationLossOptions loss;  // R-Drop (two passes) and SupCon (loss.h)
};

struct TrainStepResult {
  double lossSum = 0.0;  // summed cross-entropy over the counted tokens
  int64_t tokens = 0;    // positions whose shifted label is not -100
};

struct OptimizerStepOptions {
  AdamWOptions adamw;
  double maxGradNorm = 0.0;  // <= 0: no clipping
  // A NaN / Inf gradient norm leaves the adapters and the optimizer state as they were (the
  // gradients are zeroed); false applies the update whatever the norm, as torch does.
  bool skipNonFinite = false;
};

struct OptimizerStepResult {
  double gradNorm = 0.0;  // total norm before clipping
  bool applied = false;   // false: skipped for a non-finite norm (skipNonFinite)
};

class Model {
 public:
  // Loads and shape-checks every weight. Throws WEIGHT_MISSING / WEIGHT_SHAPE naming the
  // tensor, the expected and found shapes and the checkpoint dir, WEIGHT_NONFINITE naming a
  // tensor that holds NaN or Inf (each loaded tensor is checked once) and its file.
  Model(const ArchSpec& arch, const std::string& dir, at::Device device, at::ScalarType dtype,
        const LoadOptions& load);

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

  // One decoding step with no host-side offsets or reads, so a CUDA graph can replay it: ids,
  // positions (B, 1) int64; the new token's key goes to cache position `slot` ((1) int64 on the
  // device), which the caller advances (and cache.length with it). Attention reads the whole
  // cache under its validity mask. Returns (B, V) float32 logits. Not for longrope models (their
  // factors depend on the length, read on the host).
  at::Tensor decodeStep(const at::Tensor& ids, const at::Tensor& positions, const at::Tensor& slot, KvCache& cache) const;

  // --- Sequence classification (a model loaded with numLabels > 0) ---
  bool hasScoreHead() const { return score_.defined(); }
  int64_t numLabels() const { return score_.defined() ? score_.size(0) : 0; }
  // ids, positions (B, T) int64, valid (B, T) bool: -> (B, K) float32 logits of the score head
  // at each row's last valid token (left or right padding). Padding-free: only valid tokens
  // are computed. Throws INVALID_ARGUMENT for a row without a valid token or a model without
  // a head.
  at::Tensor classifyForward(const at::Tensor& ids, const at::Tensor& positions, const at::Tensor& valid) const;

  // The base checkpoint in srcDir with every adapter merged into its weight:
  // W + scaling * (B @ A) in fp32, stored in the weight's 16-bit dtype. 4-bit weights are
  // dequantized (to their quant_state dtype) and their bitsandbytes companions dropped, so the
  // result is a plain 16-bit checkpoint. Other tensors are copied as stored. CPU tensors. A
  // classifier's head is written as score.weight (the layout *ForSequenceClassification loads).
  std::vector<std::pair<std::string, at::Tensor>> mergedCheckpoint(const std::string& srcDir) const;

  // --- LoRA training ---
  // Adds fp32 adapters (A random from the seed, B zero) to the targeted linear layers of the
  // chosen decoder layers; returns the full module names, in parameter order. With a score
  // head, the head joins the trainable parameters last, as "base_model.model.score.weight"
  // (peft's SEQ_CLS modules_to_save key). Throws
  // LORA_INVALID for an unknown target, a target matching nothing, a layer index out of range,
  // r <= 0, a dropout outside [0, 1), or adapters already present.
  std::vector<std::string> addLora(const LoraOptions& options);
  bool hasLora() const { return !loraParams_.empty(); }
  int64_t loraParameterCount() const;
  // Live adapter tensors keyed as in peft's adapter_model.safetensors:
  // "base_model.model.<module>.lora_A.weight" / ".lora_B.weight", in parameter order (then the
  // score head, when there is one).
  const std::vector<std::pair<std::string, at::Tensor>>& loraParameters() const { return loraParams_; }
  // Copies every adapter tensor from `tensors` (any float dtype; cast to fp32). The names must
  // be exactly this model's adapter names; throws LORA_INVALID naming a missing, unexpected or
  // misshapen tensor (nothing is changed then).
  void setLoraTensors(const std::vector<std::pair<std::string, at::Tensor>>& tensors);

  // One forward + backward of a packed batch (padding-free: attention never crosses from one
  // sequence into the next). ADDS d(lossSum * lossScale) / d(adapter) into the adapter grads.
  // checkpointing recomputes each decoder layer during backward instead of keeping its
  // activations (same gradients; on CUDA the kept layer inputs wait in pinned host memory).
  // Throws INVALID_ARGUMENT for lengths that do not add up.
  TrainStepResult trainStep(const PackedBatch& batch, double lossScale, bool checkpointing);
  // One classification forward + backward (padding-free, as trainStep): the score head at each
  // sequence's last token, the loss of loss.h (two passes with independent dropout when
  // rdropAlpha > 0). ADDS d(lossSum * lossScale) / d(parameter) into the adapter and head
  // grads. Returns the summed loss and the sequences (tokens = S).
  TrainStepResult classifyStep(const ClassifyBatch& batch, const ClassifyStepOptions& options);
  void zeroGrad();
  // fp32 gradients in parameter order (zeros where none has accumulated).
  std::vector<std::pair<std::string, at::Tensor>> gradients() const;
  // Clips (when maxGradNorm > 0), takes one AdamW step, zeroes the grads; returns the total
  // gradient norm before clipping, and whether the step was taken (see skipNonFinite). Throws
  // NO_GRADIENTS when no trainStep has added gradients since the last step.
  OptimizerStepResult optimizerStep(const OptimizerStepOptions& options);
  const AdamW& optimizer() const { return optimizer_; }
  // Tensors keyed "exp_avg.<name>" / "exp_avg_sq.<name>"; validated like setLoraTensors.
  // `tensors` may also hold "rng.dropout" (dropoutRngState()), restored with the moments.
  void setOptimizerState(int64_t steps, const std::vector<std::pair<std::string, at::Tensor>>& tensors);
  // The state setOptimizerState reads, named as it reads it: "exp_avg.<name>" and
  // "exp_avg_sq.<name>" in parameter order, then "rng.dropout" when dropout draws masks.
  std::vector<std::pair<std::string, at::Tensor>> optimizerStateTensors() const;
  // State of the generator that draws LoRA dropout masks (undefined without dropout): saved
  // with the optimizer state so a resumed run draws the masks it would have drawn.
  at::Tensor dropoutRngState() const;

 private:
  at::Tensor embedTokens(const at::Tensor& ids) const;
  // The decoder layers over a padded batch h (B, T, C); masks: (window, (B, 1, T, S) mask) per
  // distinct window; the cache (optional) as LayerCache takes it (start, or a device slot).
  at::Tensor layersPadded(at::Tensor h, const RopeTables& tables, const std::vector<std::pair<int64_t, at::Tensor>>& masks,
                          KvCache* cache, int64_t start, const at::Tensor& slot) const;
  // Final norm, lm head, soft-capping: h (..., C) -> float32 logits (..., V).
  at::Tensor logitsOf(const at::Tensor& h) const;
  // forward's first call on an empty cache with lastOnly, padding-free: see model.cpp. Returns
  // an undefined tensor when a row has no valid token (forward then runs padded).
  at::Tensor prefillPacked(const at::Tensor& ids, const at::Tensor& positions, const at::Tensor& valid,
                           KvCache& cache) const;
  // The valid tokens of each row one after another through the layers (padding-free), each
  // token's key and value also written to `cache` when given: (B, C) hidden state of each
  // row's last valid token, before the final norm. Undefined when a row has no valid token.
  at::Tensor lastHiddenPacked(const at::Tensor& ids, const at::Tensor& positions, const at::Tensor& valid,
                              KvCache* cache) const;
  // Forward + hand-written backward of a packed batch through the decoder layers, `passes` times
  // with independent dropout masks. lossBackward gets each pass's final hidden states (N, C) and
  // returns d(loss)/d(hidden) for each; the adapters' gradients are added.
  using LossBackward = std::function<std::vector<at::Tensor>(const std::vector<at::Tensor>&)>;
  void packedStep(const at::Tensor& ids, const std::vector<int64_t>& lengths, size_t passes, bool checkpointing,
                  const LossBackward& lossBackward);
  // One cos / sin pair per distinct RoPE spec for these positions.
  RopeTables ropeTables(const at::Tensor& positions) const;
  const Rope& ropeOf(const DecoderLayer& layer) const { return *ropes_[layer.ropeIndex]; }

  ArchSpec arch_;
  at::Device device_;
  at::ScalarType dtype_;
  std::string prefix_;
  at::Tensor embed_;   // (V, C)
  at::Tensor lmHead_;  // (V, C), the embedding when tied
  at::Tensor finalNorm_;
  at::Tensor score_;   // (K, C) fp32: the classification head (undefined without numLabels)
  std::vector<DecoderLayer> layers_;
  std::vector<std::unique_ptr<Rope>> ropes_;  // distinct specs, shared by the layers using them

  std::vector<std::pair<std::string, at::Tensor>> loraParams_;  // peft name -> A or B
  AdamW optimizer_;
  mutable std::optional<at::Generator> dropoutGenerator_;
  bool training_ = false;  // set by trainStep: adapters apply dropout
};

}  // namespace nq
