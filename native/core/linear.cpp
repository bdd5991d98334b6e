// See linear.h.
#include "core/linear.h"

#include <ATen/core/grad_mode.h>

namespace nq {

namespace {
// A few rows, no backward, on CUDA: decoding, where the 4-bit gemv kernel reads each packed
// weight once without materializing it.
bool decodingRows(const at::Tensor& x) {
  return x.is_cuda() && x.numel() / x.size(-1) <= 8 && !at::GradMode::is_enabled();
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

// The adapter matrices in the compute dtype (fp32 parameters; a cast is tiny).
at::Tensor asDtype(const at::Tensor& t, at::ScalarType dtype) { return t.scalar_type() == dtype ? t : t.to(dtype); }

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

std::vector<at::Tensor> linearGroupForward(const std::vector<const Linear*>& members, const at::Tensor& x,
                                           at::Generator* dropout, LinearGroupSaved* saved) {
  const at::ScalarType dtype = x.scalar_type();
  const size_t M = members.size();
  std::vector<at::Tensor> ys(M);
  // Decoding: Linear's own path (the 4-bit gemv kernel; it adds the bias itself).
  const bool decode = !saved && decodingRows(x);
  if (decode) {
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
  std::vector<at::Tensor> xa(M);
  const bool training = dropout != nullptr;
  if (adapted.size() > 1 && (!training || noDropout(members))) {
    std::vector<at::Tensor> as;
    for (size_t j : adapted) as.push_back(asDtype(members[j]->lora->A, dtype));
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
      xa[j] = at::mm(keep.defined() ? x * keep : x, asDtype(a.A, dtype).t());
    }
  }
  for (size_t j : adapted) {
    const LoraAdapter& a = *members[j]->lora;
    ys[j].addmm_(xa[j], asDtype(a.B, dtype).t(), /*beta=*/1, /*alpha=*/a.scaling);
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
    dxa[j] = at::mm(dys[j], asDtype(a.B, dtype)).mul_(a.scaling);  // (rows, r)
  }
  bool shared = adapted.size() > 1;
  for (size_t j : adapted) shared = shared && !saved.keep[j].defined();
  if (shared) {
    std::vector<at::Tensor> parts, as;
    for (size_t j : adapted) {
      parts.push_back(dxa[j]);
      as.push_back(asDtype(members[j]->lora->A, dtype));
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
      at::Tensor back = at::mm(dxa[j], asDtype(a.A, dtype));  // d(drop(x)); times the mask for dx
      dx.add_(keep.defined() ? back * keep : back);
    }
  }
  return dx;
}

}  // namespace nq
