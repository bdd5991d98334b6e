// See loss.h.
#include "core/loss.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <limits>

namespace nq {

int64_t defaultLossChunkRows(int64_t vocabSize) {
  return std::max<int64_t>(16, (int64_t{1} << 25) / std::max<int64_t>(1, vocabSize));
}

ChunkedLoss chunkedCrossEntropy(const at::Tensor& hidden, const at::Tensor& labels, const at::Tensor& lmHead,
                                double softcap, double gradScale, int64_t chunkRows) {
  ChunkedLoss out;
  const int64_t N = hidden.size(0);
  out.gradHidden = at::empty_like(hidden, at::MemoryFormat::Contiguous);
  at::Tensor constant = hidden.detach();
  // Summed on the device in fp64, read once: no host sync per chunk.
  at::Tensor lossSum = at::zeros({}, hidden.options().dtype(at::kDouble));
  at::AutoGradMode enable(true);
  for (int64_t start = 0; start < N; start += chunkRows) {
    const int64_t end = std::min(N, start + chunkRows);
    at::Tensor leaf = constant.slice(0, start, end).clone().requires_grad_(true);  // (n, C)
    at::Tensor logits = at::linear(leaf, lmHead);                                                          // (n, V)
    if (softcap > 0) logits = at::tanh(logits / softcap) * softcap;
    // Per-position losses summed in fp64: the sum does not depend on how positions are split
    // into chunks or micro-batches. Each position's gradient is gradScale, as for a summed loss.
    at::Tensor losses = at::cross_entropy_loss(logits.to(at::kFloat), labels.slice(0, start, end), {},
                                               at::Reduction::None, -100);  // (n)
    lossSum += losses.detach().to(at::kDouble).sum();
    losses.backward(at::full_like(losses, gradScale));
    out.gradHidden.slice(0, start, end).copy_(leaf.grad());
  }
  out.lossSum = lossSum.item<double>();
  return out;
}

namespace {

// (S) per-anchor supervised contrastive loss of features f (S, C) fp32 with labels (S).
at::Tensor supConPerRow(const at::Tensor& f, const at::Tensor& labels, double temperature) {
  const int64_t S = f.size(0);
  if (S < 2) return at::zeros({S}, f.options());  // no other row to contrast with
  at::Tensor z = f / f.norm(2, 1, /*keepdim=*/true).clamp_min(1e-12);  // F.normalize
  at::Tensor sim = at::mm(z, z.t()) / temperature;                     // (S, S)
  at::Tensor self = at::eye(S, labels.options().dtype(at::kBool));
  at::Tensor logProb = sim - at::logsumexp(sim.masked_fill(self, -std::numeric_limits<double>::infinity()), 1, true);
  at::Tensor positive = labels.unsqueeze(0).eq(labels.unsqueeze(1)) & self.logical_not();
  at::Tensor count = positive.sum(1).clamp_min(1).to(f.scalar_type());
  return -at::where(positive, logProb, at::zeros({}, logProb.options())).sum(1) / count;
}

}  // namespace

ClassificationLoss classificationLoss(const std::vector<at::Tensor>& pooled, const at::Tensor& weight,
                                      const at::Tensor& labels, const ClassificationLossOptions& o, double gradScale) {
  const size_t passes = pooled.size();
  at::AutoGradMode enable(true);
  at::Tensor w = weight.detach().to(at::kFloat).requires_grad_(true);
  std::vector<at::Tensor> leaves, logProbs;
  at::Tensor ce, supcon;
  for (const at::Tensor& p : pooled) {
    at::Tensor leaf = p.detach().to(at::kFloat).requires_grad_(true);  // (S, C)
    at::Tensor logits = at::linear(leaf, w);                          // (S, K)
    at::Tensor losses = at::cross_entropy_loss(logits, labels, {}, at::Reduction::None, -100);
    ce = ce.defined() ? ce + losses : losses;
    if (o.supconWeight > 0) {
      at::Tensor s = supConPerRow(leaf, labels, o.supconTemperature);
      supcon = supcon.defined() ? supcon + s : s;
    }
    logProbs.push_back(at::log_softmax(logits, 1));
    leaves.push_back(leaf);
  }
  const double n = static_cast<double>(passes);
  at::Tensor perRow = ce / n;
  if (o.supconWeight > 0) perRow = (1.0 - o.supconWeight) * perRow + o.supconWeight * (supcon / n);
  if (o.rdropAlpha > 0 && passes == 2) {
    const at::Tensor& a = logProbs[0];
    const at::Tensor& b = logProbs[1];
    at::Tensor kl = ((a.exp() * (a - b)).sum(1) + (b.exp() * (b - a)).sum(1)) / 2.0;  // (S)
    perRow = perRow + o.rdropAlpha * kl;
  }
  ClassificationLoss out;
  out.lossSum = perRow.detach().to(at::kDouble).sum().item<double>();
  perRow.backward(at::full_like(perRow, gradScale));
  for (size_t i = 0; i < passes; ++i) out.gradPooled.push_back(leaves[i].grad().to(pooled[i].scalar_type()));
  out.gradWeight = w.grad();
  return out;
}

}  // namespace nq
