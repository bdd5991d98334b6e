// See model.h. Numerics follow transformers' eager path: RMSNorm in fp32 then cast, softmax
// in fp32, logits soft-capped in the compute dtype and returned as fp32.
#include "core/model.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "core/activation_store.h"
#include "core/errors.h"
#include "core/heads.h"
#include "core/loss.h"

namespace nq {

namespace {

std::string shapeString(at::IntArrayRef shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

// Reads weights from a checkpoint dir, checking each shape against what the config implies.
class WeightLoader {
 public:
  WeightLoader(const std::string& dir, at::Device device, at::ScalarType dtype, const LoadOptions& load)
      : ckpt_(st::Checkpoint::open(dir)), device_(device), dtype_(dtype), load_(load) {}

  bool has(const std::string& name) const { return ckpt_.has(name); }

  at::Tensor take(const std::string& name, std::vector<int64_t> expected) {
    if (!ckpt_.has(name)) {
      throw Error("WEIGHT_MISSING", "weight '" + name + "' (expected shape " + shapeString(expected) +
                                        ") is missing from the checkpoint in " + ckpt_.dir() +
                                        "; does config.json match these weights?");
    }
    const st::TensorInfo& info = ckpt_.info(name);
    if (info.shape != expected) {
      throw Error("WEIGHT_SHAPE", "weight '" + name + "' in " + ckpt_.dir() + " has shape " +
                                      shapeString(info.shape) + " but config.json implies " +
                                      shapeString(expected));
    }
    at::Tensor stored = ckpt_.get(name);
    at::Tensor t = stored.to(device_, dtype_, /*non_blocking=*/false, /*copy=*/true);
    st::requireFinite(t, name, ckpt_.fileOf(name), stored);
    return t;
  }

  at::Tensor takeIf(bool wanted, const std::string& name, std::vector<int64_t> expected) {
    return wanted ? take(name, std::move(expected)) : at::Tensor();
  }

  // A linear layer's weight: 4-bit as stored (bitsandbytes layout), 16-bit as stored, or
  // quantized on load, following LoadOptions.
  Linear takeLinear(const std::string& name, int64_t out, int64_t in, bool bias) {
    Linear l;
    const std::string weightName = name + ".weight";
    if (quant::isSerialized(ckpt_, weightName)) {
      quant::Weight4 w4 = quant::readSerialized(ckpt_, weightName);
      if (w4.shape != std::vector<int64_t>{out, in}) {
        throw Error("WEIGHT_SHAPE", "4-bit weight '" + weightName + "' in " + ckpt_.dir() + " has shape " +
                                        shapeString(w4.shape) + " but config.json implies " + shapeString({out, in}));
      }
      w4 = w4.to(device_);
      if (load_.dequantizeStored) {
        l.weight = quant::dequantize(w4, dtype_);
      } else {
        l.w4 = std::make_shared<quant::Weight4>(std::move(w4));
      }
    } else {
      l.weight = take(weightName, {out, in});
      if (load_.quant != LoadOptions::Quant::None) {
        const quant::Type type = load_.quant == LoadOptions::Quant::NF4 ? quant::Type::NF4 : quant::Type::FP4;
        l.w4 = std::make_shared<quant::Weight4>(quant::quantize(l.weight, type, load_.blocksize, load_.doubleQuant));
        l.weight = at::Tensor();
      }
    }
    if (bias) l.bias = take(name + ".bias", {out});
    return l;
  }

 private:
  st::Checkpoint ckpt_;
  at::Device device_;
  at::ScalarType dtype_;
  LoadOptions load_;
};


void requirePositive(int64_t v, const char* what) {
  if (v <= 0) throw Error("CONFIG_INVALID", std::string(what) + " must be positive, got " + std::to_string(v));
}

}  // namespace

Model::Model(const ArchSpec& arch, const std::string& dir, at::Device device, at::ScalarType dtype,
             const LoadOptions& load)
    : arch_(arch), device_(device), dtype_(dtype) {
  requirePositive(arch.vocabSize, "vocabSize");
  requirePositive(arch.hiddenSize, "hiddenSize");
  requirePositive(arch.numHeads, "numHeads");
  requirePositive(arch.numKvHeads, "numKvHeads");
  requirePositive(arch.headDim, "headDim");
  if (arch.numHeads % arch.numKvHeads != 0) {
    throw Error("CONFIG_INVALID", "numHeads (" + std::to_string(arch.numHeads) +
                                      ") must be a multiple of numKvHeads (" + std::to_string(arch.numKvHeads) + ")");
  }
  if (static_cast<int64_t>(arch.layers.size()) != arch.numLayers) {
    throw Error("CONFIG_INVALID", "layers lists " + std::to_string(arch.layers.size()) +
                                      " entries but numLayers is " + std::to_string(arch.numLayers));
  }

  WeightLoader w(dir, device, dtype, load);
  for (const std::string& p : arch.weightPrefixes) {
    if (w.has(p + "embed_tokens.weight")) {
      prefix_ = p;
      break;
    }
  }
  if (prefix_.empty() && !(arch.weightPrefixes.size() == 1 && arch.weightPrefixes[0].empty())) {
    std::string tried;
    for (const std::string& p : arch.weightPrefixes) tried += (tried.empty() ? "'" : ", '") + p + "embed_tokens.weight'";
    throw Error("WEIGHT_MISSING", "no embedding weight found in " + dir + " (looked for " + tried +
                                      "); is this a " + arch.family + " checkpoint?");
  }

  const int64_t C = arch.hiddenSize, D = arch.headDim, H = arch.numHeads, KV = arch.numKvHeads;
  const int64_t I = arch.intermediateSize, V = arch.vocabSize;
  embed_ = w.take(prefix_ + "embed_tokens.weight", {V, C});
  finalNorm_ = w.take(prefix_ + "norm.weight", {C});

  for (int64_t i = 0; i < arch.numLayers; ++i) {
    const std::string base = prefix_ + "layers." + std::to_string(i) + ".";
    const std::string attn = base + "self_attn.", mlp = base + "mlp.";
    DecoderLayer layer;
    if (arch.fusedQkv) {
      layer.qkv = w.takeLinear(attn + "qkv_proj", (H + 2 * KV) * D, C, arch.qkvBias);
    } else {
      layer.q = w.takeLinear(attn + "q_proj", H * D, C, arch.qkvBias);
      layer.k = w.takeLinear(attn + "k_proj", KV * D, C, arch.qkvBias);
      layer.v = w.takeLinear(attn + "v_proj", KV * D, C, arch.qkvBias);
    }
    layer.o = w.takeLinear(attn + "o_proj", C, H * D, arch.oBias);
    layer.qNorm = w.takeIf(arch.qkNorm, attn + "q_norm.weight", {D});
    layer.kNorm = w.takeIf(arch.qkNorm, attn + "k_norm.weight", {D});
    if (arch.fusedGateUp) {
      layer.gateUp = w.takeLinear(mlp + "gate_up_proj", 2 * I, C, arch.mlpBias);
    } else {
      layer.gate = w.takeLinear(mlp + "gate_proj", I, C, arch.mlpBias);
      layer.up = w.takeLinear(mlp + "up_proj", I, C, arch.mlpBias);
    }
    layer.down = w.takeLinear(mlp + "down_proj", C, I, arch.mlpBias);
    layer.inputNorm = w.take(base + "input_layernorm.weight", {C});
    layer.postAttnNorm = w.take(base + "post_attention_layernorm.weight", {C});
    layer.preFfnNorm = w.takeIf(arch.sandwichNorms, base + "pre_feedforward_layernorm.weight", {C});
    layer.postFfnNorm = w.takeIf(arch.sandwichNorms, base + "post_feedforward_layernorm.weight", {C});
    const RopeSpec& rope = arch.layers[i].rope;
    layer.ropeIndex = ropes_.size();
    for (size_t r = 0; r < ropes_.size(); ++r) {
      if (sameRope(ropes_[r]->spec(), rope)) layer.ropeIndex = r;
    }
    if (layer.ropeIndex == ropes_.size()) ropes_.push_back(std::make_unique<Rope>(rope));
    layer.slidingWindow = arch.layers[i].slidingWindow;
    layers_.push_back(std::move(layer));
  }

  if (arch.tieWordEmbeddings) {
    lmHead_ = embed_;
  } else {
    std::string found;
    for (const std::string& name : arch.lmHeadNames) {
      if (w.has(name)) {
        found = name;
        break;
      }
    }
    if (found.empty()) {
      std::string tried;
      for (const std::string& n : arch.lmHeadNames) tried += (tried.empty() ? "'" : ", '") + n + "'";
      throw Error("WEIGHT_MISSING", "lm_head weight (" + tried + ") is missing from " + dir +
                                        " and config.json says tie_word_embeddings is false");
    }
    lmHead_ = w.take(found, {V, C});
  }
  if (load.numLabels > 0) {
    // A *ForSequenceClassification checkpoint stores its head at the top level.
    score_ = w.has("score.weight") ? w.take("score.weight", {load.numLabels, C}).to(at::kFloat)
                                   : makeScoreWeight(load.numLabels, C, load.scoreInitStd, load.scoreSeed, device);
  }
}

namespace {
int64_t tensorBytes(const at::Tensor& t) { return t.defined() ? t.numel() * static_cast<int64_t>(t.element_size()) : 0; }
}  // namespace

int64_t Model::parameterCount() const {
  int64_t n = embed_.numel() + finalNorm_.numel() + (lmHead_.is_same(embed_) ? 0 : lmHead_.numel()) + (score_.defined() ? score_.numel() : 0);
  for (const DecoderLayer& l : layers_) {
    for (const Linear* lin : {&l.q, &l.k, &l.v, &l.o, &l.qkv, &l.gate, &l.up, &l.down, &l.gateUp}) n += lin->parameterCount();
    for (const at::Tensor* t : {&l.inputNorm, &l.postAttnNorm, &l.preFfnNorm, &l.postFfnNorm, &l.qNorm, &l.kNorm}) {
      if (t->defined()) n += t->numel();
    }
  }
  return n;
}

int64_t Model::parameterBytes() const {
  int64_t n = tensorBytes(embed_) + tensorBytes(finalNorm_) + (lmHead_.is_same(embed_) ? 0 : tensorBytes(lmHead_)) + tensorBytes(score_);
  for (const DecoderLayer& l : layers_) {
    for (const Linear* lin : {&l.q, &l.k, &l.v, &l.o, &l.qkv, &l.gate, &l.up, &l.down, &l.gateUp}) n += lin->bytes();
    for (const at::Tensor* t : {&l.inputNorm, &l.postAttnNorm, &l.preFfnNorm, &l.postFfnNorm, &l.qNorm, &l.kNorm}) n += tensorBytes(*t);
  }
  return n;
}

int64_t Model::quantizedLinears() const {
  int64_t n = 0;
  for (const DecoderLayer& l : layers_) {
    for (const Linear* lin : {&l.q, &l.k, &l.v, &l.o, &l.qkv, &l.gate, &l.up, &l.down, &l.gateUp}) n += lin->w4 ? 1 : 0;
  }
  return n;
}

int64_t Model::longRopeSwitchLength() const {
  for (const LayerSpec& l : arch_.layers) {
    if (l.rope.type == RopeType::LongRope) return l.rope.originalMaxPositionEmbeddings;
  }
  return 0;
}

KvCache Model::newCache(int64_t batch, int64_t capacity) const {
  KvCache cache;
  cache.capacity = capacity;
  auto opts = at::TensorOptions().device(device_).dtype(dtype_);
  for (size_t i = 0; i < layers_.size(); ++i) {
    // Zeros, not empty: a decoding step replayed from a CUDA graph reads the whole cache, and
    // a masked (zero-probability) key still multiplies its value: garbage NaN there is NaN out.
    cache.keys.push_back(at::zeros({batch, arch_.numKvHeads, capacity, arch_.headDim}, opts));
    cache.values.push_back(at::zeros({batch, arch_.numKvHeads, capacity, arch_.headDim}, opts));
  }
  cache.keyValid = at::zeros({batch, capacity}, at::TensorOptions().device(device_).dtype(at::kBool));
  return cache;
}

namespace {
// (B, 1, T, S) bool: causal by index, within the sliding window when window > 0, only real
// keys; a query always sees itself so padding rows stay finite.
at::Tensor buildMask(const at::Tensor& keyValid, int64_t offset, int64_t T, int64_t window) {
  const int64_t S = keyValid.size(1);
  auto longOpts = at::TensorOptions().device(keyValid.device()).dtype(at::kLong);
  at::Tensor qIdx = at::arange(offset, offset + T, longOpts).unsqueeze(1);  // (T, 1)
  at::Tensor kIdx = at::arange(0, S, longOpts).unsqueeze(0);                // (1, S)
  at::Tensor allowed = kIdx <= qIdx;
  if (window > 0) allowed = allowed & (kIdx > qIdx - window);
  allowed = allowed.unsqueeze(0) & keyValid.unsqueeze(1);  // (B, T, S)
  allowed = allowed | (kIdx == qIdx).unsqueeze(0);
  return allowed.unsqueeze(1);
}

// A one-token query's (B, 1, 1, S) bool mask as the additive bias (0 or -inf) that attention adds
// inside its score GEMM (attentionPadded): (B * KV, 1, S) in the compute dtype. Left bool when
// soft-capping sits between the scores and the mask.
at::Tensor decodingBias(const at::Tensor& allowed, const ArchSpec& arch, at::ScalarType dtype) {
  if (arch.attnLogitSoftcap > 0) return allowed;
  const int64_t B = allowed.size(0), S = allowed.size(-1), KV = arch.numKvHeads;
  at::Tensor bias = at::zeros({B, 1, 1, S}, allowed.options().dtype(dtype));
  bias.masked_fill_(allowed.logical_not(), -std::numeric_limits<double>::infinity());
  return bias.expand({B, KV, 1, S}).reshape({B * KV, 1, S});
}

// One mask per distinct window size of the layers, made by `build(window)`, shared by the
// layers that use it.
template <class Build>
std::vector<std::pair<int64_t, at::Tensor>> layerMasks(const std::vector<DecoderLayer>& layers, Build build) {
  std::vector<std::pair<int64_t, at::Tensor>> masks;
  for (const DecoderLayer& l : layers) {
    bool seen = false;
    for (const auto& m : masks) seen = seen || m.first == l.slidingWindow;
    if (!seen) masks.emplace_back(l.slidingWindow, build(l.slidingWindow));
  }
  return masks;
}
}  // namespace

RopeTables Model::ropeTables(const at::Tensor& positions) const {
  RopeTables tables;
  for (const auto& rope : ropes_) tables.push_back(rope->table(positions, dtype_));
  return tables;
}

at::Tensor Model::embedTokens(const at::Tensor& ids) const {
  at::Tensor h = at::embedding(embed_, ids);
  if (arch_.embedScale != 1.0) h = h * at::scalar_tensor(arch_.embedScale, h.options());
  return h;
}

at::Tensor Model::forward(const at::Tensor& ids, const at::Tensor& positions, const at::Tensor& valid,
                          KvCache* cache, bool lastOnly) const {
  const int64_t T = ids.size(1);
  const int64_t offset = cache ? cache->length : 0;
  if (cache && offset + T > cache->capacity) {
    throw Error("INVALID_ARGUMENT", "KV cache holds " + std::to_string(cache->capacity) +
                                        " positions; " + std::to_string(offset + T) + " were needed");
  }
  if (cache && offset == 0 && lastOnly && T > 1) {
    at::Tensor logits = prefillPacked(ids, positions, valid, *cache);
    if (logits.defined()) return logits;
  }
  at::Tensor keyValid;
  if (cache) {
    cache->keyValid.slice(1, offset, offset + T).copy_(valid);
    keyValid = cache->keyValid.slice(1, 0, offset + T);
  } else {
    keyValid = valid;
  }
  // One mask per distinct window size, shared by the layers that use it.
  std::vector<std::pair<int64_t, at::Tensor>> masks = layerMasks(layers_, [&](int64_t window) {
    at::Tensor mask = buildMask(keyValid, offset, T, window);
    return T == 1 ? decodingBias(mask, arch_, dtype_) : mask;
  });

  at::Tensor h = layersPadded(embedTokens(ids), ropeTables(positions), masks, cache, offset, at::Tensor());
  if (cache) cache->length = offset + T;

  if (lastOnly) h = h.slice(1, T - 1, T);
  return logitsOf(h);
}

// A prompt batch's first forward without padding: the valid tokens of every row one after
// another (the training step's layout: varlen flash attention with native GQA on CUDA, no mask,
// no padding computed), each token's key and value written to its padded cache position, so the
// decoding steps that follow read the cache as after a padded forward. Attention over a row's
// valid tokens in order is what the padded mask allows, so the logits are the padded forward's.
// Returns (B, 1, V) float32: each row's last valid token (with left padding, its last column).
at::Tensor Model::prefillPacked(const at::Tensor& ids, const at::Tensor& positions, const at::Tensor& valid,
                                KvCache& cache) const {
  at::Tensor last = lastHiddenPacked(ids, positions, valid, &cache);
  return last.defined() ? logitsOf(last.unsqueeze(1)) : last;
}

at::Tensor Model::lastHiddenPacked(const at::Tensor& ids, const at::Tensor& positions, const at::Tensor& valid,
                                   KvCache* cache) const {
  const int64_t B = ids.size(0), T = ids.size(1);
  const at::Tensor lensCpu = valid.sum(1).to(at::kCPU, at::kLong).contiguous();
  const std::vector<int64_t> lens(lensCpu.data_ptr<int64_t>(), lensCpu.data_ptr<int64_t>() + B);
  for (int64_t len : lens) {
    if (len < 1) return at::Tensor();
  }
  const at::Tensor flat = valid.reshape({-1}).nonzero().squeeze(1);  // (N): row by row, in order
  const PackedLayout layout = PackedLayout::from(lens, device_);
  const RopeTables tables = ropeTables(positions.reshape({-1}).index_select(0, flat));
  const at::Tensor row = at::floor_divide(flat, T), position = at::remainder(flat, T);
  // Every row full (one length, no padding): its tokens fill cache positions 0 .. T - 1 in order.
  const bool uniform = std::all_of(lens.begin(), lens.end(), [&](int64_t len) { return len == T; });
  at::Tensor h = embedTokens(ids.reshape({-1}).index_select(0, flat));  // (N, C)
  for (size_t i = 0; i < layers_.size(); ++i) {
    PackedCacheWrite write;
    if (cache) write = {cache->keys[i], cache->values[i], row, position, uniform ? T : 0};
    h = decoderForwardPacked(arch_, layers_[i], ropeOf(layers_[i]), h, layout, tables, /*dropout=*/nullptr,
                             /*saved=*/nullptr, /*outputNeeded=*/true, cache ? &write : nullptr);
  }
  if (cache) {
    cache->keyValid.slice(1, 0, T).copy_(valid);
    cache->length = T;
  }
  const at::Tensor last = layout.cuSeqlens.slice(0, 1).to(at::kLong) - 1;  // (B): each run's last token
  return h.index_select(0, last);
}

at::Tensor Model::classifyForward(const at::Tensor& ids, const at::Tensor& positions, const at::Tensor& valid) const {
  if (!hasScoreHead()) {
    throw Error("INVALID_ARGUMENT", "classifyForward: this model has no score head; load it with numLabels to classify");
  }
  at::Tensor last = lastHiddenPacked(ids, positions, valid, nullptr);  // (B, C)
  if (!last.defined()) {
    const int64_t row = valid.sum(1).eq(0).nonzero()[0][0].item<int64_t>();
    throw Error("INVALID_ARGUMENT", "row " + std::to_string(row) +
                                        " has no token (its attention mask is all 0); a row needs at least one token to classify");
  }
  return scoreForward(rmsNorm(last, finalNorm_, arch_.rmsNormEps, arch_.normWeightOffset != 0), score_);
}

at::Tensor Model::layersPadded(at::Tensor h, const RopeTables& tables,
                               const std::vector<std::pair<int64_t, at::Tensor>>& masks, KvCache* cache, int64_t start,
                               const at::Tensor& slot) const {
  at::Tensor residual;  // each layer's output is h + residual, added by the next layer's input norm
  for (size_t i = 0; i < layers_.size(); ++i) {
    const DecoderLayer& l = layers_[i];
    const at::Tensor* mask = nullptr;
    for (const auto& m : masks) {
      if (m.first == l.slidingWindow) mask = &m.second;
    }
    LayerCache layerCache;
    if (cache) layerCache = {cache->keys[i], cache->values[i], start, slot};
    PaddedLayerOutput out = decoderForwardPadded(arch_, l, ropeOf(l), h, residual, tables, *mask, cache ? &layerCache : nullptr);
    h = out.h1;
    residual = out.delta;
  }
  return residual.defined() ? h + residual : h;
}

at::Tensor Model::logitsOf(const at::Tensor& h) const {
  at::Tensor logits = at::linear(rmsNorm(h, finalNorm_, arch_.rmsNormEps, arch_.normWeightOffset != 0), lmHead_);
  if (arch_.finalLogitSoftcap > 0) {
    logits = at::tanh(logits / arch_.finalLogitSoftcap) * arch_.finalLogitSoftcap;
  }
  return logits.to(at::kFloat);
}

at::Tensor Model::decodeStep(const at::Tensor& ids, const at::Tensor& positions, const at::Tensor& slot,
                             KvCache& cache) const {
  cache.keyValid.index_fill_(1, slot, true);
  // (B, 1, 1, capacity) per window: the filled keys (left padding excluded), within the window.
  at::Tensor keyIndex = at::arange(cache.capacity, slot.options()).unsqueeze(0);
  std::vector<std::pair<int64_t, at::Tensor>> masks = layerMasks(layers_, [&](int64_t window) {
    at::Tensor allowed = cache.keyValid;
    if (window > 0) allowed = allowed & (keyIndex > slot - window);
    return decodingBias(allowed.view({allowed.size(0), 1, 1, cache.capacity}), arch_, dtype_);
  });
  at::Tensor h = layersPadded(embedTokens(ids), ropeTables(positions), masks, &cache, 0, slot);
  return logitsOf(h).select(1, 0);
}

// ---------------------------------------------------------------------------------------------
// LoRA training

namespace {

// A decoder layer's linear modules in the order their parameters appear in transformers'
// modules (and so in peft's parameter list): name, group in the module path, member.
struct LinearSlot {
  const char* name;
  const char* group;
  Linear DecoderLayer::*member;
};
constexpr LinearSlot kLinearSlots[] = {
    {"q_proj", "self_attn", &DecoderLayer::q},       {"k_proj", "self_attn", &DecoderLayer::k},
    {"v_proj", "self_attn", &DecoderLayer::v},       {"o_proj", "self_attn", &DecoderLayer::o},
    {"qkv_proj", "self_attn", &DecoderLayer::qkv},   {"gate_proj", "mlp", &DecoderLayer::gate},
    {"up_proj", "mlp", &DecoderLayer::up},           {"gate_up_proj", "mlp", &DecoderLayer::gateUp},
    {"down_proj", "mlp", &DecoderLayer::down},
};

const std::string kPeftPrefix = "base_model.model.";

// Sets Model::training_ for the duration of a training step, also when it throws.
class TrainingScope {
 public:
  explicit TrainingScope(bool& flag) : flag_(flag) { flag_ = true; }
  ~TrainingScope() { flag_ = false; }
  TrainingScope(const TrainingScope&) = delete;
  TrainingScope& operator=(const TrainingScope&) = delete;

