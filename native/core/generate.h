// Batched greedy decoding with a KV cache, as transformers' generate(do_sample=False):
// prompts left-padded to one length, positions counted from each prompt's first real token,
// per-sequence stop on any EOS id, EOS suppressed until minNewTokens, maxNewTokens cap.
// Not here: sampling, repetition penalties, text.
#pragma once
#include <cstdint>
#include <vector>

#include "core/model.h"

namespace nq {

struct GreedyOptions {
  int64_t maxNewTokens = -1;  // required (>= 0): the recipe's defaults live in src/config
  int64_t minNewTokens = 0;
  std::vector<int64_t> eosTokenIds;
  int64_t padTokenId = 0;  // fills the left padding (masked, so any valid id works)
};

// Returns, per prompt, only the new tokens: up to and including the first EOS, or
// maxNewTokens tokens when none came. Throws NONFINITE_LOGITS naming the prompts when a step's
// logits held NaN or Inf for an unfinished prompt (checked on the device, read once per call).
std::vector<std::vector<int64_t>> generateGreedy(const Model& model,
                                                 const std::vector<std::vector<int64_t>>& prompts,
                                                 const GreedyOptions& options);

// Left-pads ragged prompts: ids (B, T) int64, valid (B, T) bool, positions (B, T) int64 where
// a real token's position counts the real tokens before it (padding gets 0).
struct PaddedBatch {
  at::Tensor ids, valid, positions;
};
PaddedBatch leftPad(const std::vector<std::vector<int64_t>>& prompts, int64_t padTokenId, at::Device device);

// Positions from a (B, T) validity mask: cumsum - 1, 0 on padding (as transformers' generate).
at::Tensor positionsFromMask(const at::Tensor& valid);

}  // namespace nq
