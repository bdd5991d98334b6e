// See attention.h.
#include "core/attention.h"

#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <tuple>
#include <utility>

#include "core/decode_fusion.h"

#ifdef NQ_WITH_CUDA
#include "kernels/kernels.h"
#endif

namespace nq {

PackedLayout PackedLayout::from(const std::vector<int64_t>& lens, at::Device device) {
  PackedLayout l;
  l.lens = lens;
  std::vector<int32_t> cu(lens.size() + 1, 0);
  std::vector<int64_t> pos;
  for (size_t s = 0; s < lens.size(); ++s) {
    cu[s + 1] = cu[s] + static_cast<int32_t>(lens[s]);
    l.maxLen = std::max(l.maxLen, lens[s]);
    for (int64_t t = 0; t < lens[s]; ++t) pos.push_back(t);
  }
  l.cuSeqlens = at::tensor(cu, at::kInt).to(device);
  l.positions = at::tensor(pos, at::kLong).to(device);
  return l;
}

namespace {

bool useFlash(const at::Tensor& q, const AttentionSpec& spec) {
  const at::ScalarType t = q.scalar_type();
  const int64_t D = q.size(-1);
  return q.is_cuda() && (t == at::kBFloat16 || t == at::kHalf) && spec.softcap == 0 && D % 8 == 0 && D <= 256;
}

// cuDNN's fused attention, on CUDA in bf16/fp16 with no softcap or window, when every packed
// sequence has one length (the packed tokens are then a (S, L, H, D) view). NQ_CUDNN_ATTENTION:
// "0" never, "1" at every such length, unset from kCudnnMinLen tokens a sequence, where it
// measured faster than flash attention on the H200 (docs/benchmarks.md, scaling: +16% at 8,192,
// +41% at 32,768, -1% at 512).
constexpr int64_t kCudnnMinLen = 4096;
bool useCudnn(const at::Tensor& q, const PackedLayout& layout, const AttentionSpec& spec) {
  static const int mode = [] {  // -1 auto, 0 never, 1 always
    const char* v = std::getenv("NQ_CUDNN_ATTENTION");
    if (v == nullptr || *v == '\0') return -1;
    return std::strcmp(v, "0") == 0 ? 0 : 1;
  }();
  if (mode == 0 || !useFlash(q, spec) || spec.window > 0 || q.size(-1) > 128 || layout.lens.empty()) return false;
  for (int64_t L : layout.lens) {
    if (L != layout.lens.front()) return false;
  }
  return mode == 1 || layout.lens.front() >= kCudnnMinLen;
}

// (N, X, D) packed tokens of S equal sequences -> (S, heads, L, D), a view; kv heads repeated
// G = heads / X times (a copy) when X < heads.
at::Tensor sequenceMajor(const at::Tensor& t, const PackedLayout& layout, int64_t heads) {
  const int64_t S = static_cast<int64_t>(layout.lens.size()), L = layout.lens.front(), X = t.size(1), D = t.size(2);
  at::Tensor v = t.view({S, L, X, D});
  if (X != heads) v = v.unsqueeze(3).expand({S, L, X, heads / X, D}).reshape({S, L, heads, D});
  return v.transpose(1, 2);
}

// (S, X, L, D) -> (N, X, D) packed; with heads > X query heads' gradients summed per kv head.
at::Tensor tokenMajor(const at::Tensor& t, int64_t kvHeads) {
  const int64_t S = t.size(0), H = t.size(1), L = t.size(2), D = t.size(3);
  at::Tensor g = t;
  if (kvHeads != H) g = t.reshape({S, kvHeads, H / kvHeads, L, D}).sum(2);
  return g.transpose(1, 2).reshape({S * L, kvHeads, D});
}

// flash attention's (left, right) window: the window - 1 keys before a query, none after.
std::pair<std::optional<int64_t>, std::optional<int64_t>> flashWindow(const AttentionSpec& spec) {
  if (spec.window <= 0) return {std::nullopt, std::nullopt};
  return {spec.window - 1, 0};
}

// (L, L) bool: causal within the window.
at::Tensor causalMask(int64_t L, int64_t window, at::Device device) {
  auto opts = at::TensorOptions().device(device).dtype(at::kLong);
  at::Tensor q = at::arange(L, opts).unsqueeze(1), k = at::arange(L, opts).unsqueeze(0);
  at::Tensor allowed = k <= q;
  if (window > 0) allowed = allowed & (k > q - window);
  return allowed;
}

// Scores of one sequence before the mask: (H, L, L) in the compute dtype, soft-capped.
at::Tensor scoresOf(const at::Tensor& q, const at::Tensor& k, const AttentionSpec& spec) {
  at::Tensor s = at::matmul(q, k.transpose(1, 2)) * spec.scale;
  if (spec.softcap > 0) s = at::tanh(s / spec.softcap) * spec.softcap;
  return s;
}

// (L, KV, D) -> (H, L, D): each kv head serves H / KV query heads.
at::Tensor expandHeads(const at::Tensor& kv, int64_t H) {
  const int64_t L = kv.size(0), KV = kv.size(1), D = kv.size(2);
  at::Tensor t = kv.transpose(0, 1);  // (KV, L, D)
  if (KV == H) return t;
  return t.unsqueeze(1).expand({KV, H / KV, L, D}).reshape({H, L, D});
}

at::Tensor probsOf(const at::Tensor& scores, const at::Tensor& allowed) {
  at::Tensor masked = scores.masked_fill(allowed.logical_not(), -std::numeric_limits<double>::infinity());
  return at::softmax(masked, -1, at::kFloat).to(scores.scalar_type());
}

}  // namespace

at::Tensor attentionPackedForward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                  const PackedLayout& layout, const AttentionSpec& spec, AttentionSaved* saved) {
  if (saved) {
    saved->q = q;
    saved->k = k;
    saved->v = v;
  }
  if (useCudnn(q, layout, spec)) {
    const int64_t H = q.size(1);
    auto result = at::_scaled_dot_product_cudnn_attention(
        sequenceMajor(q, layout, H), sequenceMajor(k, layout, H), sequenceMajor(v, layout, H), std::nullopt,
        /*compute_log_sumexp=*/saved != nullptr, 0.0, /*is_causal=*/true, /*return_debug_mask=*/false, spec.scale);
    const at::Tensor& out4 = std::get<0>(result);  // (S, H, L, D)
    at::Tensor out = tokenMajor(out4, H);
    if (saved) {
      saved->out = out;
      saved->cudnnOut = out4;
      saved->lse = std::get<1>(result);
      saved->rngState = std::get<6>(result);
      saved->unused = std::get<7>(result);
    }
    return out;
  }
  if (useFlash(q, spec)) {
    const auto [left, right] = flashWindow(spec);
    auto [out, lse, rng, unused, debug] =
        at::_flash_attention_forward(q, k, v, layout.cuSeqlens, layout.cuSeqlens, layout.maxLen, layout.maxLen, 0.0,
                                     /*is_causal=*/true, /*return_debug_mask=*/false, spec.scale, left, right);
    if (saved) {
      saved->out = out;
      saved->lse = lse;
      saved->rngState = rng;
      saved->unused = unused;
    }
    return out;
  }
  const int64_t H = q.size(1);
  at::Tensor out = at::empty_like(q);
  int64_t start = 0;
  for (int64_t L : layout.lens) {
    at::Tensor qs = q.slice(0, start, start + L).transpose(0, 1);  // (H, L, D)
    at::Tensor ks = expandHeads(k.slice(0, start, start + L), H), vs = expandHeads(v.slice(0, start, start + L), H);
    at::Tensor probs = probsOf(scoresOf(qs, ks, spec), causalMask(L, spec.window, q.device()));
    out.slice(0, start, start + L).copy_(at::matmul(probs, vs).transpose(0, 1));
    start += L;
  }
  if (saved) saved->out = out;
  return out;
}

