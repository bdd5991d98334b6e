// Normalized architecture description (mirror of src/config/arch.ts ArchConfig). Family
// differences are switches and numbers here; the engine never branches on a family name.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nq {

enum class RopeType { Default, Linear, Llama3, LongRope };
enum class Activation { Silu, GeluTanh, Gelu };

struct RopeSpec {
  RopeType type = RopeType::Default;
  double theta = 10000.0;
  int64_t rotaryDim = 0;  // leading head dims that rotate
  double factor = 1.0;
  double lowFreqFactor = 1.0;
  double highFreqFactor = 4.0;
  int64_t originalMaxPositionEmbeddings = 0;
  std::vector<double> shortFactor;  // longrope, rotaryDim / 2 entries
  std::vector<double> longFactor;
  double attentionScaling = 1.0;
};

struct LayerSpec {
  int64_t slidingWindow = 0;  // 0 = full causal attention
  RopeSpec rope;
};

struct ArchSpec {
  std::string family;  // for messages only
  int64_t vocabSize = 0, hiddenSize = 0, intermediateSize = 0, numLayers = 0;
  int64_t numHeads = 0, numKvHeads = 0, headDim = 0, maxPositionEmbeddings = 0;
  double rmsNormEps = 1e-6;
  int normWeightOffset = 0;  // gemma: weights applied as (1 + w)
  Activation hiddenAct = Activation::Silu;
  double embedScale = 1.0;
  bool qkvBias = false, oBias = false, mlpBias = false;
  bool qkNorm = false, fusedQkv = false, fusedGateUp = false, sandwichNorms = false;
  double attnScale = 0.0;
  double attnLogitSoftcap = 0.0;   // 0 = none
  double finalLogitSoftcap = 0.0;  // 0 = none
  bool tieWordEmbeddings = false;
  std::vector<LayerSpec> layers;
  std::vector<std::string> weightPrefixes;
  std::vector<std::string> lmHeadNames;
};

}  // namespace nq
