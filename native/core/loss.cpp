// See loss.h.
#include "core/loss.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>

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

}  // namespace nq
