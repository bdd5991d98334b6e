// One decoder layer, wired from the shared blocks by the ArchSpec's switches:
//   h1  = x + [postAttnNorm](o(attention(rope(qkNorm(q(n1))), rope(qkNorm(k(n1))), v(n1))))
//   out = h1 + [postFfnNorm](down(glu(gate(n2), up(n2))))
// with n1 = inputNorm(x), n2 = (preFfnNorm | postAttnNorm)(h1) ([..] only with sandwich norms).
// Two layouts:
//  - padded inference (B, T, C) with optional KV cache (forwardPadded);
//  - packed training (N, C), padding-free, with a hand-written backward (forwardPacked saves
//    what backwardPacked needs; the backward frees it as it goes).
// Not here: loading (model.cpp), embeddings, the loss.
//
// Shapes: B batch, T new tokens, S keys visible, N packed tokens, C hidden, H / KV heads, D head
// dim, I intermediate size.
#pragma once
#include <ATen/ATen.h>

#include <vector>

#include "core/arch.h"
#include "core/attention.h"
#include "core/linear.h"
#include "core/norm.h"
#include "core/rope.h"

namespace nq {

struct DecoderLayer {
  Linear q, k, v, o;  // q/k/v undefined when the checkpoint fuses them
  Linear qkv;          // phi3
  Linear gate, up, down;
  Linear gateUp;       // phi3
  at::Tensor inputNorm, postAttnNorm, preFfnNorm, postFfnNorm;
  at::Tensor qNorm, kNorm;
  size_t ropeIndex = 0;  // into the model's distinct RoPE specs
  int64_t slidingWindow = 0;
};

// cos / sin tables of one forward, one pair per distinct RoPE spec.
using RopeTables = std::vector<std::pair<at::Tensor, at::Tensor>>;

// Per-layer KV cache: (B, KV, capacity, D) each. The T new keys go to positions start ..
// start + T - 1 and attention reads the cache up to them; or, when `slot` (a (1) int64 device
// tensor) is defined, the one new key goes to cache position slot and attention reads the
// whole cache (the mask hides what is not filled): no host-side offsets, as a CUDA graph
// replayed at every decoding step needs.
struct LayerCache {
  at::Tensor keys, values;
  int64_t start = 0;
  at::Tensor slot;
};

// A padded layer's output as its two halves, h1 + delta: the add is left to the next layer's
// input norm (one fused pass, rmsNormAdd) or to the caller after the last layer.
struct PaddedLayerOutput {
  at::Tensor h1;     // (B, T, C) the residual after attention
  at::Tensor delta;  // (B, T, C) the MLP's contribution
};

// The layer's input is input + residual (residual undefined: input alone), (B, T, C);
// positions enter through `tables` ((B, T, rot) per spec); mask (B, 1, T, S).
PaddedLayerOutput decoderForwardPadded(const ArchSpec& arch, const DecoderLayer& layer, const Rope& rope,
                                       const at::Tensor& input, const at::Tensor& residual, const RopeTables& tables,
                                       const at::Tensor& mask, LayerCache* cache);

// Everything the packed backward reads, per layer.
struct DecoderSaved {
  at::Tensor x, rstdIn;                      // layer input, input-norm rstd
  LinearGroupSaved qkv;                      // input n1 (kept only with adapters)
  at::Tensor qPre, kPre, rstdQ, rstdK;       // before the q/k norms (qkNorm only)
  AttentionSaved attn;
  LinearGroupSaved o;
  at::Tensor aPre, rstdPostAttn;             // sandwich: attention output before its norm
  at::Tensor h1, rstdMid;                    // residual after attention, its norm's rstd
  LinearGroupSaved gateUp;
  at::Tensor gate, up;                       // (N, I) each
  LinearGroupSaved down;
  at::Tensor mPre, rstdPostFfn;              // sandwich: MLP output before its norm
};

// Where a packed prefill writes the keys and values it computes: the layer's cache tensors
// (B, KV, capacity, D) and, per packed token, its batch row and cache position ((N) int64 each).
struct PackedCacheWrite {
  at::Tensor keys, values;
  at::Tensor row, position;
  // > 0 when every row holds this many tokens (the packed tokens are then (B, uniformLen) in
  // order and fill cache positions 0 .. uniformLen - 1): one strided copy instead of the
  // per-token index_put.
  int64_t uniformLen = 0;
};

// x (N, C) packed tokens; `tables` hold (N, rot) per spec. `dropout` draws LoRA dropout
// masks (null: none). `saved` (optional) receives what backwardPacked needs. outputNeeded
// false (gradient checkpointing's recompute, with `saved`): the result may be undefined, the
// work that only the output needs skipped. cacheWrite (optional): the keys and values also go
// to a KV cache (a packed prefill, Model::prefillPacked).
at::Tensor decoderForwardPacked(const ArchSpec& arch, const DecoderLayer& layer, const Rope& rope, const at::Tensor& x,
                                const PackedLayout& layout, const RopeTables& tables, at::Generator* dropout,
                                DecoderSaved* saved, bool outputNeeded = true,
                                const PackedCacheWrite* cacheWrite = nullptr);

// dy (N, C) -> dx (N, C) (undefined when !needInputGrad); adds the adapters' gradients.
// Consumes `saved`.
at::Tensor decoderBackwardPacked(const ArchSpec& arch, const DecoderLayer& layer, const Rope& rope, const at::Tensor& dy,
                                 const PackedLayout& layout, const RopeTables& tables, DecoderSaved& saved,
                                 bool needInputGrad);

}  // namespace nq