AttentionGrads attentionPackedBackward(const at::Tensor& dout, const AttentionSaved& saved, const PackedLayout& layout,
                                       const AttentionSpec& spec) {
  const at::Tensor &q = saved.q, &k = saved.k, &v = saved.v;
  if (useCudnn(q, layout, spec)) {
    const int64_t H = q.size(1), KV = k.size(1), L = layout.lens.front();
    const at::Tensor& out4 = saved.cudnnOut;
    // The gradient in the layout cuDNN gave its output.
    at::Tensor dout4 = at::empty_strided(out4.sizes(), out4.strides(), dout.options());
    dout4.copy_(dout.view({out4.size(0), L, H, out4.size(3)}).transpose(1, 2));
    auto [dq, dk, dv] = at::_scaled_dot_product_cudnn_attention_backward(
        dout4, sequenceMajor(q, layout, H), sequenceMajor(k, layout, H), sequenceMajor(v, layout, H), out4, saved.lse,
        saved.rngState, saved.unused, /*attn_bias=*/at::Tensor(), /*cum_seq_q=*/at::Tensor(), /*cum_seq_k=*/at::Tensor(),
        L, L, 0.0, /*is_causal=*/true, spec.scale);
    return {tokenMajor(dq, H), tokenMajor(dk, KV), tokenMajor(dv, KV)};
  }
  if (useFlash(q, spec)) {
    const auto [left, right] = flashWindow(spec);
    auto [dq, dk, dv] = at::_flash_attention_backward(dout.contiguous(), q, k, v, saved.out, saved.lse, layout.cuSeqlens,
                                                      layout.cuSeqlens, layout.maxLen, layout.maxLen, 0.0,
                                                      /*is_causal=*/true, saved.rngState, saved.unused, spec.scale, left, right);
    return {dq, dk, dv};
  }
  const int64_t H = q.size(1), KV = k.size(1), D = q.size(2);
  AttentionGrads g{at::empty_like(q), at::empty_like(k), at::empty_like(v)};
  int64_t start = 0;
  for (int64_t L : layout.lens) {
    at::Tensor qs = q.slice(0, start, start + L).transpose(0, 1);  // (H, L, D)
    at::Tensor ks = expandHeads(k.slice(0, start, start + L), H), vs = expandHeads(v.slice(0, start, start + L), H);
    at::Tensor dO = dout.slice(0, start, start + L).transpose(0, 1);
    at::Tensor raw = at::matmul(qs, ks.transpose(1, 2)) * spec.scale;  // before the softcap
    at::Tensor capped = spec.softcap > 0 ? at::tanh(raw / spec.softcap) : at::Tensor();
    at::Tensor scores = spec.softcap > 0 ? capped * spec.softcap : raw;
    at::Tensor probs = probsOf(scores, causalMask(L, spec.window, q.device()));  // (H, L, L)
    at::Tensor dV = at::matmul(probs.transpose(1, 2), dO);                        // (H, L, D)
    at::Tensor dP = at::matmul(dO, vs.transpose(1, 2)).to(at::kFloat);
    at::Tensor pf = probs.to(at::kFloat);
    at::Tensor dS = pf * (dP - (dP * pf).sum(-1, /*keepdim=*/true));
    if (spec.softcap > 0) dS = dS * (1 - capped.to(at::kFloat).pow(2));
    dS = (dS * spec.scale).to(q.scalar_type());
    at::Tensor dQ = at::matmul(dS, ks), dK = at::matmul(dS.transpose(1, 2), qs);  // (H, L, D)
    if (KV != H) {
      dK = dK.view({KV, H / KV, L, D}).sum(1);
      dV = dV.view({KV, H / KV, L, D}).sum(1);
    }
    g.dq.slice(0, start, start + L).copy_(dQ.transpose(0, 1));
    g.dk.slice(0, start, start + L).copy_(dK.transpose(0, 1));
    g.dv.slice(0, start, start + L).copy_(dV.transpose(0, 1));
    start += L;
  }
  return g;
}

