// See mlp.h.
#include "core/mlp.h"

#ifdef NQ_WITH_CUDA
#include "kernels/kernels.h"
#endif

namespace nq {

namespace {
at::Tensor activate(const at::Tensor& g, Activation act) {
  switch (act) {
    case Activation::Silu: return at::silu(g);
    case Activation::GeluTanh: return at::gelu(g, "tanh");
    case Activation::Gelu: return at::gelu(g);
  }
  return g;
}

// d act(g) / dg times `grad`.
at::Tensor activateBackward(const at::Tensor& grad, const at::Tensor& g, Activation act) {
  switch (act) {
    case Activation::Silu: return at::silu_backward(grad, g);
    case Activation::GeluTanh: return at::gelu_backward(grad, g, "tanh");
    case Activation::Gelu: return at::gelu_backward(grad, g);
  }
  return grad;
}

#ifdef NQ_WITH_CUDA
int64_t kernelAct(Activation act) { return act == Activation::Silu ? 0 : act == Activation::GeluTanh ? 1 : 2; }
#endif

GluGrads splitBuffer(const at::Tensor& like, int64_t rows, int64_t I) {
  at::Tensor buf = at::empty({rows, 2 * I}, like.options());
  return {buf.slice(1, 0, I), buf.slice(1, I)};
}
}  // namespace

at::Tensor gluForwardReference(const at::Tensor& gate, const at::Tensor& up, Activation act) {
  return activate(gate, act) * up;
}

GluGrads gluBackwardReference(const at::Tensor& dout, const at::Tensor& gate, const at::Tensor& up, Activation act) {
  GluGrads g = splitBuffer(dout, dout.size(0), dout.size(1));
  at::Tensor d = dout.to(at::kFloat);
  g.dgate.copy_(activateBackward(d * up.to(at::kFloat), gate.to(at::kFloat), act));
  g.dup.copy_(d * activate(gate, act).to(at::kFloat));
  return g;
}

at::Tensor gluForward(const at::Tensor& gate, const at::Tensor& up, Activation act) {
#ifdef NQ_WITH_CUDA
  if (gate.is_cuda()) return kernels::gluForward(gate, up, kernelAct(act));
#endif
  return gluForwardReference(gate, up, act);
}

GluGrads gluBackwardOverwriting(const at::Tensor& dout, const at::Tensor& gate, const at::Tensor& up, Activation act) {
#ifdef NQ_WITH_CUDA
  if (gate.is_cuda()) {
    GluGrads g{gate, up};
    kernels::gluBackward(dout.contiguous(), gate, up, kernelAct(act), g.dgate, g.dup);
    return g;
  }
#endif
  return gluBackwardReference(dout, gate, up, act);
}

}  // namespace nq
