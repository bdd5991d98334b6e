// Writes a copy of a 16-bit checkpoint with chosen linear weights stored 4-bit in
// bitsandbytes' Linear4bit layout (what `sft quantize` produces); every other tensor is
// copied as stored. Not here: which tensors to quantize or config.json (the TS layer decides).
#pragma once
#include <ATen/ATen.h>

#include <set>
#include <string>

#include "core/quant.h"

namespace nq {

struct CheckpointQuantizeStats {
  int64_t quantized = 0;  // weights written 4-bit
  int64_t copied = 0;     // tensors copied as stored
  int64_t bytesOut = 0;   // data bytes written
};

// Throws ST_MISSING when a name in `names` is not in the checkpoint, QUANT_INVALID when one is
// not a 2-D floating-point tensor.
CheckpointQuantizeStats quantizeCheckpoint(const std::string& srcDir, const std::string& outFile,
                                           const std::set<std::string>& names, quant::Type type,
                                           int64_t blocksize, bool doubleQuant, at::Device device);

}  // namespace nq