at::Tensor attentionPadded(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask,
                           const AttentionSpec& spec) {
  const int64_t B = q.size(0), H = q.size(1), KV = k.size(1), S = k.size(2), D = q.size(3);
  if (q.size(2) == 1 && mask.scalar_type() != at::kBool) {
    // Decoding one token, the mask an additive bias (B * KV, 1, S) (Model's decodingBias): the
    // H / KV query heads of a group read their kv head as a (G, D) block (nothing expanded or
    // copied), and one GEMM gives scale * q k^T + bias.
#ifdef NQ_WITH_CUDA
    if (decodeFusionEnabled()) {
      const at::Tensor q3 = q.reshape({B, H, D}), bias = mask.reshape({B * KV, S});
      if (kernels::decodeAttentionSupported(q3, k, v, bias)) {
        return kernels::decodeAttention(q3, k, v, bias, spec.scale).view({B, H, 1, D});  // one launch, not three
      }
    }
#endif
    const int64_t G = H / KV;
    at::Tensor scores = at::baddbmm(mask, q.reshape({B * KV, G, D}), k.reshape({B * KV, S, D}).transpose(1, 2),
                                    /*beta=*/1, /*alpha=*/spec.scale);               // (B * KV, G, S)
    at::Tensor probs = at::softmax(scores, -1);  // accumulates in fp32, rounds once to the compute dtype
    return at::bmm(probs, v.reshape({B * KV, S, D})).view({B, H, 1, D});
  }
  if (q.size(2) == 1) {
    // Decoding one token: the H / KV query heads of a group read their kv head as a (G, D)
    // block, so nothing is expanded or copied: (B, KV, G, D) @ (B, KV, D, S).
    const int64_t G = H / KV;
    at::Tensor scores = at::matmul(q.reshape({B, KV, G, D}), k.transpose(2, 3)) * spec.scale;  // (B, KV, G, S)
    if (spec.softcap > 0) scores = at::tanh(scores / spec.softcap) * spec.softcap;
    scores = scores.masked_fill(mask.view({B, 1, 1, S}).logical_not(), -std::numeric_limits<double>::infinity());
    at::Tensor probs = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
    return at::matmul(probs, v).view({B, H, 1, D});
  }
  at::Tensor kk = k, vv = v;
  if (KV != H) {  // grouped-query attention: each kv head serves H / KV query heads
    kk = k.unsqueeze(2).expand({B, KV, H / KV, S, D}).reshape({B, H, S, D});
    vv = v.unsqueeze(2).expand({B, KV, H / KV, S, D}).reshape({B, H, S, D});
  }
  if (spec.softcap > 0) {
    // Soft-capping sits between q.k and softmax, which fused attention cannot express.
    at::Tensor scores = at::matmul(q, kk.transpose(2, 3)) * spec.scale;
    scores = at::tanh(scores / spec.softcap) * spec.softcap;
    scores = scores.masked_fill(mask.logical_not(), -std::numeric_limits<double>::infinity());
    at::Tensor probs = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
    return at::matmul(probs, vv);
  }
  return at::scaled_dot_product_attention(q, kk, vv, mask, 0.0, false, spec.scale);
}

}  // namespace nq