 private:
  bool& flag_;
};

at::Tensor generatorState(std::optional<at::Generator>& g) {
  if (!g) return at::Tensor();
  std::lock_guard<std::mutex> lock(g->mutex());
  return g->get_state();
}

void restoreGenerator(std::optional<at::Generator>& g, const at::Tensor& state) {
  if (!g || !state.defined()) return;
  std::lock_guard<std::mutex> lock(g->mutex());
  g->set_state(state);
}

// Checks that `tensors` holds exactly `expected` names with the expected shapes; returns them
// keyed by name. `what` names the kind of tensor in messages.
std::map<std::string, at::Tensor> matchTensors(const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                                               const std::vector<std::pair<std::string, at::Tensor>>& expected,
                                               const std::string& what) {
  std::map<std::string, const at::Tensor*> wanted;
  for (const auto& [name, t] : expected) wanted[name] = &t;
  std::map<std::string, at::Tensor> got;
  for (const auto& [name, t] : tensors) {
    auto it = wanted.find(name);
    if (it == wanted.end()) {
      throw Error("LORA_INVALID", what + " '" + name + "' does not belong to this model's adapters (expected names like '" +
                                      (expected.empty() ? std::string("?") : expected.front().first) +
                                      "'); were the adapters added with the same targets and layers?");
    }
    if (t.sizes() != it->second->sizes()) {
      throw Error("LORA_INVALID", what + " '" + name + "' has shape " + shapeString(t.sizes()) + " but the adapter has shape " +
                                      shapeString(it->second->sizes()) + "; was it trained with the same rank r?");
    }
    if (!at::isFloatingType(t.scalar_type())) {
      throw Error("LORA_INVALID", what + " '" + name + "' must hold floating-point values");
    }
    got[name] = t;
  }
  for (const auto& [name, t] : expected) {
    if (!got.count(name)) {
      throw Error("LORA_INVALID", what + " '" + name + "' is missing (" + std::to_string(got.size()) + " of " +
                                      std::to_string(expected.size()) + " given)");
    }
  }
  return got;
}

}  // namespace

std::vector<std::string> Model::addLora(const LoraOptions& o) {
  if (hasLora()) throw Error("LORA_INVALID", "this model already has LoRA adapters; load the model again to add different ones");
  if (!std::isfinite(o.alpha)) throw Error("LORA_INVALID", "LoRA alpha must be a finite number");
  const double scaling = loraScaling(o.r, o.alpha, o.useRslora);
  if (!(o.dropout >= 0.0 && o.dropout < 1.0)) {
    throw Error("LORA_INVALID", "LoRA dropout must be in [0, 1), got " + std::to_string(o.dropout));
  }
  if (o.targets.empty()) throw Error("LORA_INVALID", "LoRA targets: expected at least one module name such as 'q_proj'");
  std::set<std::string> targets;
  for (const std::string& t : o.targets) {
    bool known = false;
    for (const LinearSlot& slot : kLinearSlots) known = known || t == slot.name;
    if (!known) {
      std::string names;
      for (const LinearSlot& slot : kLinearSlots) names += (names.empty() ? "" : ", ") + std::string(slot.name);
      throw Error("LORA_INVALID", "LoRA target '" + t + "' is not a linear module of a decoder layer; expected one of " + names);
    }
    targets.insert(t);
  }
  const int64_t L = static_cast<int64_t>(layers_.size());
  std::vector<bool> chosen(layers_.size(), o.layers.empty());
  for (int64_t i : o.layers) {
    if (i < 0 || i >= L) {
      throw Error("LORA_INVALID", "LoRA layer index " + std::to_string(i) + " is out of range; this model has " +
                                      std::to_string(L) + " decoder layers (0.." + std::to_string(L - 1) + ")");
    }
    chosen[static_cast<size_t>(i)] = true;
  }

  at::Generator init = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  std::vector<std::string> modules;
  std::vector<std::pair<std::string, at::Tensor>> params;
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (!chosen[i]) continue;
    for (const LinearSlot& slot : kLinearSlots) {
      Linear& lin = layers_[i].*slot.member;
      if (!lin.defined() || !targets.count(slot.name)) continue;
      lin.lora = std::make_shared<LoraAdapter>(
          makeLoraAdapter(lin.inFeatures(), lin.outFeatures(), o.r, scaling, o.dropout, init, device_));
      const std::string module = prefix_ + "layers." + std::to_string(i) + "." + slot.group + "." + slot.name;
      modules.push_back(module);
      params.emplace_back(kPeftPrefix + module + ".lora_A.weight", lin.lora->A);
      params.emplace_back(kPeftPrefix + module + ".lora_B.weight", lin.lora->B);
    }
  }
  if (modules.empty()) {
    std::string asked;
    for (const std::string& t : o.targets) asked += (asked.empty() ? "'" : ", '") + t + "'";
    throw Error("LORA_INVALID", "LoRA targets " + asked + " match no linear layer of this " + arch_.family +
                                    " model" + (arch_.fusedQkv ? " (it fuses qkv_proj and gate_up_proj)" : ""));
  }
  if (score_.defined()) params.emplace_back(kPeftPrefix + "score.weight", score_);
  loraParams_ = std::move(params);
  optimizer_ = AdamW([&] {
    std::vector<at::Tensor> ps;
    for (const auto& p : loraParams_) ps.push_back(p.second);
    return ps;
  }());
  if (device_.is_cpu()) {
    dropoutGenerator_ = at::make_generator<at::CPUGeneratorImpl>(o.dropoutSeed.value_or(o.seed));
  } else {
    at::Generator g = at::globalContext().defaultGenerator(device_).clone();
    std::lock_guard<std::mutex> lock(g.mutex());
    g.set_current_seed(o.dropoutSeed.value_or(o.seed));
    dropoutGenerator_ = g;
  }
  return modules;
}

int64_t Model::loraParameterCount() const {
  int64_t n = 0;
  for (const auto& p : loraParams_) n += p.second.numel();
  return n;
}

void Model::setLoraTensors(const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  if (!hasLora()) throw Error("LORA_INVALID", "this model has no LoRA adapters; call addLora first");
  std::map<std::string, at::Tensor> got = matchTensors(tensors, loraParams_, "LoRA tensor");
  at::NoGradGuard noGrad;
  for (auto& [name, param] : loraParams_) param.copy_(got.at(name));
}

namespace {
// A packed batch's sequence lengths, checked against its N tokens; `what` names the step.
std::vector<int64_t> packedLengths(const at::Tensor& ids, const at::Tensor& seqLens, const char* what) {
  const at::Tensor lens = seqLens.to(at::kCPU, at::kLong).contiguous();
  const int64_t N = ids.numel(), S = lens.numel();
  if (ids.dim() != 1 || S == 0 || lens.min().item<int64_t>() < 1 || lens.sum().item<int64_t>() != N) {
    throw Error("INVALID_ARGUMENT", std::string(what) + ": seqLens must be positive and sum to the " + std::to_string(N) +
                                        " tokens of ids");
  }
  return std::vector<int64_t>(lens.data_ptr<int64_t>(), lens.data_ptr<int64_t>() + S);
}
}  // namespace

TrainStepResult Model::trainStep(const PackedBatch& batch, double lossScale, bool checkpointing) {
  if (!hasLora()) throw Error("LORA_INVALID", "this model has no LoRA adapters to train; call addLora first");
  if (batch.ids.dim() != 1 || batch.labels.dim() != 1 || batch.labels.numel() != batch.ids.numel()) {
    throw Error("INVALID_ARGUMENT", "trainStep: ids " + shapeString(batch.ids.sizes()) + " and labels " +
                                        shapeString(batch.labels.sizes()) + " must be 1-D of the same length");
  }
  const std::vector<int64_t> lengths = packedLengths(batch.ids, batch.seqLens, "trainStep");
  TrainingScope training(training_);
  at::NoGradGuard noGrad;  // the backward below is written by hand
  const at::Tensor ids = batch.ids.to(device_, at::kLong);

  // The target of token t is labels[t + 1] of the same sequence; a sequence's last token has none.
  at::Tensor shifted = at::cat({batch.labels.to(at::kCPU, at::kLong).slice(0, 1), at::full({1}, -100, at::kLong)});
  {
    int64_t* sh = shifted.data_ptr<int64_t>();
    int64_t end = 0;
    for (int64_t len : lengths) sh[(end += len) - 1] = -100;
  }
  at::Tensor countedCpu = shifted.ne(-100).nonzero().squeeze(1);  // (n)
  TrainStepResult result;
  result.tokens = countedCpu.size(0);
  if (result.tokens == 0) return result;
  const at::Tensor counted = countedCpu.to(device_);
  const at::Tensor targets = shifted.index_select(0, countedCpu).to(device_);

  const bool plusOne = arch_.normWeightOffset != 0;
  // Final norm and chunked loss on the positions with a target: final hidden (N, C) -> its gradient.
  packedStep(ids, lengths, 1, checkpointing, [&](const std::vector<at::Tensor>& hidden) {
    at::Tensor selected = hidden[0].index_select(0, counted);  // (n, C)
    NormOutput normed = rmsNormForward(selected, finalNorm_, arch_.rmsNormEps, plusOne);
    ChunkedLoss loss = chunkedCrossEntropy(normed.y, targets, lmHead_, arch_.finalLogitSoftcap, lossScale,
                                           defaultLossChunkRows(arch_.vocabSize));
    result.lossSum = loss.lossSum;
    at::Tensor grad = at::zeros_like(hidden[0]);
    grad.index_copy_(0, counted, rmsNormBackward(loss.gradHidden, selected, finalNorm_, normed.rstd, plusOne));
    return std::vector<at::Tensor>{grad};
  });
  return result;
}

TrainStepResult Model::classifyStep(const ClassifyBatch& batch, const ClassifyStepOptions& o) {
  if (!hasScoreHead()) throw Error("INVALID_ARGUMENT", "classifyStep: this model has no score head; load it with numLabels");
  if (!hasLora()) throw Error("LORA_INVALID", "this model has no LoRA adapters to train; call addLora first");
  const std::vector<int64_t> lengths = packedLengths(batch.ids, batch.seqLens, "classifyStep");
  const int64_t S = static_cast<int64_t>(lengths.size());
  const at::Tensor labelsCpu = batch.labels.to(at::kCPU, at::kLong);
  if (labelsCpu.dim() != 1 || labelsCpu.numel() != S) {
    throw Error("INVALID_ARGUMENT", "classifyStep: expected one label per sequence (" + std::to_string(S) + ") but received " +
                                        std::to_string(labelsCpu.numel()));
  }
  if (labelsCpu.min().item<int64_t>() < 0 || labelsCpu.max().item<int64_t>() >= numLabels()) {
    throw Error("INVALID_ARGUMENT", "classifyStep: labels must be class indices in [0, " + std::to_string(numLabels()) + ")");
  }
  const ClassificationLossOptions& lo = o.loss;
  if (!(lo.rdropAlpha >= 0) || !(lo.supconWeight >= 0 && lo.supconWeight <= 1) ||
      (lo.supconWeight > 0 && !(lo.supconTemperature > 0))) {
    throw Error("INVALID_ARGUMENT", "classifyStep: rdropAlpha must be >= 0, supconWeight in [0, 1] and supconTemperature > 0");
  }
  TrainingScope training(training_);
  at::NoGradGuard noGrad;  // the backward below is written by hand
  const at::Tensor ids = batch.ids.to(device_, at::kLong);
  const at::Tensor labels = labelsCpu.to(device_);
  const at::Tensor last = (at::tensor(lengths, at::kLong).cumsum(0) - 1).to(device_);  // (S): each sequence's last token
  const bool plusOne = arch_.normWeightOffset != 0;
  TrainStepResult result;
  result.tokens = S;
  const size_t passes = lo.rdropAlpha > 0 ? 2 : 1;
  packedStep(ids, lengths, passes, o.checkpointing, [&](const std::vector<at::Tensor>& hidden) {
    std::vector<at::Tensor> selected, pooled, rstd;
    for (const at::Tensor& h : hidden) {
      selected.push_back(h.index_select(0, last));  // (S, C)
      NormOutput normed = rmsNormForward(selected.back(), finalNorm_, arch_.rmsNormEps, plusOne);
      pooled.push_back(normed.y);
      rstd.push_back(normed.rstd);
    }
    ClassificationLoss loss = classificationLoss(pooled, score_, labels, lo, o.lossScale);
    result.lossSum = loss.lossSum;
    at::Tensor& headGrad = score_.mutable_grad();
    headGrad = headGrad.defined() ? headGrad.add_(loss.gradWeight) : loss.gradWeight;
    std::vector<at::Tensor> grads;
    for (size_t p = 0; p < hidden.size(); ++p) {
      at::Tensor grad = at::zeros_like(hidden[p]);
      grad.index_copy_(0, last, rmsNormBackward(loss.gradPooled[p], selected[p], finalNorm_, rstd[p], plusOne));
      grads.push_back(grad);
    }
    return grads;
  });
  return result;
}

void Model::packedStep(const at::Tensor& ids, const std::vector<int64_t>& lengths, size_t passes, bool checkpointing,
                       const LossBackward& lossBackward) {
  const PackedLayout layout = PackedLayout::from(lengths, device_);
  const RopeTables tables = ropeTables(layout.positions);
  at::Generator* dropout = dropoutGenerator_ ? &*dropoutGenerator_ : nullptr;

  // Layers below the first adapter hold nothing to train: no gradient flows into them.
  size_t firstAdapted = layers_.size();
  for (size_t i = 0; i < layers_.size() && firstAdapted == layers_.size(); ++i) {
    for (const LinearSlot& slot : kLinearSlots) {
      if ((layers_[i].*slot.member).lora) firstAdapted = i;
    }
  }
  auto forward = [&](size_t i, const at::Tensor& x, DecoderSaved* saved, bool outputNeeded = true) {
    return decoderForwardPacked(arch_, layers_[i], ropeOf(layers_[i]), x, layout, tables, dropout, saved, outputNeeded);
  };
  auto backward = [&](size_t i, const at::Tensor& grad, DecoderSaved& saved) {
    return decoderBackwardPacked(arch_, layers_[i], ropeOf(layers_[i]), grad, layout, tables, saved,
                                 /*needInputGrad=*/i > firstAdapted);
  };

  const at::Tensor embedded = embedTokens(ids);
  std::vector<at::Tensor> finals(passes);
  if (!checkpointing) {
    std::vector<std::vector<DecoderSaved>> saved(passes, std::vector<DecoderSaved>(layers_.size()));
    for (size_t p = 0; p < passes; ++p) {
      at::Tensor h = embedded;
      for (size_t i = 0; i < layers_.size(); ++i) h = forward(i, h, i >= firstAdapted ? &saved[p][i] : nullptr);
      finals[p] = h;
    }
    std::vector<at::Tensor> grads = lossBackward(finals);
    finals.clear();
    for (size_t p = passes; p-- > 0;) {
      at::Tensor grad = std::move(grads[p]);
      for (size_t i = layers_.size(); i-- > firstAdapted;) grad = backward(i, grad, saved[p][i]);
    }
    return;
  }

  // Gradient checkpointing: keep only each layer's input (in pinned host memory on CUDA), then
  // recompute one layer at a time during backward, with the dropout generator rewound so the
  // masks repeat.
  std::vector<std::unique_ptr<ActivationStore>> inputs;
  std::vector<std::vector<at::Tensor>> rngStates(passes, std::vector<at::Tensor>(layers_.size()));
  for (size_t p = 0; p < passes; ++p) {
    inputs.push_back(std::make_unique<ActivationStore>(layers_.size(), /*offload=*/device_.is_cuda()));
    at::Tensor h = embedded;
    for (size_t i = 0; i < layers_.size(); ++i) {
      if (i >= firstAdapted) inputs[p]->put(i, h);
      rngStates[p][i] = generatorState(dropoutGenerator_);
      h = forward(i, h, nullptr);
    }
    finals[p] = h;
  }
  const at::Tensor rngAfterForward = generatorState(dropoutGenerator_);
  std::vector<at::Tensor> grads = lossBackward(finals);
  finals.clear();
  for (size_t p = passes; p-- > 0;) {
    at::Tensor grad = std::move(grads[p]);
    for (size_t i = layers_.size(); i-- > firstAdapted;) {
      at::Tensor input = inputs[p]->take(i);
      if (i > firstAdapted) inputs[p]->prefetch(i - 1);  // comes back while this layer computes
      restoreGenerator(dropoutGenerator_, rngStates[p][i]);
      DecoderSaved saved;
      forward(i, input, &saved, /*outputNeeded=*/false);
      input = at::Tensor();
      grad = backward(i, grad, saved);
    }
  }
  restoreGenerator(dropoutGenerator_, rngAfterForward);
}

void Model::zeroGrad() {
  for (auto& p : loraParams_) p.second.mutable_grad().reset();
}

std::vector<std::pair<std::string, at::Tensor>> Model::gradients() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& [name, p] : loraParams_) {
    out.emplace_back(name, p.grad().defined() ? p.grad().detach() : at::zeros_like(p).detach());
  }
  return out;
}

