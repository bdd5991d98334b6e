// See generate.h.
#include "core/generate.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <string>

#include <ATen/core/grad_mode.h>

#include "core/decode_graph.h"
#include "core/errors.h"
#include "core/lagged_flag.h"

namespace nq {

at::Tensor positionsFromMask(const at::Tensor& valid) {
  at::Tensor v = valid.to(at::kLong);
  return (v.cumsum(-1) - 1).masked_fill(valid.logical_not(), 0);
}

PaddedBatch leftPad(const std::vector<std::vector<int64_t>>& prompts, int64_t padTokenId, at::Device device) {
  const int64_t B = static_cast<int64_t>(prompts.size());
  int64_t T = 0;
  for (const auto& p : prompts) T = std::max<int64_t>(T, static_cast<int64_t>(p.size()));
  at::Tensor ids = at::full({B, T}, padTokenId, at::kLong);
  at::Tensor valid = at::zeros({B, T}, at::kBool);
  auto idsA = ids.accessor<int64_t, 2>();
  auto validA = valid.accessor<bool, 2>();
  for (int64_t b = 0; b < B; ++b) {
    const auto& p = prompts[b];
    const int64_t start = T - static_cast<int64_t>(p.size());
    for (size_t j = 0; j < p.size(); ++j) {
      idsA[b][start + j] = p[j];
      validA[b][start + j] = true;
    }
  }
  PaddedBatch out;
  out.ids = ids.to(device);
  out.valid = valid.to(device);
  out.positions = positionsFromMask(out.valid);
  return out;
}

namespace {
// NONFINITE_LOGITS naming the prompts whose logits held NaN / Inf (rows: (B) bool).
void throwIfNonFinite(const at::Tensor& rows) {
  at::Tensor bad = rows.nonzero().reshape({-1}).to(at::kCPU);
  if (bad.numel() == 0) return;
  std::string list;
  for (int64_t i = 0; i < bad.numel() && i < 8; ++i) list += (i ? ", " : "") + std::to_string(bad[i].item<int64_t>());
  if (bad.numel() > 8) list += ", ...";
  throw Error("NONFINITE_LOGITS", "the model produced NaN or Inf logits for prompt" + std::string(bad.numel() == 1 ? " " : "s ") +
                                      list + "; its weights or adapter hold non-finite or overflowing values (a diverged "
                                      "training run, or a dtype too narrow for them)");
}
}  // namespace

std::vector<std::vector<int64_t>> generate(const Model& model, const std::vector<std::vector<int64_t>>& prompts,
                                           const GenerateOptions& options) {
  at::NoGradGuard noGrad;
  const int64_t B = static_cast<int64_t>(prompts.size());
  const int64_t V = model.arch().vocabSize;
  if (B == 0) return {};
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (prompts[i].empty()) {
      throw Error("INVALID_ARGUMENT", "prompt " + std::to_string(i) + " is empty; generation needs at least one token");
    }
    for (int64_t id : prompts[i]) {
      if (id < 0 || id >= V) {
        throw Error("INVALID_ARGUMENT", "prompt " + std::to_string(i) + " holds token id " + std::to_string(id) +
                                            ", outside the vocabulary [0, " + std::to_string(V) + ")");
      }
    }
  }
  for (int64_t id : options.eosTokenIds) {
    if (id < 0 || id >= V) {
      throw Error("INVALID_ARGUMENT", "eos token id " + std::to_string(id) + " is outside the vocabulary [0, " + std::to_string(V) + ")");
    }
  }
  if (options.maxNewTokens < 0) throw Error("INVALID_ARGUMENT", "maxNewTokens must be set (a count >= 0)");
  if (options.sample) {
    if (static_cast<int64_t>(options.seeds.size()) != B) {
      throw Error("INVALID_ARGUMENT", "sampling needs one seed per prompt: " + std::to_string(options.seeds.size()) + " seeds for " +
                                          std::to_string(B) + " prompts");
    }
    if (!(options.sampling.temperature > 0)) throw Error("INVALID_ARGUMENT", "temperature must be > 0 when sampling");
    if (!(options.sampling.topP > 0 && options.sampling.topP <= 1)) throw Error("INVALID_ARGUMENT", "topP must be in (0, 1]");
    if (options.sampling.topK < 0) throw Error("INVALID_ARGUMENT", "topK must be >= 0 (0: off)");
  }
  std::vector<std::vector<int64_t>> out(B);
  if (options.maxNewTokens == 0) return out;

  const at::Device device = model.device();
  PaddedBatch batch = leftPad(prompts, options.padTokenId, device);
  const int64_t T0 = batch.ids.size(1);
  KvCache cache = model.newCache(B, T0 + options.maxNewTokens);

