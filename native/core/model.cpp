// See model.h. Numerics follow transformers' eager path: RMSNorm in fp32 then cast, softmax
// in fp32, logits soft-capped in the compute dtype and returned as fp32.
#include "core/model.h"

#include <ATen/core/grad_mode.h>

#include <sstream>

#include "core/errors.h"

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
    return ckpt_.get(name).to(device_, dtype_, /*non_blocking=*/false, /*copy=*/true);
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

  const st::Checkpoint& checkpoint() const { return ckpt_; }

 private:
  st::Checkpoint ckpt_;
  at::Device device_;
  at::ScalarType dtype_;
  LoadOptions load_;
};

Linear loadLinear(WeightLoader& w, const std::string& name, int64_t out, int64_t in, bool bias) {
  return w.takeLinear(name, out, in, bias);
}

void requirePositive(int64_t v, const char* what) {
  if (v <= 0) throw Error("CONFIG_INVALID", std::string(what) + " must be positive, got " + std::to_string(v));
}

}  // namespace

at::Tensor Linear::operator()(const at::Tensor& x) const {
  if (!w4) return at::linear(x, weight, bias);
  const int64_t rows = x.numel() / x.size(-1);
  if (rows <= 8 && x.is_cuda() && !at::GradMode::is_enabled()) {
    at::Tensor y = quant::gemv(x, *w4);
    return bias.defined() ? y + bias : y;
  }
  return at::linear(x, quant::dequantize(*w4, x.scalar_type()), bias);
}

int64_t Linear::parameterCount() const {
  int64_t n = bias.defined() ? bias.numel() : 0;
  if (weight.defined()) n += weight.numel();
  if (w4) n += w4->numel();
  return n;
}

int64_t Linear::bytes() const {
  int64_t n = bias.defined() ? bias.numel() * static_cast<int64_t>(bias.element_size()) : 0;
  if (weight.defined()) n += weight.numel() * static_cast<int64_t>(weight.element_size());
  if (w4) n += w4->bytes();
  return n;
}

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
      layer.qkv = loadLinear(w, attn + "qkv_proj", (H + 2 * KV) * D, C, arch.qkvBias);
    } else {
      layer.q = loadLinear(w, attn + "q_proj", H * D, C, arch.qkvBias);
      layer.k = loadLinear(w, attn + "k_proj", KV * D, C, arch.qkvBias);
      layer.v = loadLinear(w, attn + "v_proj", KV * D, C, arch.qkvBias);
    }
    layer.o = loadLinear(w, attn + "o_proj", C, H * D, arch.oBias);
    layer.qNorm = w.takeIf(arch.qkNorm, attn + "q_norm.weight", {D});
    layer.kNorm = w.takeIf(arch.qkNorm, attn + "k_norm.weight", {D});
    if (arch.fusedGateUp) {
      layer.gateUp = loadLinear(w, mlp + "gate_up_proj", 2 * I, C, arch.mlpBias);
    } else {
      layer.gate = loadLinear(w, mlp + "gate_proj", I, C, arch.mlpBias);
      layer.up = loadLinear(w, mlp + "up_proj", I, C, arch.mlpBias);
    }
    layer.down = loadLinear(w, mlp + "down_proj", C, I, arch.mlpBias);
    layer.inputNorm = w.take(base + "input_layernorm.weight", {C});
    layer.postAttnNorm = w.take(base + "post_attention_layernorm.weight", {C});
    layer.preFfnNorm = w.takeIf(arch.sandwichNorms, base + "pre_feedforward_layernorm.weight", {C});
    layer.postFfnNorm = w.takeIf(arch.sandwichNorms, base + "post_feedforward_layernorm.weight", {C});
    layer.rope = std::make_unique<Rope>(arch.layers[i].rope);
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
}

namespace {
int64_t tensorBytes(const at::Tensor& t) { return t.defined() ? t.numel() * static_cast<int64_t>(t.element_size()) : 0; }
}  // namespace

int64_t Model::parameterCount() const {
  int64_t n = embed_.numel() + finalNorm_.numel() + (lmHead_.is_same(embed_) ? 0 : lmHead_.numel());
  for (const DecoderLayer& l : layers_) {
    for (const Linear* lin : {&l.q, &l.k, &l.v, &l.o, &l.qkv, &l.gate, &l.up, &l.down, &l.gateUp}) n += lin->parameterCount();
    for (const at::Tensor* t : {&l.inputNorm, &l.postAttnNorm, &l.preFfnNorm, &l.postFfnNorm, &l.qNorm, &l.kNorm}) {
      if (t->defined()) n += t->numel();
    }
  }
  return n;
}

int64_t Model::parameterBytes() const {
  int64_t n = tensorBytes(embed_) + tensorBytes(finalNorm_) + (lmHead_.is_same(embed_) ? 0 : tensorBytes(lmHead_));
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
    cache.keys.push_back(at::empty({batch, arch_.numKvHeads, capacity, arch_.headDim}, opts));
    cache.values.push_back(at::empty({batch, arch_.numKvHeads, capacity, arch_.headDim}, opts));
  }
  cache.keyValid = at::zeros({batch, capacity}, at::TensorOptions().device(device_).dtype(at::kBool));
  return cache;
}

at::Tensor Model::norm(const at::Tensor& x, const at::Tensor& weight) const {
  at::Tensor xf = x.to(at::kFloat);
  xf = xf * at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + arch_.rmsNormEps);
  if (arch_.normWeightOffset) return (xf * (1.0 + weight.to(at::kFloat))).to(x.scalar_type());
  return weight * xf.to(x.scalar_type());
}

