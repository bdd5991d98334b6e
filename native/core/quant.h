// bitsandbytes-style 4-bit weights (NF4 / FP4), in bitsandbytes' exact storage layout:
// blockwise absmax scaling (blocksize 64..4096), two 4-bit codes per byte with the first
// element in the high nibble, optional double quantization of the absmax (offset = mean,
// 8-bit blockwise over the signed dynamic map, blocksize 256, fp32 nested absmax).
// CPU reference implementations live here; on CUDA, dequantize() and gemv() call the kernels
// in native/kernels (kernels.h), which tests compare against these references.
// Not here: which layers are quantized (the model loader decides).
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/safetensors.h"

namespace nq::quant {

enum class Type { NF4, FP4 };
const char* typeName(Type t);  // "nf4" / "fp4"

// One 4-bit weight as bitsandbytes serializes a Linear4bit weight.
struct Weight4 {
  Type type = Type::NF4;
  int64_t blocksize = 64;             // elements per absmax block
  std::vector<int64_t> shape;         // original shape, e.g. (out, in)
  at::ScalarType dtype = at::kFloat;  // original dtype (quant_state "dtype")
  at::Tensor packed;                  // uint8 (ceil(numel / 2), 1)
  at::Tensor code;                    // float32 (16): value of each 4-bit index (quant_map)
  at::Tensor absmax;                  // float32 (nblocks); uint8 (nblocks) when nested
  bool nested = false;
  at::Tensor nestedAbsmax;            // float32 (ceil(nblocks / nestedBlocksize))
  at::Tensor nestedCode;              // float32 (256): the signed dynamic map
  int64_t nestedBlocksize = 256;
  float nestedOffset = 0.0f;          // mean of the absmax, added back after dequantizing it

  // The float32 absmax of a nested weight, built by absmaxFloatCached on first use and reused
  // (decoding calls gemv for every token, and rebuilding it cost a few small kernels each
  // time). Keyed by the absmax tensor it came from, so a copy whose tensors were replaced
  // (to(), clone()) rebuilds it. Like the rest of a model's state, not for concurrent threads.
  struct AbsmaxCache {
    at::Tensor source;  // w.absmax it was built from
    at::Tensor value;   // float32 (nblocks)
  };
  mutable std::shared_ptr<const AbsmaxCache> absmaxCache;

  int64_t numel() const;
  int64_t blocks() const;
  Weight4 to(at::Device device) const;  // every tensor moved
  int64_t bytes() const;                // storage of all tensors
};

// bitsandbytes' built-in maps, used when quantizing (a loaded file brings its own).
at::Tensor nf4Code();      // float32 (16)
at::Tensor fp4Code();      // float32 (16)
at::Tensor dynamicCode();  // float32 (256), signed dynamic map for the nested absmax

// Quantizes w (any float dtype, any device: the work runs on w's device with ATen ops, which
// give the same bytes on CPU and CUDA). Throws QUANT_INVALID for a blocksize outside
// 64..4096 or not a power of two. Every argument is the caller's (bitsandbytes' defaults,
// blocksize 64 with double quantization, live in src/config/defaults.ts).
Weight4 quantize(const at::Tensor& w, Type type, int64_t blocksize, bool doubleQuant);

// float32 per-block absmax (undoes double quantization): code8[q] * nested_absmax + offset.
at::Tensor absmaxFloat(const Weight4& w);
// The same, built once per weight and kept in w.absmaxCache (contiguous).
at::Tensor absmaxFloatCached(const Weight4& w);

// Dequantized weight with w.shape in `out` dtype, on w's device: the CUDA kernel when w is on
// CUDA (bit-identical to the reference), else dequantizeReference.
at::Tensor dequantize(const Weight4& w, at::ScalarType out);
// CPU reference: code[q] * absmax[block] in fp32, then cast. Runs on w's device with ATen ops.
at::Tensor dequantizeReference(const Weight4& w, at::ScalarType out);
// Dequantizes into `out`: contiguous, w.numel() elements of float32, bfloat16 or float16, any
// shape (e.g. a row slice of one buffer that q, k and v dequantize into for one GEMM). On
// CUDA the kernel writes it in place (out on w's device); elsewhere the reference is copied in.
void dequantizeInto(const Weight4& w, at::Tensor& out);

// y = x @ dequantize(w)^T for x (..., in) with few rows (decoding): the 4-bit gemv kernel on
// CUDA (never materializes the weight), dequantize + matmul elsewhere. Result in x's dtype.
at::Tensor gemv(const at::Tensor& x, const Weight4& w);
// The most rows of x that gemv reads the weight once for (so that decoding a batch of up to this
// many rows is cheaper through gemv than dequantize + matmul): 32 for bf16 / fp16 x on CUDA's
// tensor-core kernel (opt-in, NQ_GEMV_MMA=1), else 8.
int64_t gemvMaxRows(const at::Tensor& x);

// --- bitsandbytes serialization (Linear4bit state dict) ---
// `weightName` is the full tensor name, e.g. "model.layers.0.self_attn.q_proj.weight"; its
// companions are weightName + ".absmax", ".quant_map", ".nested_absmax", ".nested_quant_map",
// ".quant_state.bitsandbytes__nf4|fp4" (U8 bytes of a JSON object: quant_type, blocksize,
// dtype, shape, nested_blocksize, nested_dtype, nested_offset).
bool isSerialized(const st::Checkpoint& ckpt, const std::string& weightName);
// Throws QUANT_INVALID naming the tensor when a companion is missing or inconsistent, and
// WEIGHT_NONFINITE (st::requireFinite) when its quant_map or absmax holds NaN or Inf.
Weight4 readSerialized(const st::Checkpoint& ckpt, const std::string& weightName);
// The same over tensors already in memory (full name -> tensor, e.g. handed over from JS);
// `origin` starts every message.
Weight4 fromSerialized(const std::map<std::string, at::Tensor>& tensors, const std::string& weightName,
                       const std::string& origin);
// Appends the tensors bitsandbytes would write for this weight (CPU copies).
void appendSerialized(std::vector<std::pair<std::string, at::Tensor>>& out, const std::string& weightName,
                      const Weight4& w);

}  // namespace nq::quant
