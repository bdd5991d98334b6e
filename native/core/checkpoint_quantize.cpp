// See checkpoint_quantize.h.
#include "core/checkpoint_quantize.h"

#include <utility>
#include <vector>

#include <ATen/core/grad_mode.h>

#include "core/errors.h"
#include "core/safetensors.h"

namespace nq {

CheckpointQuantizeStats quantizeCheckpoint(const std::string& srcDir, const std::string& outFile,
                                           const std::set<std::string>& names, quant::Type type,
                                           int64_t blocksize, bool doubleQuant, at::Device device) {
  at::NoGradGuard noGrad;
  st::Checkpoint ckpt = st::Checkpoint::open(srcDir);
  for (const std::string& name : names) ckpt.info(name);  // ST_MISSING names the first absent one
  CheckpointQuantizeStats stats;
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const std::string& name : ckpt.names()) {
    at::Tensor t = ckpt.get(name);
    if (names.count(name) == 0) {
      out.emplace_back(name, t);
      stats.copied++;
      continue;
    }
    if (t.dim() != 2 || !at::isFloatingType(t.scalar_type())) {
      throw Error("QUANT_INVALID", "tensor '" + name + "' in " + srcDir +
                                       " is not a 2-D floating-point weight and cannot be stored 4-bit");
    }
    quant::Weight4 w4 = quant::quantize(t.to(device), type, blocksize, doubleQuant);
    quant::appendSerialized(out, name, w4);
    stats.quantized++;
  }
  for (const auto& [name, t] : out) stats.bytesOut += t.numel() * static_cast<int64_t>(t.element_size());
  st::write(outFile, out, {{"format", "pt"}});
  return stats;
}

}  // namespace nq