OptimizerStepResult Model::optimizerStep(const OptimizerStepOptions& o) {
  if (!hasLora()) throw Error("LORA_INVALID", "this model has no LoRA adapters to update; call addLora first");
  std::vector<at::Tensor> params, grads;
  bool any = false;
  for (const auto& [name, p] : loraParams_) {
    params.push_back(p);
    any = any || p.grad().defined();
  }
  if (!any) {
    throw Error("NO_GRADIENTS", "optimizerStep: no gradients have accumulated since the last step; run trainStep on a "
                                "batch with at least one labelled token first");
  }
  for (const at::Tensor& p : params) grads.push_back(p.grad().defined() ? p.grad() : at::zeros_like(p));
  at::Tensor norm = totalGradNorm(grads);
  const double gradNorm = norm.item<double>();
  if (o.skipNonFinite && !std::isfinite(gradNorm)) {
    zeroGrad();
    return {gradNorm, false};
  }
  if (o.maxGradNorm > 0) clipGradsWithNorm(grads, o.maxGradNorm, norm);
  optimizer_.step(params, grads, o.adamw);
  zeroGrad();
  return {gradNorm, true};
}

at::Tensor Model::dropoutRngState() const {
  for (const DecoderLayer& layer : layers_) {
    for (const LinearSlot& slot : kLinearSlots) {
      const Linear& lin = layer.*slot.member;
      if (lin.lora && lin.lora->dropout > 0) return generatorState(dropoutGenerator_);
    }
  }
  return at::Tensor();  // no dropout: the generator is never drawn from
}

