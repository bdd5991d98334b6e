// See heads.h.
#include "core/heads.h"

#include <ATen/CPUGeneratorImpl.h>

#include <string>

#include "core/errors.h"

namespace nq {

at::Tensor makeScoreWeight(int64_t numLabels, int64_t hidden, double std, uint64_t seed, at::Device device) {
  if (numLabels < 1) throw Error("INVALID_ARGUMENT", "numLabels must be at least 1, got " + std::to_string(numLabels));
  if (!(std > 0)) throw Error("INVALID_ARGUMENT", "the score head's init std must be positive, got " + std::to_string(std));
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::Tensor w = at::empty({numLabels, hidden}, at::TensorOptions().dtype(at::kFloat));
  w.normal_(0.0, std, generator);
  return w.to(device);
}

at::Tensor scoreForward(const at::Tensor& pooled, const at::Tensor& weight) {
  return at::linear(pooled.to(at::kFloat), weight);
}

}  // namespace nq