at::Tensor Model::mlp(const DecoderLayer& l, const at::Tensor& x) const {
  at::Tensor gate, up;
  if (arch_.fusedGateUp) {
    auto parts = l.gateUp(x).chunk(2, -1);
    gate = parts[0];
    up = parts[1];
  } else {
    gate = l.gate(x);
    up = l.up(x);
  }
  switch (arch_.hiddenAct) {
    case Activation::Silu: gate = at::silu(gate); break;
    case Activation::GeluTanh: gate = at::gelu(gate, "tanh"); break;
    case Activation::Gelu: gate = at::gelu(gate); break;
  }
  return l.down(gate * up);
}

// x: (B, T, C); mask: (B, 1, T, S) bool, true = may attend. Returns (B, T, C).
at::Tensor Model::attention(const DecoderLayer& l, int64_t index, const at::Tensor& x,
                            const at::Tensor& positions, const at::Tensor& mask, KvCache* cache) const {
  const int64_t B = x.size(0), T = x.size(1), D = arch_.headDim, H = arch_.numHeads, KV = arch_.numKvHeads;
  at::Tensor q, k, v;
  if (arch_.fusedQkv) {
    at::Tensor qkv = l.qkv(x);
    q = qkv.slice(-1, 0, H * D);
    k = qkv.slice(-1, H * D, (H + KV) * D);
    v = qkv.slice(-1, (H + KV) * D);
  } else {
    q = l.q(x);
    k = l.k(x);
    v = l.v(x);
  }
  q = q.view({B, T, H, D});
  k = k.view({B, T, KV, D});
  if (arch_.qkNorm) {
    q = norm(q, l.qNorm);
    k = norm(k, l.kNorm);
  }
  q = q.transpose(1, 2);
  k = k.transpose(1, 2);
  v = v.view({B, T, KV, D}).transpose(1, 2);  // (B, KV, T, D)

  auto [cos, sin] = l.rope->cosSin(positions, q.scalar_type());
  q = l.rope->apply(q, cos, sin);
  k = l.rope->apply(k, cos, sin);

  if (cache) {
    const int64_t start = cache->length;
    cache->keys[index].slice(2, start, start + T).copy_(k);
    cache->values[index].slice(2, start, start + T).copy_(v);
    k = cache->keys[index].slice(2, 0, start + T);
    v = cache->values[index].slice(2, 0, start + T);
  }
  if (KV != H) {  // grouped-query attention: each kv head serves H / KV query heads
    const int64_t S = k.size(2), group = H / KV;
    k = k.unsqueeze(2).expand({B, KV, group, S, D}).reshape({B, H, S, D});
    v = v.unsqueeze(2).expand({B, KV, group, S, D}).reshape({B, H, S, D});
  }

  at::Tensor out;
  if (arch_.attnLogitSoftcap > 0) {
    // Soft-capping sits between q.k and softmax, which fused attention cannot express.
    at::Tensor scores = at::matmul(q, k.transpose(2, 3)) * arch_.attnScale;
    scores = at::tanh(scores / arch_.attnLogitSoftcap) * arch_.attnLogitSoftcap;
    scores = scores.masked_fill(mask.logical_not(), -std::numeric_limits<double>::infinity());
    at::Tensor probs = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
    out = at::matmul(probs, v);
  } else {
    out = at::scaled_dot_product_attention(q, k, v, mask, 0.0, false, arch_.attnScale);
  }
  return l.o(out.transpose(1, 2).reshape({B, T, H * D}));
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
}  // namespace

at::Tensor Model::forward(const at::Tensor& ids, const at::Tensor& positions, const at::Tensor& valid,
                          KvCache* cache, bool lastOnly) const {
  const int64_t T = ids.size(1);
  const int64_t offset = cache ? cache->length : 0;
  if (cache && offset + T > cache->capacity) {
    throw Error("INVALID_ARGUMENT", "KV cache holds " + std::to_string(cache->capacity) +
                                        " positions; " + std::to_string(offset + T) + " were needed");
  }
  at::Tensor keyValid;
  if (cache) {
    cache->keyValid.slice(1, offset, offset + T).copy_(valid);
    keyValid = cache->keyValid.slice(1, 0, offset + T);
  } else {
    keyValid = valid;
  }
  // One mask per distinct window size, shared by the layers that use it.
  std::vector<std::pair<int64_t, at::Tensor>> masks;
  auto maskFor = [&](int64_t window) -> const at::Tensor& {
    for (auto& [w, m] : masks)
      if (w == window) return m;
    masks.emplace_back(window, buildMask(keyValid, offset, T, window));
    return masks.back().second;
  };

  at::Tensor h = at::embedding(embed_, ids);
  if (arch_.embedScale != 1.0) h = h * at::scalar_tensor(arch_.embedScale, h.options());

  for (size_t i = 0; i < layers_.size(); ++i) {
    const DecoderLayer& l = layers_[i];
    at::Tensor a = attention(l, static_cast<int64_t>(i), norm(h, l.inputNorm), positions,
                             maskFor(l.slidingWindow), cache);
    if (arch_.sandwichNorms) a = norm(a, l.postAttnNorm);
    h = h + a;
    at::Tensor m = mlp(l, norm(h, arch_.sandwichNorms ? l.preFfnNorm : l.postAttnNorm));
    if (arch_.sandwichNorms) m = norm(m, l.postFfnNorm);
    h = h + m;
  }
  if (cache) cache->length = offset + T;

  if (lastOnly) h = h.slice(1, T - 1, T);
  at::Tensor logits = at::linear(norm(h, finalNorm_), lmHead_);
  if (arch_.finalLogitSoftcap > 0) {
    logits = at::tanh(logits / arch_.finalLogitSoftcap) * arch_.finalLogitSoftcap;
  }
  return logits.to(at::kFloat);
}

}  // namespace nq