namespace {
// The optimizer state's tensor names: the one place they are spelled.
const std::string kExpAvg = "exp_avg.", kExpAvgSq = "exp_avg_sq.", kDropoutRng = "rng.dropout";
}  // namespace

std::vector<std::pair<std::string, at::Tensor>> Model::optimizerStateTensors() const {
  if (!hasLora()) throw Error("LORA_INVALID", "this model has no LoRA adapters; call addLora first");
  std::vector<std::pair<std::string, at::Tensor>> named;
  for (size_t i = 0; i < loraParams_.size(); ++i) named.emplace_back(kExpAvg + loraParams_[i].first, optimizer_.expAvg()[i]);
  for (size_t i = 0; i < loraParams_.size(); ++i) named.emplace_back(kExpAvgSq + loraParams_[i].first, optimizer_.expAvgSq()[i]);
  if (at::Tensor rng = dropoutRngState(); rng.defined()) named.emplace_back(kDropoutRng, rng);
  return named;
}

void Model::setOptimizerState(int64_t steps, const std::vector<std::pair<std::string, at::Tensor>>& all) {
  if (!hasLora()) throw Error("LORA_INVALID", "this model has no LoRA adapters; call addLora first");
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  at::Tensor rng;
  for (const auto& [name, t] : all) {
    if (name == kDropoutRng) rng = t;
    else tensors.emplace_back(name, t);
  }
  std::vector<std::pair<std::string, at::Tensor>> expected;
  for (const auto& [name, p] : loraParams_) expected.emplace_back(kExpAvg + name, p);
  for (const auto& [name, p] : loraParams_) expected.emplace_back(kExpAvgSq + name, p);
  std::map<std::string, at::Tensor> got = matchTensors(tensors, expected, "optimizer tensor");
  std::vector<at::Tensor> avg, avgSq;
  for (const auto& [name, p] : loraParams_) {
    avg.push_back(got.at(kExpAvg + name).to(p.device(), at::kFloat));
    avgSq.push_back(got.at(kExpAvgSq + name).to(p.device(), at::kFloat));
  }
  optimizer_.setState(steps, avg, avgSq);
  if (rng.defined()) restoreGenerator(dropoutGenerator_, rng.to(at::kCPU, at::kByte).contiguous());
}

