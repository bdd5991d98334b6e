// See lora_files.h.
#include "addon/lora_files.h"

#include <map>

#include "core/errors.h"
#include "core/safetensors.h"

namespace nq::addon {

namespace {

void requireLora(const Model& model) {
  if (!model.hasLora()) throw Error("LORA_INVALID", "this model has no LoRA adapters; call addLora first");
}

// Every tensor of a safetensors file, in stored order, owned (not views over the read-only
// mapping: whatever keeps them may update them in place).
NamedTensors readAll(const std::string& file) {
  std::shared_ptr<st::File> f = st::File::open(file);
  NamedTensors out;
  for (const st::TensorInfo& t : f->tensors()) out.emplace_back(t.name, f->tensor(t.name).clone());
  return out;
}

}  // namespace

NamedTensors cpuCopies(const NamedTensors& tensors) {
  NamedTensors out;
  for (const auto& [name, t] : tensors) out.emplace_back(name, t.detach().to(at::kCPU, /*non_blocking=*/false, /*copy=*/true).contiguous());
  return out;
}

void saveAdapterFile(const Model& model, const std::string& file) {
  requireLora(model);
  st::write(file, cpuCopies(model.loraParameters()), {{"format", "pt"}});
}

void loadAdapterFile(Model& model, const std::string& file) {
  requireLora(model);
  NamedTensors tensors = readAll(file);
  for (const auto& [name, t] : tensors) st::requireFinite(t, name, file);  // WEIGHT_NONFINITE naming it
  model.setLoraTensors(tensors);
}

int64_t saveOptimizerFile(const Model& model, const std::string& file) {
  requireLora(model);
  const int64_t steps = model.optimizer().steps();
  st::write(file, cpuCopies(model.optimizerStateTensors()), {{"step", std::to_string(steps)}});
  return steps;
}

void loadOptimizerFile(Model& model, const std::string& file, int64_t step) {
  requireLora(model);
  model.setOptimizerState(step, readAll(file));
}

}  // namespace nq::addon