  at::Tensor eos = at::tensor(options.eosTokenIds, at::kLong).to(device);
  at::Tensor unfinished = at::ones({B}, at::TensorOptions().device(device).dtype(at::kBool));
  at::Tensor lastPos = batch.positions.select(1, T0 - 1);  // (B)
  at::Tensor logits = model.forward(batch.ids, batch.positions, batch.valid, &cache, /*lastOnly=*/true).select(1, 0);

  std::vector<at::Tensor> steps;
  const int64_t switchAt = model.longRopeSwitchLength();
  // Enough steps to repay one capture: replay them from a CUDA graph (null on CPU / longrope).
  constexpr int64_t kGraphMinSteps = 4;
  // NQ_CUDA_GRAPHS=0 runs every step eagerly (the check that graphs change no token uses it).
  const char* graphsEnv = std::getenv("NQ_CUDA_GRAPHS");
  const bool graphs = !(graphsEnv && std::string(graphsEnv) == "0");
  std::unique_ptr<DecodeGraph> graph =
      graphs && options.maxNewTokens > kGraphMinSteps ? makeDecodeGraph(model, cache) : nullptr;
  // Rows that met a NaN / Inf logit while unfinished: kept on the device, read once at the end.
  at::Tensor nonFinite = at::zeros({B}, unfinished.options());
  // Every step's uniforms drawn up front: the loop reads no host value for sampling.
  at::Tensor uniforms = options.sample ? samplingUniforms(options.seeds, options.maxNewTokens, device) : at::Tensor();
  // Whether any row is unfinished, read one step late (lagged_flag.h): the host learns that every
  // row finished while the GPU runs the step queued after it, which adds only padding (trimmed).
  LaggedFlag anyUnfinished;
  for (int64_t step = 0; step < options.maxNewTokens; ++step) {
    if (anyUnfinished.pending() && !anyUnfinished.read()) break;
    nonFinite.logical_or_(at::isfinite(logits).all(-1).logical_not_().logical_and_(unfinished));
    if (step < options.minNewTokens && eos.numel() > 0) {
      logits.index_fill_(1, eos, -std::numeric_limits<float>::infinity());
    }
    at::Tensor next = options.sample ? sampleTokens(warpLogits(logits, options.sampling), uniforms.select(1, step))
                                     : logits.argmax(-1);  // (B)
    next = at::where(unfinished, next, at::full_like(next, options.padTokenId));
    steps.push_back(next);
    if (options.onStep) {
      at::Tensor host = next.to(at::kCPU);
      if (!options.onStep(std::vector<int64_t>(host.data_ptr<int64_t>(), host.data_ptr<int64_t>() + B))) break;
    }
    if (step + 1 == options.maxNewTokens) break;
    if (eos.numel() > 0) {
      unfinished = unfinished & at::isin(next, eos).logical_not();
      anyUnfinished.post(unfinished.any());
    }
    lastPos = lastPos + 1;
    const int64_t width = T0 + step + 1;  // padded prompt + new tokens, the next one included
    if (switchAt > 0 && cache.length <= switchAt && width > switchAt) {
      // longrope crosses from short to long factors: as transformers' Phi-3 does, drop the
      // keys rotated with the short factors and re-run the whole sequence.
      at::Tensor ids = at::cat({batch.ids, at::stack(steps, 1)}, 1);
      at::Tensor valid = at::cat({batch.valid, at::ones({B, step + 1}, batch.valid.options())}, 1);
      cache = model.newCache(B, T0 + options.maxNewTokens);
      logits = model.forward(ids, positionsFromMask(valid), valid, &cache, /*lastOnly=*/true).select(1, 0);
      continue;
    }
    if (graph) {
      logits = graph->step(next, lastPos);
      continue;
    }
    at::Tensor ones = at::ones({B, 1}, at::TensorOptions().device(device).dtype(at::kBool));
    logits = model.forward(next.unsqueeze(1), lastPos.unsqueeze(1), ones, &cache, /*lastOnly=*/true).select(1, 0);
  }

  throwIfNonFinite(nonFinite);
  at::Tensor tokens = at::stack(steps, 1).to(at::kCPU);  // (B, steps)
  auto acc = tokens.accessor<int64_t, 2>();
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t s = 0; s < tokens.size(1); ++s) {
      const int64_t id = acc[b][s];
      out[b].push_back(id);
      if (std::find(options.eosTokenIds.begin(), options.eosTokenIds.end(), id) != options.eosTokenIds.end()) break;
    }
  }
  return out;
}

}  // namespace nq