std::vector<std::pair<std::string, at::Tensor>> Model::mergedCheckpoint(const std::string& srcDir) const {
  at::NoGradGuard noGrad;
  std::map<std::string, const LoraAdapter*> adapted;  // weight name -> its adapter
  for (size_t i = 0; i < layers_.size(); ++i) {
    for (const LinearSlot& slot : kLinearSlots) {
      const Linear& lin = layers_[i].*slot.member;
      if (lin.lora) {
        adapted[prefix_ + "layers." + std::to_string(i) + "." + slot.group + "." + slot.name + ".weight"] = lin.lora.get();
      }
    }
  }
  if (adapted.empty()) throw Error("LORA_INVALID", "mergeAdapter: the model has no LoRA adapter to merge");
  st::Checkpoint ckpt = st::Checkpoint::open(srcDir);
  const std::vector<std::string> names = ckpt.names();
  std::set<std::string> companions;
  for (const std::string& name : names) {
    if (!quant::isSerialized(ckpt, name)) continue;
    for (const char* suffix : {".absmax", ".quant_map", ".nested_absmax", ".nested_quant_map",
                               ".quant_state.bitsandbytes__nf4", ".quant_state.bitsandbytes__fp4"}) {
      companions.insert(name + suffix);
    }
  }
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const std::string& name : names) {
    if (companions.count(name)) continue;
    at::Tensor w;
    at::ScalarType stored;
    if (quant::isSerialized(ckpt, name)) {
      quant::Weight4 w4 = quant::readSerialized(ckpt, name);
      stored = w4.dtype;
      w = quant::dequantize(w4.to(device_), at::kFloat);
    } else {
      w = ckpt.get(name);
      stored = w.scalar_type();
    }
    auto it = adapted.find(name);
    if (it != adapted.end()) {
      const LoraAdapter& a = *it->second;
      at::Tensor delta = at::matmul(a.B.to(at::kFloat), a.A.to(at::kFloat)) * a.scaling;
      w = w.to(device_, at::kFloat) + delta;
      adapted.erase(it);
    }
    out.emplace_back(name, w.to(at::kCPU, stored).contiguous());
  }
  if (!adapted.empty()) {
    throw Error("LORA_INVALID", "mergeAdapter: weight '" + adapted.begin()->first + "' of an adapted module is not in " + srcDir);
  }
  // A classifier's trained head, where *ForSequenceClassification reads it (replacing the one it held).
  if (score_.defined()) {
    out.erase(std::remove_if(out.begin(), out.end(), [](const auto& t) { return t.first == "score.weight"; }), out.end());
    out.emplace_back("score.weight", score_.detach().to(at::kCPU).contiguous());  // fp32, as trained
  }
  return out;
}

}  // namespace nq
