// Batched decoding with a KV cache, as transformers' generate(): greedy (do_sample=False), or
// sampling through sampling.h's warpers with one seed per prompt. Prompts left-padded to one
// length, positions counted from each prompt's first real token, per-sequence stop on any EOS
// id, EOS suppressed until minNewTokens, maxNewTokens cap; each step's tokens can be streamed.
// Not here: repetition penalties, text.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "core/model.h"
#include "core/sampling.h"

namespace nq {

struct GenerateOptions {
  int64_t maxNewTokens = -1;  // required (>= 0): the recipe's defaults live in src/config
  int64_t minNewTokens = 0;
  std::vector<int64_t> eosTokenIds;
  int64_t padTokenId = 0;  // fills the left padding (masked, so any valid id works)
  // Sampling when set: one seed per prompt (a prompt's draws depend on its seed alone), else greedy.
  bool sample = false;
  SamplingOptions sampling;
  std::vector<uint64_t> seeds;
  // Called after each step with its token per prompt (padTokenId for finished prompts); returning
  // false ends generation there. Reading the tokens waits for the device each step.
  std::function<bool(const std::vector<int64_t>&)> onStep;
};

// Returns, per prompt, only the new tokens: up to and including the first EOS, or
// maxNewTokens tokens when none came (fewer when onStep stopped it). Throws NONFINITE_LOGITS
// naming the prompts when a step's logits held NaN or Inf for an unfinished prompt (checked on
// the device, read once per call).
std::vector<std::vector<int64_t>> generate(const Model& model, const std::vector<std::vector<int64_t>>& prompts,
                                           const GenerateOptions& options);

// Left-pads ragged prompts: ids (B, T) int64, valid (B, T) bool, positions (B, T) int64 where
// a real token's position counts the real tokens before it (padding gets 0).
struct PaddedBatch {
  at::Tensor ids, valid, positions;
};
PaddedBatch leftPad(const std::vector<std::vector<int64_t>>& prompts, int64_t padTokenId, at::Device device);

// Positions from a (B, T) validity mask: cumsum - 1, 0 on padding (as transformers' generate).
at::Tensor positionsFromMask(const at::Tensor& valid);

}  // namespace nq
