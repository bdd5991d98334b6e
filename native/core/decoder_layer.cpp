// See decoder_layer.h.
#include "core/decoder_layer.h"

#include "core/decode_qkv.h"
#include "core/mlp.h"

namespace nq {

namespace {

std::vector<const Linear*> qkvMembers(const ArchSpec& arch, const DecoderLayer& l) {
  if (arch.fusedQkv) return {&l.qkv};
  return {&l.q, &l.k, &l.v};
}

std::vector<const Linear*> gateUpMembers(const ArchSpec& arch, const DecoderLayer& l) {
  if (arch.fusedGateUp) return {&l.gateUp};
  return {&l.gate, &l.up};
}

struct Qkv {
  at::Tensor q, k, v;  // (rows, H*D), (rows, KV*D), (rows, KV*D)
};
Qkv splitQkv(const ArchSpec& arch, const std::vector<at::Tensor>& ys) {
  if (!arch.fusedQkv) return {ys[0], ys[1], ys[2]};
  const int64_t qd = arch.numHeads * arch.headDim, kvd = arch.numKvHeads * arch.headDim;
  return {ys[0].slice(1, 0, qd), ys[0].slice(1, qd, qd + kvd), ys[0].slice(1, qd + kvd)};
}

std::pair<at::Tensor, at::Tensor> splitGateUp(const ArchSpec& arch, const std::vector<at::Tensor>& ys) {
  if (!arch.fusedGateUp) return {ys[0], ys[1]};
  const int64_t I = arch.intermediateSize;
  return {ys[0].slice(1, 0, I), ys[0].slice(1, I)};
}

AttentionSpec attentionSpec(const ArchSpec& arch, const DecoderLayer& l) {
  return {arch.attnScale, arch.attnLogitSoftcap, l.slidingWindow};
}

bool plusOne(const ArchSpec& arch) { return arch.normWeightOffset != 0; }

const at::Tensor& mlpNorm(const ArchSpec& arch, const DecoderLayer& l) {
  return arch.sandwichNorms ? l.preFfnNorm : l.postAttnNorm;
}

// A sandwich norm on a block's output; keeps its input and rstd for the backward when asked.
at::Tensor outputNorm(const at::Tensor& a, const at::Tensor& weight, double eps, bool one, at::Tensor* pre, at::Tensor* rstd) {
  NormOutput n = rmsNormForward(a, weight, eps, one);
  if (pre) *pre = a;
  if (rstd) *rstd = n.rstd;
  return n.y;
}

// q, k, v of the padded layout (B, H or KV, S, D) through the separate ops: per-head norms, RoPE,
// the new keys and values into the cache (then k, v are the cache's), each a launch of its own.
void forwardQkvPadded(const ArchSpec& arch, const DecoderLayer& l, const Rope& rope, const Qkv& p, int64_t B, int64_t T,
                      const at::Tensor& cos, const at::Tensor& sin, LayerCache* cache, at::Tensor& q, at::Tensor& k,
                      at::Tensor& v) {
  const int64_t H = arch.numHeads, KV = arch.numKvHeads, D = arch.headDim;
  const double eps = arch.rmsNormEps;
  q = p.q.view({B, T, H, D});
  k = p.k.view({B, T, KV, D});
  if (arch.qkNorm) {
    q = rmsNorm(q, l.qNorm, eps, plusOne(arch));
    k = rmsNorm(k, l.kNorm, eps, plusOne(arch));
  }
  q = rope.apply(q, cos, sin).transpose(1, 2);  // (B, H, T, D)
  k = rope.apply(k, cos, sin).transpose(1, 2);  // (B, KV, T, D)
  v = p.v.view({B, T, KV, D}).transpose(1, 2);
  if (cache && cache->slot.defined()) {
    cache->keys.index_copy_(2, cache->slot, k);
    cache->values.index_copy_(2, cache->slot, v);
    k = cache->keys;
    v = cache->values;
  } else if (cache) {
    cache->keys.slice(2, cache->start, cache->start + T).copy_(k);
    cache->values.slice(2, cache->start, cache->start + T).copy_(v);
    k = cache->keys.slice(2, 0, cache->start + T);
    v = cache->values.slice(2, 0, cache->start + T);
  }
}

}  // namespace

PaddedLayerOutput decoderForwardPadded(const ArchSpec& arch, const DecoderLayer& l, const Rope& rope,
                                       const at::Tensor& input, const at::Tensor& residual, const RopeTables& tables,
                                       const at::Tensor& mask, LayerCache* cache) {
  const int64_t B = input.size(0), T = input.size(1), C = input.size(2);
  const int64_t H = arch.numHeads, D = arch.headDim;
  const double eps = arch.rmsNormEps;
  const auto& [cos, sin] = tables[l.ropeIndex];

  // h = input + residual (the previous layer's two halves) and its norm, in one pass.
  at::Tensor h = input, n1;
  if (residual.defined()) {
    NormAddOutput in = rmsNormAdd(input, residual, l.inputNorm, eps, plusOne(arch));
    h = in.sum;
    n1 = in.y.view({B * T, C});
  } else {
    n1 = rmsNorm(h, l.inputNorm, eps, plusOne(arch)).view({B * T, C});
  }
  Qkv p = splitQkv(arch, linearGroupForward(qkvMembers(arch, l), n1, nullptr, nullptr));
  at::Tensor q, k, v;
  if (T == 1 && cache && cache->slot.defined()) q = decodeQkvFused(arch, l, rope, p.q, p.k, p.v, cos, sin, *cache);
  if (q.defined()) {  // one decoding step in one kernel: the new key and value are in the cache
    k = cache->keys;
    v = cache->values;
  } else {
    forwardQkvPadded(arch, l, rope, p, B, T, cos, sin, cache, q, k, v);
  }
  at::Tensor out = attentionPadded(q, k, v, mask, attentionSpec(arch, l));  // (B, H, T, D)
  at::Tensor a = linearGroupForward({&l.o}, out.transpose(1, 2).reshape({B * T, H * D}), nullptr, nullptr)[0];
  if (arch.sandwichNorms) a = rmsNorm(a, l.postAttnNorm, eps, plusOne(arch));
  NormAddOutput mid = rmsNormAdd(h, a.view({B, T, C}), mlpNorm(arch, l), eps, plusOne(arch));  // h1 = h + a, n2
  const at::Tensor n2 = mid.y.view({B * T, C});
  auto [gate, up] = splitGateUp(arch, linearGroupForward(gateUpMembers(arch, l), n2, nullptr, nullptr));
  at::Tensor m = linearGroupForward({&l.down}, gluForward(gate, up, arch.hiddenAct), nullptr, nullptr)[0];
  if (arch.sandwichNorms) m = rmsNorm(m, l.postFfnNorm, eps, plusOne(arch));
  return {mid.sum, m.view({B, T, C})};
}

at::Tensor decoderForwardPacked(const ArchSpec& arch, const DecoderLayer& l, const Rope& rope, const at::Tensor& x,
                                const PackedLayout& layout, const RopeTables& tables, at::Generator* dropout,
                                DecoderSaved* saved, bool outputNeeded, const PackedCacheWrite* cacheWrite) {
  const int64_t N = x.size(0);
  const int64_t H = arch.numHeads, KV = arch.numKvHeads, D = arch.headDim;
  const double eps = arch.rmsNormEps;
  const bool one = plusOne(arch);
  const auto& [cos, sin] = tables[l.ropeIndex];

  NormOutput n1 = rmsNormForward(x, l.inputNorm, eps, one);
  Qkv p = splitQkv(arch, linearGroupForward(qkvMembers(arch, l), n1.y, dropout, saved ? &saved->qkv : nullptr));
  at::Tensor q = p.q.view({N, H, D}), k = p.k.view({N, KV, D});
  if (arch.qkNorm) {
    NormOutput nq = rmsNormForward(q, l.qNorm, eps, one), nk = rmsNormForward(k, l.kNorm, eps, one);
    if (saved) {
      saved->qPre = q;
      saved->kPre = k;
      saved->rstdQ = nq.rstd;
      saved->rstdK = nk.rstd;
    }
    q = nq.y;
    k = nk.y;
  }
  q = rope.apply(q, cos, sin);
  k = rope.apply(k, cos, sin);
  at::Tensor v = p.v.view({N, KV, D}).contiguous();
  if (cacheWrite && cacheWrite->uniformLen > 0) {  // (B, KV, L, D) slices of the cache <- (B, L, KV, D) tokens
    const int64_t L = cacheWrite->uniformLen, B = N / L;
    cacheWrite->keys.slice(2, 0, L).copy_(k.view({B, L, KV, D}).transpose(1, 2));
    cacheWrite->values.slice(2, 0, L).copy_(v.view({B, L, KV, D}).transpose(1, 2));
  } else if (cacheWrite) {  // (B, capacity, KV, D) views of the cache, indexed by (row, position) per token
    cacheWrite->keys.permute({0, 2, 1, 3}).index_put_({cacheWrite->row, cacheWrite->position}, k);
    cacheWrite->values.permute({0, 2, 1, 3}).index_put_({cacheWrite->row, cacheWrite->position}, v);
  }
  at::Tensor out = attentionPackedForward(q, k, v, layout, attentionSpec(arch, l), saved ? &saved->attn : nullptr);
  at::Tensor a = linearGroupForward({&l.o}, out.view({N, H * D}), dropout, saved ? &saved->o : nullptr)[0];
  if (arch.sandwichNorms) a = outputNorm(a, l.postAttnNorm, eps, one, saved ? &saved->aPre : nullptr, saved ? &saved->rstdPostAttn : nullptr);
  at::Tensor h1 = x + a;

  NormOutput n2 = rmsNormForward(h1, mlpNorm(arch, l), eps, one);
  auto [gate, up] = splitGateUp(arch, linearGroupForward(gateUpMembers(arch, l), n2.y, dropout, saved ? &saved->gateUp : nullptr));
  if (saved) {
    saved->x = x;
    saved->rstdIn = n1.rstd;
    saved->h1 = h1;
    saved->rstdMid = n2.rstd;
    saved->gate = gate;
    saved->up = up;
  }
  // A recompute for the backward stops here unless the backward reads the down projection's
  // input (an adapter on down) or output (a sandwich norm after it): a quarter of the layer's
  // weights, and the activation, not run twice.
  if (!outputNeeded && saved && !l.down.lora && !arch.sandwichNorms) return at::Tensor();
  at::Tensor m = linearGroupForward({&l.down}, gluForward(gate, up, arch.hiddenAct), dropout, saved ? &saved->down : nullptr)[0];
  if (arch.sandwichNorms) m = outputNorm(m, l.postFfnNorm, eps, one, saved ? &saved->mPre : nullptr, saved ? &saved->rstdPostFfn : nullptr);
  return h1 + m;
}

at::Tensor decoderBackwardPacked(const ArchSpec& arch, const DecoderLayer& l, const Rope& rope, const at::Tensor& dy,
                                 const PackedLayout& layout, const RopeTables& tables, DecoderSaved& s,
                                 bool needInputGrad) {
  const int64_t N = dy.size(0);
  const int64_t H = arch.numHeads, KV = arch.numKvHeads, D = arch.headDim;
  const bool one = plusOne(arch);
  const auto& [cos, sin] = tables[l.ropeIndex];

  // MLP: out = h1 + [norm](down(glu(gate, up))).
  at::Tensor dm = dy;
  if (arch.sandwichNorms) {
    dm = rmsNormBackward(dy, s.mPre, l.postFfnNorm, s.rstdPostFfn, one);
    s.mPre = at::Tensor();
  }
  at::Tensor dact = linearGroupBackward({&l.down}, {dm}, s.down, true);
  s.down = {};
  dm = at::Tensor();
  // The gradients over the saved gate and up (read for the last time here): at this point of the
  // backward the layer holds its most, and a second (rows, 2I) buffer would set the step's peak.
  GluGrads g = gluBackwardOverwriting(dact, s.gate, s.up, arch.hiddenAct);
  s.gate = s.up = dact = at::Tensor();
  std::vector<at::Tensor> dGateUp = arch.fusedGateUp ? std::vector<at::Tensor>{joinColumns({g.dgate, g.dup})}
                                                     : std::vector<at::Tensor>{g.dgate, g.dup};
  g = {};
  at::Tensor dn2 = linearGroupBackward(gateUpMembers(arch, l), dGateUp, s.gateUp, true);
  s.gateUp = {};
  dGateUp.clear();
  at::Tensor dh1 = dy + rmsNormBackward(dn2, s.h1, mlpNorm(arch, l), s.rstdMid, one);
  s.h1 = dn2 = at::Tensor();

  // Attention: h1 = x + [norm](o(attention(...))).
  at::Tensor da = dh1;
  if (arch.sandwichNorms) {
    da = rmsNormBackward(dh1, s.aPre, l.postAttnNorm, s.rstdPostAttn, one);
    s.aPre = at::Tensor();
  }
  at::Tensor dout = linearGroupBackward({&l.o}, {da}, s.o, true).view({N, H, D});
  s.o = {};
  da = at::Tensor();
  AttentionGrads ag = attentionPackedBackward(dout, s.attn, layout, attentionSpec(arch, l));
  s.attn = {};
  dout = at::Tensor();
  at::Tensor dq = rope.applyBackward(ag.dq, cos, sin), dk = rope.applyBackward(ag.dk, cos, sin);
  if (arch.qkNorm) {
    dq = rmsNormBackward(dq, s.qPre, l.qNorm, s.rstdQ, one);
    dk = rmsNormBackward(dk, s.kPre, l.kNorm, s.rstdK, one);
    s.qPre = s.kPre = at::Tensor();
  }
  std::vector<at::Tensor> dQkv{dq.reshape({N, H * D}), dk.reshape({N, KV * D}), ag.dv.reshape({N, KV * D})};
  if (arch.fusedQkv) dQkv = {at::cat(dQkv, 1)};
  ag = {};
  at::Tensor dn1 = linearGroupBackward(qkvMembers(arch, l), dQkv, s.qkv, needInputGrad);
  s.qkv = {};
  if (!needInputGrad) return at::Tensor();
  at::Tensor dx = dh1 + rmsNormBackward(dn1, s.x, l.inputNorm, s.rstdIn, one);
  s = {};
  return dx;
}

}  // namespace nq
