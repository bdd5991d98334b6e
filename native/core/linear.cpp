// See linear.h.
#include "core/linear.h"

#include <ATen/core/grad_mode.h>

#include "core/decode_fusion.h"

#ifdef NQ_WITH_CUDA
#include "kernels/kernels.h"
#endif

namespace nq {

namespace {
// A few rows, no backward, on CUDA: decoding, where the 4-bit gemv kernel reads each packed
// weight once without materializing it (8 rows; 32 on the opt-in tensor-core kernel).
bool decodingRows(const at::Tensor& x) {
  return x.is_cuda() && !at::GradMode::is_enabled() && x.numel() / x.size(-1) <= quant::gemvMaxRows(x);
}
}  // namespace

at::Tensor Linear::operator()(const at::Tensor& x) const {
  if (!w4) return at::linear(x, weight, bias);
  if (decodingRows(x)) {
    at::Tensor y = quant::gemv(x, *w4);
    return bias.defined() ? y + bias : y;
  }
  return at::linear(x, quant::dequantize(*w4, x.scalar_type()), bias);
}

at::Tensor Linear::dense(at::ScalarType dtype) const {
  if (!w4) return weight.scalar_type() == dtype ? weight : weight.to(dtype);
  return quant::dequantize(*w4, dtype);
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

namespace {

// One GEMM over the members' weights stacked: on CUDA when every member is 4-bit (dequantizing
// into one buffer costs what dequantizing each does; 16-bit weights would need a copy).
bool fusedGemm(const std::vector<const Linear*>& members, const at::Tensor& x) {
  if (members.size() < 2 || !x.is_cuda()) return false;
  for (const Linear* l : members) {
    if (!l->w4) return false;
  }
  return true;
}

at::Tensor stackedWeight(const std::vector<const Linear*>& members, at::ScalarType dtype, const at::Tensor& like) {
  int64_t rows = 0;
  for (const Linear* l : members) rows += l->outFeatures();
  at::Tensor w = at::empty({rows, members[0]->inFeatures()}, like.options().dtype(dtype));
  int64_t at0 = 0;
  for (const Linear* l : members) {
    at::Tensor slice = w.slice(0, at0, at0 + l->outFeatures());
    quant::dequantizeInto(*l->w4, slice);
    at0 += l->outFeatures();
  }
  return w;
}

// nn.Dropout's mask in training: 0 with probability p, else 1 / (1 - p) (undefined when no
// dropout applies).
at::Tensor dropoutMask(const at::Tensor& x, double p, at::Generator* generator) {
  if (!generator || p == 0.0) return at::Tensor();
  at::Tensor keep = at::empty_like(x);
  keep.bernoulli_(1.0 - p, *generator);  // the kernel takes the generator's lock itself
  return keep.div_(1.0 - p);
}

// a^T-style products whose result accumulates into an fp32 gradient: bf16/fp16 inputs on CUDA
// give an fp32 result directly (cuBLAS accumulates in fp32 either way).
at::Tensor mmFloat(const at::Tensor& a, const at::Tensor& b) {
  if (a.scalar_type() == at::kFloat) return at::mm(a, b);
  if (a.is_cuda()) return at::mm(a, b, at::kFloat);
  return at::mm(a, b).to(at::kFloat);
}

void accumulateGrad(const at::Tensor& param, const at::Tensor& grad) {
  at::Tensor& g = const_cast<at::Tensor&>(param).mutable_grad();
  if (g.defined()) {
    g.add_(grad);
  } else {
    g = grad.detach().clone(at::MemoryFormat::Contiguous);
  }
}

bool noDropout(const std::vector<const Linear*>& members) {
  for (const Linear* l : members) {
    if (l->lora && l->lora->dropout > 0) return false;
  }
  return true;
}

}  // namespace

// Decoding a group of 4-bit members (q/k/v, gate/up) with one gemv: their packed bytes and
// float32 absmax laid end to end once, on the first decoding call (the members' own tensors then
// view the stacked buffers, so nothing is held twice), and kept on the group's first member.
// Null when the members cannot share one gemv (16-bit, different block sizes or maps, blocks
// that would straddle two members).
const quant::Weight4* stackedForDecoding(const std::vector<const Linear*>& members) {
  if (members.size() < 2) return nullptr;
  std::shared_ptr<StackedWeight4>& cache = members[0]->stacked;
  if (cache && cache->members.size() == members.size()) {
    bool same = true;
    for (size_t j = 0; j < members.size(); ++j) {
      same = same && members[j]->w4 && cache->members[j] == members[j]->w4.get() &&
             members[j]->w4->packed.is_alias_of(cache->weight.packed);
    }
    if (same) return &cache->weight;
  }
  const quant::Weight4* first = members[0]->w4.get();
  if (!first) return nullptr;
  int64_t outTotal = 0, bytes = 0;
  for (const Linear* l : members) {
    const quant::Weight4* w = l->w4.get();
    if (!w || w->shape.size() != 2 || w->shape[1] != first->shape[1] || w->blocksize != first->blocksize ||
        w->type != first->type || w->numel() % w->blocksize != 0 || (w->numel() / 2) % 16 != 0 ||
        !w->packed.is_cuda() || !at::equal(w->code, first->code)) {
      return nullptr;
    }
    outTotal += w->shape[0];
    bytes += w->numel() / 2;
  }
  auto s = std::make_shared<StackedWeight4>();
  quant::Weight4& st = s->weight;
  st.type = first->type;
  st.blocksize = first->blocksize;
  st.shape = {outTotal, first->shape[1]};
  st.dtype = first->dtype;
  st.code = first->code;
  st.packed = at::empty({bytes, 1}, first->packed.options());
  std::vector<at::Tensor> absmax;
  for (const Linear* l : members) absmax.push_back(quant::absmaxFloatCached(*l->w4));
  st.absmax = at::cat(absmax).contiguous();
  int64_t byte0 = 0, block0 = 0;
  for (const Linear* l : members) {
    quant::Weight4& w = *l->w4;
    const int64_t n = w.numel() / 2, blocks = w.numel() / w.blocksize;
    at::Tensor packed = st.packed.slice(0, byte0, byte0 + n);
    packed.copy_(w.packed.reshape({n, 1}));
    w.packed = packed.view(w.packed.sizes());
    const at::Tensor absmaxF = st.absmax.slice(0, block0, block0 + blocks);
    if (w.nested) {
      w.absmaxCache = std::make_shared<const quant::Weight4::AbsmaxCache>(quant::Weight4::AbsmaxCache{w.absmax, absmaxF});
    } else {
      w.absmax = absmaxF;
    }
    s->members.push_back(&w);
    byte0 += n;
    block0 += blocks;
  }
  cache = s;
  return &cache->weight;
}

// The group's adapters as GroupAdapters (null when not every member has one, or the scalings
// differ), cached on the first member.
const GroupAdapters* groupAdapters(const std::vector<const Linear*>& members, at::ScalarType dtype) {
  if (members.size() < 2) return nullptr;
  for (const Linear* l : members) {
    if (!l->lora || l->lora->scaling != members[0]->lora->scaling) return nullptr;
  }
  std::shared_ptr<GroupAdapters>& cache = members[0]->adapters;
  if (cache && cache->a.scalar_type() == dtype && cache->adapters.size() == members.size()) {
    bool same = true;
    for (size_t j = 0; j < members.size(); ++j) {
      const LoraAdapter* a = members[j]->lora.get();
      same = same && cache->adapters[j] == a && cache->versions[2 * j] == a->A._version() &&
             cache->versions[2 * j + 1] == a->B._version();
    }
    if (same) return cache.get();
  }
  auto g = std::make_shared<GroupAdapters>();
  int64_t rTotal = 0, outTotal = 0;
  std::vector<at::Tensor> as;
  for (const Linear* l : members) {
    const LoraAdapter* a = l->lora.get();
    g->adapters.push_back(a);
    g->versions.push_back(a->A._version());
    g->versions.push_back(a->B._version());
    as.push_back(a->A.detach());
    rTotal += a->A.size(0);
    outTotal += a->B.size(0);
  }
  g->a = at::cat(as, 0).to(dtype);
  g->b = at::zeros({outTotal, rTotal}, g->a.options());
  int64_t out0 = 0, r0 = 0;
  for (const Linear* l : members) {
    const at::Tensor& B = l->lora->B;
    g->b.slice(0, out0, out0 + B.size(0)).slice(1, r0, r0 + B.size(1)).copy_(B.detach());
    out0 += B.size(0);
    r0 += B.size(1);
  }
  cache = g;
  return cache.get();
}

std::vector<at::Tensor> linearGroupForward(const std::vector<const Linear*>& members, const at::Tensor& x,
                                           at::Generator* dropout, LinearGroupSaved* saved) {
  const at::ScalarType dtype = x.scalar_type();
  const size_t M = members.size();
  std::vector<at::Tensor> ys(M);
  // Decoding: the 4-bit gemv kernel, one for the whole group when its weights can be stacked,
  // else Linear's own path per member (it adds the bias itself).
  const bool decode = !saved && decodingRows(x);
  const quant::Weight4* stacked = decode ? stackedForDecoding(members) : nullptr;
  at::Tensor yAll;  // the whole group's output when it is one (rows, sum out) buffer
  if (stacked) {
    at::Tensor y = quant::gemv(x, *stacked);  // (rows, sum out)
    yAll = y;
    int64_t at0 = 0;
    for (size_t j = 0; j < M; ++j) {
      ys[j] = y.narrow(-1, at0, members[j]->outFeatures());
      at0 += members[j]->outFeatures();
      if (members[j]->bias.defined()) ys[j].add_(members[j]->bias);  // in place: ys[j] stays a view of y
    }
  } else if (decode) {
    for (size_t j = 0; j < M; ++j) ys[j] = (*members[j])(x);
  } else if (fusedGemm(members, x)) {
    // Biases go into the GEMM (addmm), as nn.Linear adds them: one rounding, not two.
    bool biased = true;
    std::vector<at::Tensor> biases;
    for (const Linear* l : members) {
      biased = biased && l->bias.defined();
      if (l->bias.defined()) biases.push_back(l->bias);
    }
    at::Tensor w = stackedWeight(members, dtype, x).t();
    at::Tensor y = biased ? at::addmm(at::cat(biases), x, w) : at::mm(x, w);  // (rows, sum out)
    yAll = y;
    int64_t at0 = 0;
    for (size_t j = 0; j < M; ++j) {
      ys[j] = y.slice(1, at0, at0 + members[j]->outFeatures());
      at0 += members[j]->outFeatures();
      if (!biased && members[j]->bias.defined()) ys[j].add_(members[j]->bias);
    }
  } else {
    for (size_t j = 0; j < M; ++j) {
      const Linear& l = *members[j];
      ys[j] = l.bias.defined() ? at::addmm(l.bias, x, l.dense(dtype).t()) : at::mm(x, l.dense(dtype).t());
    }
  }

  if (saved) {
    saved->x = at::Tensor();
    saved->xa.assign(M, at::Tensor());
    saved->keep.assign(M, at::Tensor());
  }
  // Adapters: one GEMM for every A when they share the (undropped) input.
  std::vector<size_t> adapted;
  for (size_t j = 0; j < M; ++j) {
    if (members[j]->lora) adapted.push_back(j);
  }
  if (adapted.empty()) return ys;
  const bool training = dropout != nullptr;
  if (!saved && !training && yAll.defined() && x.is_cuda()) {
    // Inference: every adapter of the group in two GEMMs, added into the group's buffer.
    if (const GroupAdapters* g = groupAdapters(members, dtype)) {
#ifdef NQ_WITH_CUDA
      if (decode && decodeFusionEnabled() && kernels::loraDecodeSupported(x, g->a, g->b)) {
        kernels::loraDecodeAdd(yAll, x, g->a, g->b, members[0]->lora->scaling);  // one launch, not two GEMMs
        return ys;
      }
#endif
      yAll.addmm_(at::mm(x, g->a.t()), g->b.t(), /*beta=*/1, /*alpha=*/members[0]->lora->scaling);
      return ys;
    }
  }
  std::vector<at::Tensor> xa(M);
  if (adapted.size() > 1 && (!training || noDropout(members))) {
    std::vector<at::Tensor> as;
    for (size_t j : adapted) as.push_back(members[j]->lora->castA(dtype));
    at::Tensor all = at::mm(x, at::cat(as, 0).t());  // (rows, sum r)
    int64_t at0 = 0;
    for (size_t j : adapted) {
      const int64_t r = members[j]->lora->A.size(0);
      xa[j] = all.slice(1, at0, at0 + r);
      at0 += r;
    }
  } else {
    for (size_t j : adapted) {
      const LoraAdapter& a = *members[j]->lora;
      at::Tensor keep = dropoutMask(x, a.dropout, dropout);
      if (saved) saved->keep[j] = keep;
      xa[j] = at::mm(keep.defined() ? x * keep : x, a.castA(dtype).t());
    }
  }
  for (size_t j : adapted) {
    const LoraAdapter& a = *members[j]->lora;
    ys[j].addmm_(xa[j], a.castB(dtype).t(), /*beta=*/1, /*alpha=*/a.scaling);
    if (saved) saved->xa[j] = xa[j];
  }
  if (saved) saved->x = x;  // the adapters' A gradients read it
  return ys;
}

at::Tensor joinColumns(const std::vector<at::Tensor>& parts) {
  const at::Tensor& first = parts[0];
  int64_t width = 0;
  bool adjacent = first.dim() == 2 && first.stride(1) == 1;
  for (const at::Tensor& p : parts) {
    adjacent = adjacent && p.dim() == 2 && p.stride(1) == 1 && p.stride(0) == first.stride(0) &&
               p.size(0) == first.size(0) && p.scalar_type() == first.scalar_type() &&
               p.is_alias_of(first) && p.storage_offset() == first.storage_offset() + width;
    width += p.size(1);
  }
  if (adjacent && first.stride(0) == width) return first.as_strided({first.size(0), width}, {width, 1});
  return at::cat(parts, 1);
}

at::Tensor linearGroupBackward(const std::vector<const Linear*>& members, const std::vector<at::Tensor>& dys,
                               const LinearGroupSaved& saved, bool needDx) {
  const at::ScalarType dtype = dys[0].scalar_type();
  const size_t M = members.size();
  at::Tensor dx;
  if (!needDx) {
    // only the adapters' gradients below
  } else if (fusedGemm(members, dys[0])) {
    dx = at::mm(joinColumns(dys), stackedWeight(members, dtype, dys[0]));  // (rows, sum out) @ (sum out, in)
  } else {
    for (size_t j = 0; j < M; ++j) {
      at::Tensor w = members[j]->dense(dtype);
      if (dx.defined()) dx.addmm_(dys[j], w);
      else dx = at::mm(dys[j], w);
    }
  }

  std::vector<size_t> adapted;
  for (size_t j = 0; j < M; ++j) {
    if (members[j]->lora) adapted.push_back(j);
  }
  if (adapted.empty()) return dx;
  const at::Tensor& x = saved.x;
  std::vector<at::Tensor> dxa(M);
  for (size_t j : adapted) {
    const LoraAdapter& a = *members[j]->lora;
    // dB = s dy^T xa; d(xa) = s dy B.
    accumulateGrad(a.B, mmFloat(dys[j].t(), saved.xa[j]).mul_(a.scaling));
    dxa[j] = at::mm(dys[j], a.castB(dtype)).mul_(a.scaling);  // (rows, r)
  }
  bool shared = adapted.size() > 1;
  for (size_t j : adapted) shared = shared && !saved.keep[j].defined();
  if (shared) {
    std::vector<at::Tensor> parts, as;
    for (size_t j : adapted) {
      parts.push_back(dxa[j]);
      as.push_back(members[j]->lora->castA(dtype));
    }
    at::Tensor all = at::cat(parts, 1);             // (rows, sum r)
    at::Tensor dA = mmFloat(all.t(), x);            // (sum r, in)
    if (needDx) dx.addmm_(all, at::cat(as, 0));
    int64_t at0 = 0;
    for (size_t j : adapted) {
      const int64_t r = members[j]->lora->A.size(0);
      accumulateGrad(members[j]->lora->A, dA.slice(0, at0, at0 + r));
      at0 += r;
    }
  } else {
    for (size_t j : adapted) {
      const LoraAdapter& a = *members[j]->lora;
      const at::Tensor& keep = saved.keep[j];
      accumulateGrad(a.A, mmFloat(dxa[j].t(), keep.defined() ? x * keep : x));
      if (!needDx) continue;
      at::Tensor back = at::mm(dxa[j], a.castA(dtype));  // d(drop(x)); times the mask for dx
      dx.add_(keep.defined() ? back * keep : back);
    }
  }
  return dx;
}

}  // namespace nq
