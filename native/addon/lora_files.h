// The files of a LoRA run, written and read by native code on the model's worker thread (the
// tensors never cross into JS): peft's adapter_model.safetensors and our optimizer.safetensors.
// The optimizer-state names ("exp_avg.<peft name>", "exp_avg_sq.<peft name>", "rng.dropout")
// are spelled once, in core (Model::optimizerStateTensors / setOptimizerState).
// Not here: adapter_config.json and trainer_state.json (TypeScript writes those small files).
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/model.h"

namespace nq::addon {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// Contiguous CPU copies (taken where the tensors live, i.e. on the worker).
NamedTensors cpuCopies(const NamedTensors& tensors);

// Every adapter tensor under its peft name, in parameter order, metadata {"format": "pt"}:
// the bytes peft's save_pretrained layout expects and earlier versions of ours wrote.
void saveAdapterFile(const Model& model, const std::string& file);
// Replaces every adapter tensor with the file's (any float dtype); LORA_INVALID names a missing,
// unexpected or misshapen tensor and changes nothing; WEIGHT_NONFINITE names one holding NaN / Inf.
void loadAdapterFile(Model& model, const std::string& file);

// AdamW moments (+ the dropout generator when dropout > 0), metadata {"step": "<optimizer steps>"}.
// Returns the optimizer step count written.
int64_t saveOptimizerFile(const Model& model, const std::string& file);
// Restores the moments saved by saveOptimizerFile as of optimizer step `step`.
void loadOptimizerFile(Model& model, const std::string& file, int64_t step);

}  // namespace nq::addon
