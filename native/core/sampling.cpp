// See sampling.h.
#include "core/sampling.h"

#include <algorithm>
#include <limits>

namespace nq {

at::Tensor warpLogits(const at::Tensor& logits, const SamplingOptions& options) {
  constexpr float kFiltered = -std::numeric_limits<float>::infinity();
  at::Tensor scores = logits.to(at::kFloat);
  if (options.temperature != 1.0) scores = scores / options.temperature;
  const int64_t V = scores.size(-1);
  if (options.topK > 0 && options.topK < V) {
    // Ties with the k-th largest logit stay, as in transformers' TopKLogitsWarper.
    at::Tensor kth = std::get<0>(scores.topk(options.topK, -1)).narrow(-1, options.topK - 1, 1);  // (B, 1)
    scores = scores.masked_fill(scores < kth, kFiltered);
  }
  if (options.topP < 1.0) {
    // Ascending order; drop the low tail whose cumulative mass is <= 1 - topP, never the top token.
    auto [sorted, order] = scores.sort(/*stable=*/true, /*dim=*/-1, /*descending=*/false);
    at::Tensor cumulative = sorted.softmax(-1).cumsum(-1);
    at::Tensor removeSorted = cumulative <= (1.0 - options.topP);
    removeSorted.narrow(-1, V - 1, 1).fill_(false);
    at::Tensor remove = removeSorted.scatter(-1, order, removeSorted);
    scores = scores.masked_fill(remove, kFiltered);
  }
  return scores;
}

namespace {
// SplitMix64 (Steele, Lea and Flood): a full-period mixer, enough for per-step uniforms.
uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}
}  // namespace

at::Tensor samplingUniforms(const std::vector<uint64_t>& seeds, int64_t steps, at::Device device) {
  const int64_t B = static_cast<int64_t>(seeds.size());
  at::Tensor u = at::empty({B, std::max<int64_t>(steps, 0)}, at::kDouble);
  auto acc = u.accessor<double, 2>();
  for (int64_t b = 0; b < B; ++b) {
    const uint64_t key = splitmix64(seeds[b]);
    for (int64_t t = 0; t < steps; ++t) {
      // 53 random bits, centred in their cell: strictly inside (0, 1).
      const uint64_t bits = splitmix64(key + static_cast<uint64_t>(t)) >> 11;
      acc[b][t] = (static_cast<double>(bits) + 0.5) * (1.0 / 9007199254740992.0);
    }
  }
  return u.to(device);
}

at::Tensor sampleTokens(const at::Tensor& warped, const at::Tensor& u) {
  // float64 cumulative sums: a 150k-token vocabulary keeps its small probabilities.
  at::Tensor cumulative = warped.softmax(-1).to(at::kDouble).cumsum(-1);  // (B, V)
  const int64_t V = cumulative.size(-1);
  at::Tensor target = (u.to(at::kDouble) * cumulative.narrow(-1, V - 1, 1).squeeze(-1)).unsqueeze(-1);  // (B, 1)
  // u < 1 keeps target <= the total, so the count stays below V.
  return (cumulative < target).sum(-1).clamp_max(V - 1).to(at::kLong);
}

}  // namespace nq
