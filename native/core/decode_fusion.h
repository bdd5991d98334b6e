// Whether decoding uses its fused kernels (the q/k/v step of decode_qkv.cpp, the adapters'
// kernel in linear.cpp, the attention step in attention.cpp). NQ_DECODE_FUSION=0 turns them off
// and runs the separate ops instead: for comparing the two on a GPU, read once per process.
#pragma once
#include <cstdlib>
#include <cstring>

namespace nq {

inline bool decodeFusionEnabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("NQ_DECODE_FUSION");
    return v == nullptr || std::strcmp(v, "0") != 0;
  }();
  return enabled;
}

}  // namespace nq
