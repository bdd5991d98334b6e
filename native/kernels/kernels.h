// Host entry points of the CUDA kernels (native/kernels/*.cu), compiled only when Torch has
// CUDA (NQ_WITH_CUDA). Each has a CPU reference in native/core (quant.h, norm, rope, mlp) that
// tests compare against, and a scalar reference in native/tools/kernel_check.cpp. Inputs:
// tensors on one CUDA device (contiguous unless said otherwise); launches go to the current
// stream and every launch is checked. "round" below = to the input's dtype, nearest even.
#pragma once
#include <ATen/ATen.h>

#include <tuple>

namespace nq::kernels {

// 4-bit blockwise dequantization. packed: uint8 (ceil(numel/2)); code: float32 (16);
// absmax: float32 (nblocks). Returns a flat (numel) tensor of `out` dtype (float32, bfloat16
// or float16): code[q] * absmax[i / blocksize] computed in fp32 (no FMA), then rounded to
// nearest even, bit-identical to quant::dequantizeReference.
at::Tensor dequantize4bit(const at::Tensor& packed, const at::Tensor& code, const at::Tensor& absmax,
                          int64_t blocksize, int64_t numel, at::ScalarType out);

// The same with a double-quantized absmax: absmax[b] = nestedCode[absmaxQ[b]] *
// nestedAbsmax[b / nestedBlocksize] + offset, computed in fp32 without FMA, in the kernel.
at::Tensor dequantize4bitNested(const at::Tensor& packed, const at::Tensor& code, const at::Tensor& absmaxQ,
                                const at::Tensor& nestedCode, const at::Tensor& nestedAbsmax,
                                int64_t nestedBlocksize, float offset, int64_t blocksize, int64_t numel,
                                at::ScalarType out);

// y (rows, out) = x (rows, in) @ W^T with W (out, in) stored 4-bit (row-major, as packed by
// bitsandbytes); absmax float32 (nblocks). For decoding: up to gemvMaxRows(dtype) rows read the
// weight once (more rows take several passes). The weight is never materialized; accumulation
// in fp32; result in x's dtype (float32, bfloat16, float16). One row runs the pair-table kernel
// (gemv_4bit_stream.cu), more rows the split kernel (gemv_4bit.cu): the same bits either way.
at::Tensor gemv4bit(const at::Tensor& x, const at::Tensor& packed, const at::Tensor& code,
                    const at::Tensor& absmax, int64_t blocksize, int64_t outFeatures, int64_t inFeatures);
// Rows one gemv4bit pass takes: 32 on the tensor-core kernel (bf16 / fp16, NQ_GEMV_MMA=1), else 8.
int64_t gemvMaxRows(at::ScalarType dtype);

// The two dequantizations writing into `out` instead of a new tensor: out is a contiguous CUDA
// tensor of numel elements (float32, bfloat16 or float16), for example a row slice of one
// preallocated buffer that q, k and v (or gate and up) dequantize into for a single GEMM.
// Same bits as dequantize4bit / dequantize4bitNested.
void dequantize4bitInto(const at::Tensor& packed, const at::Tensor& code, const at::Tensor& absmax,
                        int64_t blocksize, int64_t numel, at::Tensor& out);
void dequantize4bitNestedInto(const at::Tensor& packed, const at::Tensor& code, const at::Tensor& absmaxQ,
                              const at::Tensor& nestedCode, const at::Tensor& nestedAbsmax, int64_t nestedBlocksize,
                              float offset, int64_t blocksize, int64_t numel, at::Tensor& out);

// ---- fused training kernels (float32, bfloat16, float16) ----

// RMSNorm over the last dim of x (rows, C), contiguous. Returns y (x's shape and dtype) and
// rstd (rows) float32 = 1 / sqrt(mean(x_f32^2) + eps). weightPlusOne false (llama, qwen,
// mistral, phi; weight (C) in x's dtype): y = round(float(weight) * float(round(x_f32 * rstd)));
// true (gemma; weight (C) of any float dtype): y = round(x_f32 * rstd * (1 + float(weight))).
std::tuple<at::Tensor, at::Tensor> rmsNormForward(const at::Tensor& x, const at::Tensor& weight, double eps,
                                                  bool weightPlusOne);
// The same norm of sum = round(x + residual) (x's shape and dtype, rounded as ATen's add), in
// one pass: returns (sum, y, rstd).
std::tuple<at::Tensor, at::Tensor, at::Tensor> rmsNormAddForward(const at::Tensor& x, const at::Tensor& residual,
                                                                 const at::Tensor& weight, double eps,
                                                                 bool weightPlusOne);
// dx (x's shape and dtype) of the same map for a frozen weight: with w_eff = weight (or
// 1 + weight) in fp32, g = dy_f32 * w_eff, xhat = x_f32 * rstd:
// dx = round(rstd * (g - xhat * mean(g * xhat))). dy: x's shape and dtype; rstd from the forward.
at::Tensor rmsNormBackward(const at::Tensor& dy, const at::Tensor& x, const at::Tensor& weight,
                           const at::Tensor& rstd, bool weightPlusOne);

// Rotary embedding of x (N, heads, D) with strides (tokenStride >= heads * D, D, 1) (x may be
// a column slice of a fused q|k|v output); cos, sin (N, rotaryDim) contiguous in x's dtype.
// Returns a new contiguous (N, heads, D). With half = rotaryDim / 2 and i < half:
//   out[i]        = round(round(x[i] * cos[i]) + round(-x[i + half] * sin[i]))
//   out[i + half] = round(round(x[i + half] * cos[i + half]) + round(x[i] * sin[i + half]))
// (transformers' q * cos + rotate_half(q) * sin, bit for bit). inverse = true applies the
// gradient of that map in fp32, rounded once:
//   dx[i] = dy[i] * cos[i] + dy[i + half] * sin[i + half],
//   dx[i + half] = dy[i + half] * cos[i + half] - dy[i] * sin[i].
// Dims >= rotaryDim are copied. rotaryDim even, 0 < rotaryDim <= D.
at::Tensor ropeApply(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin, int64_t rotaryDim,
                     bool inverse);

// One decoding step (one new token per row) after the q/k/v projection, in one launch: q (rows,
// H*D), k and v (rows, KV*D), each with unit column stride and any row stride (column slices of
// one q|k|v output); qNorm, kNorm (D) the per-head RMSNorm weights (both or neither; as
// rmsNormForward takes them); cos, sin (rows, rotaryDim) in the dtype of keys; keys, values
// (rows, KV, capacity, D) contiguous; slot a one-element int64 tensor on the device: the cache
// position every row's new key and value go to. Writes k (normed, rotated) and v there, returns
// q normed and rotated as (rows, H, D): the same bits as rmsNormForward per head, then ropeApply,
// then the copies. decodeQkvSupported: whether the kernel takes a head of headDim elements.
bool decodeQkvSupported(int64_t headDim, int64_t rotaryDim);
at::Tensor decodeQkv(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& qNorm,
                     const at::Tensor& kNorm, double eps, bool weightPlusOne, const at::Tensor& cos,
                     const at::Tensor& sin, int64_t rotaryDim, at::Tensor& keys, at::Tensor& values,
                     const at::Tensor& slot);

// A group's adapters at decoding, in place: y (rows, out) += scaling * round(x @ A^T) @ B^T with
// x (rows, in), A (rank, in), B (out, rank) (the group's A stacked, B block-diagonal), fp32 sums
// (x @ A^T rounded to x's dtype, as a GEMM's output), y rounded once; two launches.
// loraDecodeSupported: rows <= 8, 0 < rank <= 64, in and rank multiples of 16 bytes, in at most
// 32 KB (8192 bf16), contiguous aligned inputs of one dtype.
bool loraDecodeSupported(const at::Tensor& x, const at::Tensor& a, const at::Tensor& b);
void loraDecodeAdd(at::Tensor& y, const at::Tensor& x, const at::Tensor& a, const at::Tensor& b, double scaling);

// Attention of one decoding step: q (B, H, D), keys and values (B, KV, S, D) (the whole cache),
// bias (B * KV, S) with unit column stride (rows may repeat: stride 0) added to the scores (0 or
// -inf: the model's decodingBias), H a multiple of KV.
// Returns (B, H, D) = round(sum_s p[s] v[s]) with p = round(softmax(round(scale * q.k + bias)))
// (softmax in fp32), as baddbmm, softmax and bmm round it. decodeAttentionSupported: contiguous
// (bias: see above) aligned inputs of one float dtype, S <= 4096, D of 64, 128 or 256 (32, 64, 128 in float32).
bool decodeAttentionSupported(const at::Tensor& q, const at::Tensor& keys, const at::Tensor& values,
                              const at::Tensor& bias);
at::Tensor decodeAttention(const at::Tensor& q, const at::Tensor& keys, const at::Tensor& values,
                           const at::Tensor& bias, double scale);

// Activations of the gated MLP: act(gate) * up.
enum GluActivation : int64_t { kSilu = 0, kGeluTanh = 1, kGeluErf = 2 };

// gate, up (rows, I) with unit column stride and any row stride (each may be a column slice
// of one (rows, 2I) tensor). Returns out (rows, I) contiguous = round(round(act(gate_f32)) *
// float(up)): transformers rounds the activation to the compute dtype before the product.
at::Tensor gluForward(const at::Tensor& gate, const at::Tensor& up, int64_t act);
// dgate = round(dout * up * act'(gate)), dup = round(dout * round(act(gate))), fp32 math,
// written into dgate, dup (rows, I) with unit column stride and any row stride. dout (rows, I)
// with unit column stride. dgate may be gate and dup may be up (the same tensors: each thread
// reads its elements before it writes them), which the training backward uses to keep no second
// (rows, 2I) buffer.
void gluBackward(const at::Tensor& dout, const at::Tensor& gate, const at::Tensor& up, int64_t act,
                 at::Tensor& dgate, at::Tensor& dup);

}  // namespace nq::kernels
