// bitsandbytes-compatible 4-bit quantization (see quant.h). Every number this file produces is
// meant to equal, byte for byte, what bitsandbytes 0.50 writes on CPU:
//   - 4-bit: backends/default quantize_4bit (absmax per block; full blocks scaled by the fp32
//     reciprocal of max(absmax, 1e-38), a trailing partial block divided by its clamped absmax
//     which is also what gets stored; bucketize against midpoints of the sorted code; FP4's
//     sort is stable, so 0 maps to index 0 and tiny positives to index 8).
//   - nested absmax: offset = torch's CPU float32 mean, then the native CPU blockwise 8-bit
//     quantizer (blocksize 256): x * (1 / absmax), then a 65536-entry table over [-1, 1] whose
//     entries hold the code index nearest to each grid point by fp32 midpoints.
// Only exactly rounded fp32 ops (abs, max, reciprocal, multiply, divide, compare) are used on
// the device, so CPU and CUDA give the same bytes. The nested step runs on the CPU in every
// case: it touches one float per block and the mean must use one summation order.
#include "core/quant.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <numeric>

#include "core/errors.h"
#include "core/json.h"

#ifdef NQ_WITH_CUDA
#include "kernels/kernels.h"
#endif

namespace nq::quant {
namespace {

constexpr int64_t kNestedBlocksize = 256;
constexpr int64_t kMaxChunkElements = int64_t{1} << 24;  // bounds device temporaries (16M fp32)
constexpr int kLutSize = 65536;

[[noreturn]] void invalid(const std::string& message) { throw nq::Error("QUANT_INVALID", message); }

std::string shapeText(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

std::string shapeText(at::IntArrayRef shape) { return shapeText(shape.vec()); }

// bitsandbytes' names of the dtypes a 4-bit weight may come from (str(torch.dtype) minus "torch.").
const char* dtypeText(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kBFloat16: return "bfloat16";
    case at::kHalf: return "float16";
    default: return nullptr;
  }
}

bool dtypeFromText(const std::string& s, at::ScalarType& out) {
  for (at::ScalarType t : {at::kFloat, at::kBFloat16, at::kHalf}) {
    if (s == dtypeText(t)) {
      out = t;
      return true;
    }
  }
  return false;
}

void checkBlocksize(int64_t blocksize, const char* what) {
  if (blocksize < 64 || blocksize > 4096 || (blocksize & (blocksize - 1)) != 0) {
    invalid(std::string(what) + " must be a power of two between 64 and 4096 but received " +
            std::to_string(blocksize));
  }
}

at::Tensor floatVector(const std::vector<float>& values) {
  return at::from_blob(const_cast<float*>(values.data()), {static_cast<int64_t>(values.size())}, at::kFloat)
      .clone();
}

// Python's repr() of a double (what json.dumps writes): shortest round-trip digits, positional
// notation for 1e-4 <= |x| < 1e16, else d.ddde+XX.
std::string pythonFloatRepr(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string sci(buf, res.ptr);  // e.g. "-2.617932081222534e+00"
  std::string sign;
  if (!sci.empty() && sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  const size_t e = sci.find('e');
  std::string digits = sci.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  const int exponent = std::stoi(sci.substr(e + 1));
  if (digits == "0") return sign + "0.0";
  const int decpt = exponent + 1;  // value = 0.DIGITS * 10^decpt
  const int n = static_cast<int>(digits.size());
  if (decpt <= -4 || decpt > 16) {
    std::string mant = digits.substr(0, 1);
    if (n > 1) mant += "." + digits.substr(1);
    const int x = decpt - 1;
    std::string ex = std::to_string(std::abs(x));
    if (ex.size() < 2) ex = "0" + ex;
    return sign + mant + "e" + (x < 0 ? "-" : "+") + ex;
  }
  if (decpt <= 0) return sign + "0." + std::string(-decpt, '0') + digits;
  if (decpt >= n) return sign + digits + std::string(decpt - n, '0') + ".0";
  return sign + digits.substr(0, decpt) + "." + digits.substr(decpt);
}

// Sort order of a 16-entry code and the midpoints between neighbours in that order (fp32, as
// torch computes (a + b) / 2). Stable, as torch's argsort turns out on these tables.
struct Bounds {
  std::vector<int64_t> order;
  std::vector<float> mid;
};

Bounds codeBounds(const at::Tensor& code) {
  at::Tensor c = code.to(at::kCPU, at::kFloat).contiguous();
  const float* v = c.const_data_ptr<float>();
  Bounds b;
  b.order.resize(16);
  std::iota(b.order.begin(), b.order.end(), 0);
  std::stable_sort(b.order.begin(), b.order.end(), [&](int64_t x, int64_t y) { return v[x] < v[y]; });
  for (int i = 0; i + 1 < 16; ++i) b.mid.push_back((v[b.order[i]] + v[b.order[i + 1]]) / 2.0f);
  return b;
}

// Entry i: index of the code value nearest to -1 + 2i/65535, by fp32 midpoints (ties go left).
std::vector<uint8_t> dynamicLut(const float* code) {
  std::array<float, 255> mid;
  for (int i = 0; i < 255; ++i) mid[i] = 0.5f * (code[i] + code[i + 1]);
  std::vector<uint8_t> lut(kLutSize);
  int idx = 0;
  for (int i = 0; i < kLutSize; ++i) {
    const float grid = -1.0f + (2.0f * static_cast<float>(i)) / static_cast<float>(kLutSize - 1);
    while (idx < 255 && mid[idx] < grid) ++idx;
    lut[i] = static_cast<uint8_t>(idx);
  }
  return lut;
}

// 8-bit blockwise quantization of x over the signed dynamic map (CPU, plain fp32 arithmetic).
// x: float32 (n); returns q uint8 (n) and absmax float32 (ceil(n / blocksize)).
std::pair<at::Tensor, at::Tensor> quantizeBlockwise8(const at::Tensor& x, const at::Tensor& code, int64_t blocksize) {
  at::Tensor xc = x.to(at::kCPU, at::kFloat).contiguous();
  at::Tensor codeCpu = code.to(at::kCPU, at::kFloat).contiguous();
  const std::vector<uint8_t> lut = dynamicLut(codeCpu.const_data_ptr<float>());
  const int64_t n = xc.numel();
  const int64_t nblocks = (n + blocksize - 1) / blocksize;
  at::Tensor q = at::empty({n}, at::kByte);
  at::Tensor absmax = at::empty({nblocks}, at::kFloat);
  const float* a = xc.const_data_ptr<float>();
  uint8_t* out = q.data_ptr<uint8_t>();
  float* am = absmax.data_ptr<float>();
  for (int64_t b = 0; b < nblocks; ++b) {
    const int64_t begin = b * blocksize, end = std::min(begin + blocksize, n);
    float m = 0.0f;
    for (int64_t i = begin; i < end; ++i) m = std::max(m, std::fabs(a[i]));
    am[b] = m;
    if (m == 0.0f) {
      std::fill(out + begin, out + end, uint8_t{0});
      continue;
    }
    const float inv = 1.0f / m;
    for (int64_t i = begin; i < end; ++i) {
      float v = a[i] * inv;
      if (std::isnan(v)) v = -1.0f;  // 0 * inf when 1 / m overflows; bitsandbytes' index 0
      v = std::clamp(v, -1.0f, 1.0f);
      const float t = ((v + 1.0f) * 0.5f) * static_cast<float>(kLutSize - 1);
      out[i] = lut[static_cast<uint16_t>(t + 0.5f)];
    }
  }
  return {q, absmax};
}

// bitsandbytes' offset: torch's CPU float32 mean (on the CPU for CUDA weights too, so both
// devices agree). Below 32768 blocks torch sums serially and the result is fixed; above, torch
// splits the sum across its intra-op threads, so the last bit of the offset (as bitsandbytes'
// own) depends on the thread count. Code compiled without OpenMP cannot make torch sum serially.
float absmaxMean(const at::Tensor& x) { return x.to(at::kCPU, at::kFloat).contiguous().mean().item<float>(); }

std::string dtypeLabel(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "F32";
    case at::kBFloat16: return "BF16";
    case at::kHalf: return "F16";
    case at::kByte: return "U8";
    default: return c10::toString(t);
  }
}

// `what` names the tensor as a file would ("<origin>: \"<name>.absmax\"").
void requireTensor(const at::Tensor& t, const std::string& what, at::ScalarType dtype, int64_t numel) {
  if (!t.defined()) invalid(what + " is missing");
  if (t.scalar_type() != dtype) invalid(what + " must be " + dtypeLabel(dtype) + " but is " + dtypeLabel(t.scalar_type()));
  if (t.numel() != numel) {
    invalid(what + " must hold " + std::to_string(numel) + " elements but has shape " + shapeText(t.sizes()));
  }
}

// The invariants dequantization relies on; messages name `origin` and the tensor at fault.
void validate(const Weight4& w, const std::string& origin, const std::string& weightName = "weight") {
  auto name = [&](const char* suffix) { return origin + ": \"" + weightName + suffix + "\""; };
  for (int64_t d : w.shape) {
    if (d < 0) invalid(name("") + ": shape " + shapeText(w.shape) + " has a negative dimension");
  }
  checkBlocksize(w.blocksize, (name("") + ": blocksize").c_str());
  if (!dtypeText(w.dtype)) invalid(name("") + ": dtype must be float32, bfloat16 or float16");
  const int64_t n = w.numel();
  requireTensor(w.packed, name("") + " (packed 4-bit data)", at::kByte, (n + 1) / 2);
  requireTensor(w.code, name(".quant_map"), at::kFloat, 16);
  if (!w.nested) {
    requireTensor(w.absmax, name(".absmax"), at::kFloat, w.blocks());
    return;
  }
  requireTensor(w.absmax, name(".absmax"), at::kByte, w.blocks());
  if (w.nestedBlocksize <= 0) invalid(name("") + ": nested_blocksize must be positive");
  requireTensor(w.nestedAbsmax, name(".nested_absmax"), at::kFloat,
                (w.blocks() + w.nestedBlocksize - 1) / w.nestedBlocksize);
  requireTensor(w.nestedCode, name(".nested_quant_map"), at::kFloat, 256);
}

// code[q] * absmax for 4-bit indices of elements [e0, e1) (e0 even), in fp32.
at::Tensor dequantizeRange(const Weight4& w, const at::Tensor& absmax, int64_t e0, int64_t e1) {
  const int64_t len = e1 - e0;
  at::Tensor bytes = w.packed.reshape({-1}).slice(0, e0 / 2, (e1 + 1) / 2).to(at::kInt);
  at::Tensor idx = at::stack({bytes.bitwise_right_shift(4), bytes.bitwise_and(15)}, 1).reshape({-1}).slice(0, 0, len);
  at::Tensor values = w.code.index_select(0, idx.to(at::kLong));
  at::Tensor blockOf = at::arange(e0, e1, idx.options().dtype(at::kLong)).div(w.blocksize, "floor");
  return values.mul(absmax.index_select(0, blockOf));
}

}  // namespace

const char* typeName(Type t) { return t == Type::NF4 ? "nf4" : "fp4"; }

int64_t Weight4::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int64_t Weight4::blocks() const { return (numel() + blocksize - 1) / blocksize; }

Weight4 Weight4::to(at::Device device) const {
  Weight4 w = *this;
  for (at::Tensor* t : {&w.packed, &w.code, &w.absmax, &w.nestedAbsmax, &w.nestedCode}) {
    if (t->defined()) *t = t->to(device);
  }
  return w;
}

int64_t Weight4::bytes() const {
  int64_t total = 0;
  for (const at::Tensor* t : {&packed, &code, &absmax, &nestedAbsmax, &nestedCode}) {
    if (t->defined()) total += static_cast<int64_t>(t->nbytes());
  }
  return total;
}

at::Tensor nf4Code() {
  // Quantiles of N(0, 1) (QLoRA's NormalFloat4), as bitsandbytes lists them; exact in fp32.
  static const std::vector<float> values = {
      -1.0f,
      static_cast<float>(-0.6961928009986877),
      static_cast<float>(-0.5250730514526367),
      static_cast<float>(-0.39491748809814453),
      static_cast<float>(-0.28444138169288635),
      static_cast<float>(-0.18477343022823334),
      static_cast<float>(-0.09105003625154495),
      0.0f,
      static_cast<float>(0.07958029955625534),
      static_cast<float>(0.16093020141124725),
      static_cast<float>(0.24611230194568634),
      static_cast<float>(0.33791524171829224),
      static_cast<float>(0.44070982933044434),
      static_cast<float>(0.5626170039176941),
      static_cast<float>(0.7229568362236023),
      1.0f,
  };
  return floatVector(values);
}

at::Tensor fp4Code() {
  // 1 sign, 2 exponent, 1 mantissa bit in bit-pattern order, normalized by the largest
  // magnitude (12) in fp32. bitsandbytes writes "-0" as the integer 0, so index 8 is +0.
  static const float raw[16] = {0, 0.0625f, 8, 12, 4, 6, 2, 3, 0, -0.0625f, -8, -12, -4, -6, -2, -3};
  std::vector<float> values(16);
  for (int i = 0; i < 16; ++i) values[i] = raw[i] / 12.0f;
  return floatVector(values);
}

at::Tensor dynamicCode() {
  // create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): for exponent step i,
  // the 2^i midpoints of an fp32 linspace(0.1, 1, 2^i + 1) scaled by +-10^(i-6), plus 0 and 1,
  // sorted. Built with the same torch ops so every rounding matches.
  std::vector<float> data;
  for (int i = 0; i < 7; ++i) {
    at::Tensor bounds = at::linspace(0.1, 1.0, (int64_t{1} << i) + 1, at::kFloat);
    at::Tensor means = (bounds.slice(0, 0, -1) + bounds.slice(0, 1)) / 2.0;
    const double scale = std::pow(10.0, -6 + i);
    at::Tensor pos = (means * scale).contiguous();
    at::Tensor neg = (means * -scale).contiguous();
    data.insert(data.end(), pos.const_data_ptr<float>(), pos.const_data_ptr<float>() + pos.numel());
    data.insert(data.end(), neg.const_data_ptr<float>(), neg.const_data_ptr<float>() + neg.numel());
  }
  data.push_back(0.0f);
  data.push_back(1.0f);
  std::sort(data.begin(), data.end());
  return floatVector(data);
}

Weight4 quantize(const at::Tensor& w, Type type, int64_t blocksize, bool doubleQuant) {
  if (!w.defined()) invalid("quantize: the weight tensor is undefined");
  checkBlocksize(blocksize, "quantize: blocksize");
  if (!dtypeText(w.scalar_type())) {
    invalid(std::string("quantize: weight dtype must be float32, bfloat16 or float16 but is ") +
            c10::toString(w.scalar_type()));
  }
  const int64_t n = w.numel();
  if (n == 0) invalid("quantize: the weight of shape " + shapeText(w.sizes()) + " is empty");

  const at::Device device = w.device();
  const auto fopts = at::TensorOptions().device(device).dtype(at::kFloat);
  Weight4 out;
  out.type = type;
  out.blocksize = blocksize;
  out.shape = w.sizes().vec();
  out.dtype = w.scalar_type();
  out.code = (type == Type::NF4 ? nf4Code() : fp4Code()).to(device);

  const Bounds bounds = codeBounds(out.code);
  at::Tensor mid = floatVector(bounds.mid).to(device);
  at::Tensor order = at::tensor(bounds.order, at::kLong).to(device);

  const int64_t nblocks = out.blocks();
  at::Tensor absmax = at::empty({nblocks}, fopts);
  out.packed = at::empty({(n + 1) / 2, 1}, fopts.dtype(at::kByte));
  at::Tensor packedFlat = out.packed.view({-1});
  at::Tensor flat = w.reshape({-1});

  const int64_t chunk = std::max<int64_t>(1, kMaxChunkElements / blocksize) * blocksize;
  for (int64_t e0 = 0; e0 < n; e0 += chunk) {
    const int64_t e1 = std::min(e0 + chunk, n);
    at::Tensor x = flat.slice(0, e0, e1).to(at::kFloat);
    const int64_t full = (e1 - e0) / blocksize;
    const int64_t fullLen = full * blocksize;
    std::vector<at::Tensor> scaledParts;
    if (full > 0) {
      at::Tensor blk = x.slice(0, 0, fullLen).view({full, blocksize});
      at::Tensor am = blk.abs().amax(1);
      absmax.slice(0, e0 / blocksize, e0 / blocksize + full).copy_(am);
      at::Tensor inv = am.clamp_min(1e-38).reciprocal();
      scaledParts.push_back(blk.mul(inv.unsqueeze(1)).clamp(-1, 1).view({-1}));
    }
    if (fullLen < e1 - e0) {  // the trailing partial block: divided, and its absmax stored clamped
      at::Tensor rest = x.slice(0, fullLen);
      at::Tensor am = rest.abs().amax().clamp_min(1e-38);
      absmax.slice(0, nblocks - 1).copy_(am.reshape({1}));
      scaledParts.push_back(rest.div(am).clamp(-1, 1));
    }
    if ((e1 - e0) % 2) scaledParts.push_back(at::zeros({1}, fopts));
    at::Tensor scaled = scaledParts.size() == 1 ? scaledParts[0] : at::cat(scaledParts);
    at::Tensor q = at::bucketize(scaled, mid, /*out_int32=*/false, /*right=*/false);
    if (type == Type::FP4) q = order.index_select(0, q);
    at::Tensor pairs = q.to(at::kByte).view({-1, 2});
    at::Tensor bytes = pairs.select(1, 0).bitwise_left_shift(4).bitwise_or(pairs.select(1, 1));
    packedFlat.slice(0, e0 / 2, e0 / 2 + bytes.numel()).copy_(bytes);
  }

  if (!doubleQuant) {
    out.absmax = absmax;
    return out;
  }
  // Double quantization on the CPU (one float per block; see the file comment).
  at::Tensor absmaxCpu = absmax.to(at::kCPU);
  const float offset = absmaxMean(absmaxCpu);
  at::Tensor centered = absmaxCpu.sub(offset);
  at::Tensor nestedCode = dynamicCode();
  auto [q8, nestedAbsmax] = quantizeBlockwise8(centered, nestedCode, kNestedBlocksize);
  out.nested = true;
  out.absmax = q8.to(device);
  out.nestedAbsmax = nestedAbsmax.to(device);
  out.nestedCode = nestedCode.to(device);
  out.nestedBlocksize = kNestedBlocksize;
  out.nestedOffset = offset;
  return out;
}

at::Tensor absmaxFloat(const Weight4& w) {
  if (!w.nested) return w.absmax.reshape({-1});
  const int64_t nblocks = w.absmax.numel();
  at::Tensor q = w.absmax.reshape({-1}).to(at::kLong);
  at::Tensor group = at::arange(nblocks, q.options()).div(w.nestedBlocksize, "floor");
  at::Tensor scaled = w.nestedCode.index_select(0, q).mul(w.nestedAbsmax.index_select(0, group));
  return scaled.add(w.nestedOffset);  // two roundings, as bitsandbytes: multiply, then add
}

at::Tensor absmaxFloatCached(const Weight4& w) {
  const std::shared_ptr<const Weight4::AbsmaxCache> cache = w.absmaxCache;
  if (cache && cache->source.is_same(w.absmax)) return cache->value;
  at::Tensor value = absmaxFloat(w).contiguous();
  w.absmaxCache = std::make_shared<const Weight4::AbsmaxCache>(Weight4::AbsmaxCache{w.absmax, value});
  return value;
}

at::Tensor dequantizeReference(const Weight4& w, at::ScalarType out) {
  validate(w, "dequantize");
  if (!dtypeText(out)) invalid("dequantize: output dtype must be float32, bfloat16 or float16");
  const int64_t n = w.numel();
  at::Tensor absmax = absmaxFloat(w);
  at::Tensor result = at::empty({n}, absmax.options().dtype(out));
  const int64_t chunk = std::max<int64_t>(1, kMaxChunkElements / w.blocksize) * w.blocksize;
  for (int64_t e0 = 0; e0 < n; e0 += chunk) {
    const int64_t e1 = std::min(e0 + chunk, n);
    result.slice(0, e0, e1).copy_(dequantizeRange(w, absmax, e0, e1));  // copy_ rounds to nearest even
  }
  return result.view(w.shape);
}

at::Tensor dequantize(const Weight4& w, at::ScalarType out) {
#ifdef NQ_WITH_CUDA
  if (w.packed.defined() && w.packed.is_cuda()) {
    validate(w, "dequantize");
    if (!dtypeText(out)) invalid("dequantize: output dtype must be float32, bfloat16 or float16");
    at::Tensor result = at::empty(w.shape, w.packed.options().dtype(out));
    dequantizeInto(w, result);
    return result;
  }
#endif
  return dequantizeReference(w, out);
}

void dequantizeInto(const Weight4& w, at::Tensor& out) {
  validate(w, "dequantizeInto");
  if (!out.defined() || !dtypeText(out.scalar_type())) {
    invalid("dequantizeInto: out must be a float32, bfloat16 or float16 tensor");
  }
  if (!out.is_contiguous() || out.numel() != w.numel()) {
    invalid("dequantizeInto: out must be contiguous with " + std::to_string(w.numel()) +
            " elements (the weight's), got shape " + shapeText(out.sizes()) + (out.is_contiguous() ? "" : " (strided)"));
  }
#ifdef NQ_WITH_CUDA
  if (w.packed.is_cuda()) {
    if (out.device() != w.packed.device()) {
      invalid("dequantizeInto: out is on " + out.device().str() + " but the weight is on " +
              w.packed.device().str() + "; allocate out on the weight's device");
    }
    if (w.nested) {
      kernels::dequantize4bitNestedInto(w.packed.contiguous(), w.code.contiguous(), w.absmax.contiguous(),
                                        w.nestedCode.contiguous(), w.nestedAbsmax.contiguous(), w.nestedBlocksize,
                                        w.nestedOffset, w.blocksize, w.numel(), out);
    } else {
      kernels::dequantize4bitInto(w.packed.contiguous(), w.code.contiguous(), w.absmax.contiguous(), w.blocksize,
                                  w.numel(), out);
    }
    return;
  }
#endif
  out.copy_(dequantizeReference(w, out.scalar_type()).view(out.sizes()));
}

at::Tensor gemv(const at::Tensor& x, const Weight4& w) {
  if (w.shape.size() != 2) invalid("gemv: the 4-bit weight must be 2-D (out, in) but has shape " + shapeText(w.shape));
  if (!x.defined() || x.dim() < 1 || x.size(-1) != w.shape[1]) {
    invalid("gemv: x must end in the weight's input size " + std::to_string(w.shape[1]) + " but has shape " +
            (x.defined() ? shapeText(x.sizes()) : std::string("(undefined)")));
  }
  if (!dtypeText(x.scalar_type())) invalid("gemv: x must be float32, bfloat16 or float16");
#ifdef NQ_WITH_CUDA
  if (x.is_cuda() && w.packed.defined() && w.packed.is_cuda()) {
    validate(w, "gemv");
    std::vector<int64_t> outShape = x.sizes().vec();
    outShape.back() = w.shape[0];
    at::Tensor x2 = x.reshape({-1, w.shape[1]}).contiguous();
    at::Tensor y = kernels::gemv4bit(x2, w.packed.contiguous(), w.code.contiguous(), absmaxFloatCached(w),
                                     w.blocksize, w.shape[0], w.shape[1]);
    return y.view(outShape);
  }
#endif
  return at::linear(x, dequantizeReference(w, x.scalar_type()));
}

int64_t gemvMaxRows(const at::Tensor& x) {
#ifdef NQ_WITH_CUDA
  if (x.is_cuda()) return kernels::gemvMaxRows(x.scalar_type());
#endif
  return 8;
}

// --- serialization ---

namespace {

const char* kQuantStatePrefix = ".quant_state.bitsandbytes__";

std::string quantStateJson(const Weight4& w) {
  std::string s = "{\"quant_type\": \"";
  s += typeName(w.type);
  s += "\", \"blocksize\": " + std::to_string(w.blocksize);
  s += ", \"dtype\": \"" + std::string(dtypeText(w.dtype)) + "\"";
  s += ", \"shape\": " + shapeText(w.shape);
  if (w.nested) {
    s += ", \"nested_blocksize\": " + std::to_string(w.nestedBlocksize);
    s += ", \"nested_dtype\": \"float32\"";
    s += ", \"nested_offset\": " + pythonFloatRepr(static_cast<double>(w.nestedOffset));
  }
  return s + "}";
}

const json::Value& member(const json::Value& obj, const char* key, const std::string& where) {
  const json::Value* v = obj.get(key);
  if (!v) invalid(where + " lacks \"" + key + "\"");
  return *v;
}

int64_t intMember(const json::Value& obj, const char* key, const std::string& where) {
  const json::Value& v = member(obj, key, where);
  if (!v.isNumber() || !v.isInteger()) {
    invalid(where + ": \"" + key + "\" must be an integer but is " + (v.isNumber() ? v.numberText() : v.typeName()));
  }
  try {
    return v.asInt64();
  } catch (const json::TypeError&) {
    invalid(where + ": \"" + key + "\" is out of range: " + v.numberText());
  }
}

const std::string& stringMember(const json::Value& obj, const char* key, const std::string& where) {
  const json::Value& v = member(obj, key, where);
  if (!v.isString()) invalid(where + ": \"" + key + "\" must be a string but is " + v.typeName());
  return v.asString();
}

}  // namespace

bool isSerialized(const st::Checkpoint& ckpt, const std::string& weightName) {
  return ckpt.has(weightName + kQuantStatePrefix + "nf4") || ckpt.has(weightName + kQuantStatePrefix + "fp4");
}

namespace {

// The reader behind readSerialized / fromSerialized: `has` / `get` look tensors up by full name;
// `origin` (a directory, "JS tensors") starts every message.
Weight4 parseSerialized(const std::function<bool(const std::string&)>& has,
                        const std::function<at::Tensor(const std::string&)>& get, const std::string& weightName,
                        const std::string& origin) {
  const std::string nf4Key = weightName + kQuantStatePrefix + "nf4";
  const std::string fp4Key = weightName + kQuantStatePrefix + "fp4";
  const bool hasNf4 = has(nf4Key), hasFp4 = has(fp4Key);
  if (hasNf4 && hasFp4) invalid(origin + ": \"" + weightName + "\" has both an nf4 and an fp4 quant_state");
  if (!hasNf4 && !hasFp4) {
    invalid(origin + ": \"" + weightName + "\" has no quant_state (expected \"" + nf4Key + "\" or \"" + fp4Key +
            "\")");
  }
  const std::string stateKey = hasNf4 ? nf4Key : fp4Key;
  const std::string where = origin + ": \"" + stateKey + "\"";

  auto fetch = [&](const std::string& suffix) -> at::Tensor {
    const std::string name = weightName + suffix;
    if (!has(name)) invalid(origin + ": 4-bit weight \"" + weightName + "\" lacks its tensor \"" + name + "\"");
    return get(name);
  };

  at::Tensor stateBytes = fetch(std::string(kQuantStatePrefix) + (hasNf4 ? "nf4" : "fp4"));
  if (stateBytes.scalar_type() != at::kByte) invalid(where + " must be U8 bytes of JSON");
  stateBytes = stateBytes.contiguous();
  const std::string text(reinterpret_cast<const char*>(stateBytes.const_data_ptr<uint8_t>()),
                         static_cast<size_t>(stateBytes.numel()));
  json::Value state;
  try {
    state = json::parse(text);
  } catch (const json::ParseError& e) {
    invalid(where + " is not valid JSON: " + e.what());
  }
  if (!state.isObject()) invalid(where + " must be a JSON object but is " + state.typeName());

  Weight4 w;
  const std::string& qt = stringMember(state, "quant_type", where);
  if (qt != (hasNf4 ? "nf4" : "fp4")) {
    invalid(where + ": \"quant_type\" is \"" + qt + "\" but the tensor name says " + (hasNf4 ? "nf4" : "fp4"));
  }
  w.type = hasNf4 ? Type::NF4 : Type::FP4;
  w.blocksize = intMember(state, "blocksize", where);
  checkBlocksize(w.blocksize, (where + ": \"blocksize\"").c_str());
  const std::string& dtype = stringMember(state, "dtype", where);
  if (!dtypeFromText(dtype, w.dtype)) {
    invalid(where + ": \"dtype\" must be \"float32\", \"bfloat16\" or \"float16\" but is \"" + dtype + "\"");
  }
  const json::Value& shape = member(state, "shape", where);
  if (!shape.isArray()) invalid(where + ": \"shape\" must be a list of non-negative integers");
  int64_t numel = 1;
  for (const json::Value& d : shape.elements()) {
    if (!d.isNumber() || !d.isInteger() || d.numberText()[0] == '-') {
      invalid(where + ": \"shape\" must be a list of non-negative integers");
    }
    int64_t dim = 0;
    try {
      dim = d.asInt64();
    } catch (const json::TypeError&) {
      invalid(where + ": \"shape\" entry " + d.numberText() + " is out of range");
    }
    if (dim != 0 && numel > (int64_t{1} << 50) / dim) invalid(where + ": \"shape\" is too large");
    numel *= dim;
    w.shape.push_back(dim);
  }

  // The packed data: uint8 (ceil(n / 2), 1); other storage dtypes hold the same bytes.
  at::Tensor packed = fetch("").contiguous();
  if (packed.scalar_type() != at::kByte) packed = packed.reshape({-1}).view(at::kByte);
  if (packed.numel() != (numel + 1) / 2) {
    invalid(origin + ": \"" + weightName + "\" holds " + std::to_string(packed.numel()) +
            " bytes but its quant_state shape " + shapeText(w.shape) + " needs " + std::to_string((numel + 1) / 2));
  }
  w.packed = packed.reshape({-1, 1});
  w.code = fetch(".quant_map");
  w.absmax = fetch(".absmax");

  const bool nestedInState = state.get("nested_offset") != nullptr;
  const bool nestedTensors = has(weightName + ".nested_absmax");
  if (nestedInState != nestedTensors) {
    invalid(nestedInState ? origin + ": 4-bit weight \"" + weightName + "\" lacks its tensor \"" + weightName +
                                ".nested_absmax\""
                          : where + " lacks \"nested_offset\" while \"" + weightName + ".nested_absmax\" exists");
  }
  if (nestedInState) {
    w.nested = true;
    w.nestedAbsmax = fetch(".nested_absmax");
    w.nestedCode = fetch(".nested_quant_map");
    w.nestedBlocksize = intMember(state, "nested_blocksize", where);
    if (w.nestedBlocksize <= 0) invalid(where + ": \"nested_blocksize\" must be positive");
    const std::string& nestedDtype = stringMember(state, "nested_dtype", where);
    if (nestedDtype != "float32") invalid(where + ": \"nested_dtype\" must be \"float32\" but is \"" + nestedDtype + "\"");
    const json::Value& off = member(state, "nested_offset", where);
    if (!off.isNumber()) invalid(where + ": \"nested_offset\" must be a number but is " + off.typeName());
    w.nestedOffset = static_cast<float>(off.asDouble());
  }
  validate(w, origin, weightName);
  return w;
}

}  // namespace

Weight4 readSerialized(const st::Checkpoint& ckpt, const std::string& weightName) {
  Weight4 w = parseSerialized([&](const std::string& n) { return ckpt.has(n); },
                              [&](const std::string& n) { return ckpt.get(n); }, weightName, ckpt.dir());
  // The packed codes cannot be NaN; the scales can. absmaxFloat folds in the nested absmax.
  st::requireFinite(w.code, weightName + ".quant_map", ckpt.fileOf(weightName + ".quant_map"));
  st::requireFinite(absmaxFloat(w), weightName + (w.nested ? ".absmax (with its .nested_absmax)" : ".absmax"),
                    ckpt.fileOf(weightName + ".absmax"));
  return w;
}

Weight4 fromSerialized(const std::map<std::string, at::Tensor>& tensors, const std::string& weightName,
                       const std::string& origin) {
  return parseSerialized([&](const std::string& n) { return tensors.count(n) > 0; },
                         [&](const std::string& n) { return tensors.at(n); }, weightName, origin);
}

void appendSerialized(std::vector<std::pair<std::string, at::Tensor>>& out, const std::string& weightName,
                      const Weight4& w) {
  validate(w, "appendSerialized", weightName);
  auto cpu = [](const at::Tensor& t) { return t.to(at::kCPU).contiguous(); };
  out.emplace_back(weightName, cpu(w.packed).reshape({-1, 1}));
  out.emplace_back(weightName + ".absmax", cpu(w.absmax).reshape({-1}));
  out.emplace_back(weightName + ".quant_map", cpu(w.code).reshape({-1}));
  if (w.nested) {
    out.emplace_back(weightName + ".nested_absmax", cpu(w.nestedAbsmax).reshape({-1}));
    out.emplace_back(weightName + ".nested_quant_map", cpu(w.nestedCode).reshape({-1}));
  }
  const std::string text = quantStateJson(w);
  at::Tensor bytes = at::empty({static_cast<int64_t>(text.size())}, at::kByte);
  if (!text.empty()) std::memcpy(bytes.data_ptr<uint8_t>(), text.data(), text.size());
  out.emplace_back(weightName + kQuantStatePrefix + typeName(w.type), bytes);
}

}  // namespace nq::quant
