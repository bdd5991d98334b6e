// kernel_check: checks and times every CUDA kernel of native/kernels on the GPU, in one run.
//   (a) dequantization (every variant, new and *Into outputs) bit-identical to
//       quant::dequantizeReference on the CPU, and quant::quantize giving the same bytes on CPU
//       and CUDA;
//   (b) gemv4bit (every variant) against dequantizeReference + at::linear in float64, and the
//       streaming variants bit-identical to the split kernel they replace (variant 2);
//   (c) the fused training kernels (RMSNorm, RoPE, GLU; forward and backward) against plain
//       scalar references below: bit-exact where kernels.h promises transformers' roundings,
//       else relative L2 error ||out - ref|| / ||ref|| against a float64 reference;
//   (d) timings with CUDA events (warm-up, median of >= 20 runs, a read of 8x the L2 before
//       each run, inputs rotated among copies that exceed twice the L2), as shares of a
//       device-to-device copy measured in the same run; each gemv shape also next to one launch
//       that only reads its packed bytes (tools/read_floor.cu). Last, one table of everything.
// Every check draws fresh random inputs and poisons outputs (NaN) first.
// Built only with CUDA (links native/core and native/kernels, no N-API).
// Usage: kernel_check [--quick] [--gemv (only the gemv checks and timings)] [--profile-gemv (one
// gemv of each kind and the read floor, nothing checked: for ncu)].
// Exit status: 0 all checks passed, 1 a check failed, 2 error.
// Not here: tests of the CPU path (test/native) or of the addon.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "core/quant.h"
#include "kernels/kernel_variants.h"
#include "kernels/kernels.h"
#include "tools/read_floor.h"

namespace {

namespace quant = nq::quant;
namespace kernels = nq::kernels;
namespace variants = nq::kernels::variants;

#define CUDA_OK(expr)                                                                             \
  do {                                                                                            \
    cudaError_t err_ = (expr);                                                                    \
    if (err_ != cudaSuccess) throw std::runtime_error(std::string(#expr) + ": " + cudaGetErrorString(err_)); \
  } while (0)

int gFailures = 0;

// What the table's last column says about each checked op: "bit-exact", the worst relative
// error seen, or FAIL.
std::map<std::string, std::string> gVerdict;

void fail(const std::string& what) {
  // The first failures are printed; the rest only counted, so that the table stays in view.
  if (++gFailures <= 40) std::printf("FAIL %s\n", what.c_str());
}

// Records one check of `op`: worst error so far (or bit-exactness) and failure.
void record(const std::string& op, bool ok, double err, bool bitExact) {
  std::string& v = gVerdict[op];
  if (v.rfind("FAIL", 0) == 0) return;
  if (!ok) {
    v = "FAIL";
    return;
  }
  if (bitExact) {
    if (v.empty()) v = "bit-exact";
    return;
  }
  const double prev = v.empty() || v == "bit-exact" ? 0.0 : std::stod(v.substr(4));
  char buf[48];
  std::snprintf(buf, sizeof buf, "rel %.1e", std::max(prev, err));
  v = buf;
}

const char* dtypeName(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "f32";
    case at::kBFloat16: return "bf16";
    case at::kHalf: return "f16";
    default: return "?";
  }
}

at::TensorOptions dev() { return at::TensorOptions().device(at::kCUDA); }

at::Tensor cuda(const at::Tensor& t) { return t.defined() ? t.to(at::kCUDA).contiguous() : t; }

// The caching allocator hands a freed block to the next request of the same size: filling
// blocks of the given sizes with 0xFF (NaN in every float format) just before a kernel
// allocates its outputs makes an element the kernel forgot to write show up as a mismatch.
void poison(std::initializer_list<int64_t> bytes) {
  std::vector<at::Tensor> blocks;
  for (int64_t b : bytes) {
    if (b > 0) blocks.push_back(at::full({b}, 0xFF, dev().dtype(at::kByte)));
  }
}

bool sameBytes(const at::Tensor& a, const at::Tensor& b) {
  if (!a.defined() || !b.defined()) return a.defined() == b.defined();
  at::Tensor ac = a.cpu().contiguous(), bc = b.cpu().contiguous();
  if (ac.scalar_type() != bc.scalar_type() || ac.numel() != bc.numel()) return false;
  return std::memcmp(ac.data_ptr(), bc.data_ptr(), ac.nbytes()) == 0;
}

at::Tensor rawBits(const at::Tensor& t) {
  return t.reshape({-1}).view(t.scalar_type() == at::kFloat ? at::kInt : at::kShort);
}

// Bit-for-bit comparison of one kernel output with a reference; says what differs.
bool expectBitEqual(const std::string& what, const at::Tensor& got, const at::Tensor& ref) {
  at::Tensor g = got.cpu().contiguous().reshape({-1}), r = ref.cpu().contiguous().reshape({-1});
  if (g.scalar_type() != r.scalar_type() || g.numel() != r.numel()) {
    fail(what + ": dtype/numel " + dtypeName(g.scalar_type()) + "/" + std::to_string(g.numel()) + " vs reference " +
         dtypeName(r.scalar_type()) + "/" + std::to_string(r.numel()));
    return false;
  }
  if (at::equal(rawBits(g), rawBits(r))) return true;
  const int64_t differing = rawBits(g).ne(rawBits(r)).sum().item<int64_t>();
  const double maxDiff = (g.to(at::kDouble) - r.to(at::kDouble)).abs().nan_to_num(1e300).max().item<double>();
  fail(what + ": " + std::to_string(differing) + " of " + std::to_string(g.numel()) +
       " elements differ in bits, max abs diff " + std::to_string(maxDiff));
  return false;
}

// ||got - ref|| / ||ref|| with ref in float64; NaN anywhere gives NaN (which fails every check).
double relL2(const at::Tensor& got, const at::Tensor& ref) {
  at::Tensor g = got.cpu().to(at::kDouble).reshape({-1}), r = ref.cpu().to(at::kDouble).reshape({-1});
  const double num = (g - r).norm().item<double>();
  const double den = r.norm().item<double>();
  return den > 0 ? num / den : num;
}

// Error allowed for an output rounded once to dtype from an exact value (2^-9 for bf16,
// 2^-12 for f16 relative, with margin for fp32 arithmetic before the rounding).
double tolerance(at::ScalarType t) { return t == at::kFloat ? 1e-5 : t == at::kHalf ? 1.5e-3 : 8e-3; }

bool expectClose(const std::string& op, const std::string& what, const at::Tensor& got, const at::Tensor& ref,
                 double tol) {
  const double err = relL2(got, ref);
  const bool ok = err < tol;  // NaN fails
  if (!ok) fail(op + " " + what + ": rel L2 error " + std::to_string(err) + " (tolerance " + std::to_string(tol) + ")");
  record(op, ok, err, false);
  return ok;
}

std::string label(quant::Type type, bool nested, int64_t bs, int64_t numel, at::ScalarType out) {
  return std::string(quant::typeName(type)) + (nested ? " nested" : " plain") + " bs=" + std::to_string(bs) +
         " numel=" + std::to_string(numel) + " out=" + dtypeName(out);
}

// Dequantization of w into `out` (contiguous, w.numel() elements) by one kernel variant.
void kernelDequantInto(const quant::Weight4& w, const at::Tensor& packed, at::Tensor& out, int variant) {
  if (w.nested) {
    variants::dequantize4bitNestedInto(packed, w.code, w.absmax, w.nestedCode, w.nestedAbsmax, w.nestedBlocksize,
                                       w.nestedOffset, w.blocksize, w.numel(), out, variant);
  } else {
    variants::dequantize4bitInto(packed, w.code, w.absmax, w.blocksize, w.numel(), out, variant);
  }
}

at::Tensor kernelDequant(const quant::Weight4& w, at::ScalarType out, const at::Tensor& packed) {
  if (w.nested) {
    return kernels::dequantize4bitNested(packed, w.code, w.absmax, w.nestedCode, w.nestedAbsmax, w.nestedBlocksize,
                                         w.nestedOffset, w.blocksize, w.numel(), out);
  }
  return kernels::dequantize4bit(packed, w.code, w.absmax, w.blocksize, w.numel(), out);
}

// ---------------------------------------------------------------- (a) dequantization
void checkDequant(bool quick) {
  const std::vector<int64_t> numels =
      quick ? std::vector<int64_t>{33, 4097, 333333} : std::vector<int64_t>{1, 33, 4097, 333333, (1 << 22) + 1};
  const std::vector<int64_t> blocksizes{64, 128, 256, 4096};
  const std::vector<at::ScalarType> outs{at::kFloat, at::kBFloat16, at::kHalf};
  const std::string op = "dequant nf4/fp4";
  int checks = 0;
  const int before = gFailures;
  for (quant::Type type : {quant::Type::NF4, quant::Type::FP4}) {
    for (bool nested : {false, true}) {
      for (int64_t bs : blocksizes) {
        for (int64_t numel : numels) {
          at::Tensor w = at::randn({numel}) * 0.05;  // fresh draw each time
          quant::Weight4 onCuda = quant::quantize(w.to(at::kCUDA), type, bs, nested);
          quant::Weight4 onCpu = quant::quantize(w, type, bs, nested);
          const std::string q = std::string(quant::typeName(type)) + (nested ? " nested" : " plain") +
                                " bs=" + std::to_string(bs) + " numel=" + std::to_string(numel);
          if (!sameBytes(onCuda.packed, onCpu.packed)) fail("quantize cpu != cuda (packed): " + q);
          if (!sameBytes(onCuda.absmax, onCpu.absmax)) fail("quantize cpu != cuda (absmax): " + q);
          if (!sameBytes(onCuda.code, onCpu.code)) fail("quantize cpu != cuda (code): " + q);
          if (nested && (!sameBytes(onCuda.nestedAbsmax, onCpu.nestedAbsmax) ||
                         std::memcmp(&onCuda.nestedOffset, &onCpu.nestedOffset, sizeof(float)) != 0)) {
            fail("quantize cpu != cuda (nested absmax/offset): " + q);
          }
          const quant::Weight4 ref = onCuda.to(at::kCPU);  // the reference sees the kernel's bytes
          const at::Tensor packed = cuda(onCuda.packed);
          for (at::ScalarType out : outs) {
            const at::Tensor expected = quant::dequantizeReference(ref, out);
            poison({numel * static_cast<int64_t>(c10::elementSize(out))});
            bool ok = expectBitEqual("dequant " + label(type, nested, bs, numel, out),
                                     kernelDequant(onCuda, out, packed), expected);
            ++checks;
            // Every variant, into a row slice of a larger poisoned buffer: the slice must equal
            // the reference and the rows around it must stay untouched.
            const bool big = numel >= 4097;
            for (int v = 0; big && v < variants::kDequantVariants; ++v) {
              const int64_t pad = 64;
              at::Tensor buffer = at::full({pad + numel + pad}, NAN, dev().dtype(out));
              at::Tensor slice = buffer.narrow(0, pad, numel);
              kernelDequantInto(onCuda, packed, slice, v);
              const std::string what = "dequant into (" + std::string(variants::dequantVariantName(v)) + ") " +
                                       label(type, nested, bs, numel, out);
              ok = expectBitEqual(what, slice, expected) && ok;
              const bool untouched = buffer.narrow(0, 0, pad).isnan().all().item<bool>() &&
                                     buffer.narrow(0, pad + numel, pad).isnan().all().item<bool>();
              if (!untouched) fail(what + ": wrote outside its slice");
              ok = ok && untouched;
              ++checks;
            }
            record(op, ok, 0, true);
          }
          if (numel == 333333 && bs == 64) {
            // Misaligned packed bytes (storage offset 1): the kernel's byte-by-byte path.
            at::Tensor shifted = at::empty({packed.numel() + 1}, packed.options()).narrow(0, 1, packed.numel());
            shifted.copy_(packed.reshape({-1}));
            const at::Tensor expected = quant::dequantizeReference(ref, at::kBFloat16);
            bool ok = expectBitEqual("dequant misaligned " + label(type, nested, bs, numel, at::kBFloat16),
                                     kernelDequant(onCuda, at::kBFloat16, shifted), expected);
            // The public entry points (quant::dequantize / dequantizeInto on a CUDA weight).
            ok = expectBitEqual("quant::dequantize " + label(type, nested, bs, numel, at::kBFloat16),
                                quant::dequantize(onCuda, at::kBFloat16), expected) && ok;
            at::Tensor into = at::full({numel}, NAN, dev().dtype(at::kBFloat16));
            quant::dequantizeInto(onCuda, into);
            ok = expectBitEqual("quant::dequantizeInto " + label(type, nested, bs, numel, at::kBFloat16), into,
                                expected) && ok;
            record(op, ok, 0, true);
            checks += 3;
          }
        }
      }
    }
  }
  std::printf("(a) dequant: %d bit-exact checks, %d failures\n", checks, gFailures - before);
}

// ---------------------------------------------------------------- (b) gemv
constexpr int kSplitGemv = 2;         // kernel_variants.h: the split kernel (the engine's at more than one row)
constexpr int kFirstMmaGemv = 6;      // 6..8 run on the tensor cores
constexpr int kFirstStreamGemv = 9;   // 9..11 the streaming kernel (kernel_variants.h)

void checkGemv(bool quick) {
  struct Case {
    int64_t out, in, bs;
    bool nested;
  };
  std::vector<Case> cases{{2560, 2560, 64, false}, {9728, 2560, 64, false}, {2560, 9728, 64, true},
                          {1024, 2560, 64, true},  {37, 1000, 64, false},   // in % 32 != 0: the general kernel
                          {33, 999, 128, false},                            // odd numel, blocks across rows
                          {24, 2560, 4096, false},                          // blocks spanning rows
                          {13, 64, 64, false}};                             // fewer features than K * warps
  if (!quick) cases.push_back({151936, 2560, 64, false});  // lm_head of Qwen3
  const int before = gFailures;
  int checks = 0;
  for (const Case& c : cases) {
    at::Tensor w = at::randn({c.out, c.in}, dev()) * 0.05;
    quant::Weight4 wq = quant::quantize(w, quant::Type::NF4, c.bs, c.nested);
    w.reset();
    const at::Tensor absmax = quant::absmaxFloatCached(wq);
    const at::Tensor wRef = quant::dequantizeReference(wq, at::kFloat).to(at::kDouble);  // (out, in), on the GPU
    const bool small = c.out * c.in < 1000000;
    // 9..32 rows: one pass of the tensor-core kernel (four n-tiles); 40: two passes.
    std::vector<int64_t> rowsList{1, 2, 4, 8, 32};
    if (small) rowsList = {1, 2, 3, 4, 5, 6, 7, 8, 11, 17, 32, 40};
    const std::string shape = std::to_string(c.out) + "x" + std::to_string(c.in) + " bs" + std::to_string(c.bs) +
                              (c.nested ? " nested" : "");
    for (at::ScalarType dtype : {at::kFloat, at::kBFloat16, at::kHalf}) {
      if (dtype == at::kHalf && !small && c.out != 2560) continue;  // f16 on a few shapes only
      const double tol = dtype == at::kFloat ? 1e-5 : 1e-2;
      for (int64_t rows : rowsList) {
        at::Tensor x = at::randn({rows, c.in}, dev()).to(dtype);
        const at::Tensor ref = at::linear(x.to(at::kDouble), wRef);
        const at::Tensor split = variants::gemv4bit(x, wq.packed, wq.code, absmax, c.bs, c.out, c.in, kSplitGemv);
        for (int v = 0; v < variants::kGemvVariants; ++v) {
          poison({rows * c.out * static_cast<int64_t>(c10::elementSize(dtype))});
          at::Tensor y = variants::gemv4bit(x, wq.packed, wq.code, absmax, c.bs, c.out, c.in, v);
          bool ok = y.scalar_type() == dtype && y.dim() == 2 && y.size(0) == rows && y.size(1) == c.out;
          const double err = ok ? relL2(y, ref) : NAN;
          ok = ok && err < tol;  // NaN fails
          if (!ok) {
            fail("gemv (" + std::string(variants::gemvVariantName(v)) + ") " + shape + " " + dtypeName(dtype) +
                 " rows=" + std::to_string(rows) + ": rel L2 error " + std::to_string(err) + " (tolerance " +
                 std::to_string(tol) + ")");
          }
          record(std::string("gemv nf4 ") + dtypeName(dtype), ok, err, false);
          ++checks;
          if (v >= kFirstStreamGemv) {  // same sums as the split kernel: the same bits
            const bool same = y.scalar_type() == dtype && at::equal(y, split);
            if (!same) {
              fail("gemv (" + std::string(variants::gemvVariantName(v)) + ") " + shape + " " + dtypeName(dtype) +
                   " rows=" + std::to_string(rows) + ": differs from the split kernel (variant 2)");
            }
            record("gemv stream == split", same, 0, true);
          }
        }
      }
    }
    // The public entry point: quant::gemv, whose nested absmax is built once and cached.
    at::Tensor x = at::randn({3, c.in}, dev()).to(at::kBFloat16);
    const at::Tensor ref = at::linear(x.to(at::kDouble), wRef);
    for (int call = 0; call < 2; ++call) {
      const double err = relL2(quant::gemv(x, wq), ref);
      const bool ok = err < 1e-2;
      if (!ok) fail("quant::gemv " + shape + " call " + std::to_string(call) + ": rel L2 error " + std::to_string(err));
      record("gemv nf4 bf16", ok, err, false);
    }
    if (c.nested && !(wq.absmaxCache && wq.absmaxCache->source.is_same(wq.absmax))) {
      fail("quant::gemv " + shape + ": the fp32 absmax of a nested weight was not cached");
    }
  }
  std::printf("(b) gemv: %d checks (every variant), %d failures\n", checks, gFailures - before);
}

// ---------------------------------------------------------------- (c) fused training kernels
// Host values of a tensor as float (CPU, contiguous): exactly what the kernel reads.
std::vector<float> hostFloats(const at::Tensor& t) {
  at::Tensor f = t.cpu().to(at::kFloat).contiguous();
  return std::vector<float>(f.data_ptr<float>(), f.data_ptr<float>() + f.numel());
}

at::Tensor fromHost(const std::vector<float>& v, at::IntArrayRef shape, at::ScalarType dtype) {
  return at::from_blob(const_cast<float*>(v.data()), {static_cast<int64_t>(v.size())}, at::kFloat)
      .clone()
      .view(shape)
      .to(dtype);
}

at::Tensor fromHostDouble(const std::vector<double>& v, at::IntArrayRef shape) {
  return at::from_blob(const_cast<double*>(v.data()), {static_cast<int64_t>(v.size())}, at::kDouble).clone().view(shape);
}

// v rounded to dtype (nearest even) and back: the host twin of the kernels' roundTo.
float roundTo(at::ScalarType dtype, float v) {
  switch (dtype) {
    case at::kBFloat16: return static_cast<float>(c10::BFloat16(v));
    case at::kHalf: return static_cast<float>(c10::Half(v));
    default: return v;
  }
}

at::Tensor randomOn(at::IntArrayRef shape, at::ScalarType dtype, double scale = 1.0) {
  return (at::randn(shape, dev()) * scale).to(dtype);
}

void checkRmsNorm() {
  struct Case {
    int64_t rows, C;
    at::ScalarType dtype;
    bool plusOne;
    at::ScalarType wdtype;
  };
  const std::vector<Case> cases{
      {4096, 2560, at::kBFloat16, false, at::kBFloat16}, {1024, 2560, at::kFloat, false, at::kFloat},
      {1024, 4096, at::kHalf, false, at::kHalf},         {65536, 128, at::kBFloat16, false, at::kBFloat16},
      {30000, 64, at::kBFloat16, false, at::kBFloat16},  {256, 256, at::kHalf, false, at::kHalf},
      {300, 8192, at::kBFloat16, false, at::kBFloat16},  {300, 5120, at::kBFloat16, true, at::kFloat},
      {300, 2304, at::kBFloat16, true, at::kBFloat16},   {77, 100, at::kBFloat16, false, at::kBFloat16},
      {33, 1000, at::kFloat, true, at::kBFloat16},       {5, 3, at::kHalf, true, at::kHalf},
      {1000, 640, at::kFloat, false, at::kFloat},
      // decoding: a few rows, where the forward keeps the row in registers (rms_norm.cu's NV path)
      {1, 2560, at::kBFloat16, false, at::kBFloat16},    {3, 2560, at::kBFloat16, true, at::kFloat},
      {64, 4096, at::kHalf, false, at::kHalf},           {2, 512, at::kFloat, false, at::kFloat}};
  const double eps = 1e-6;
  const int before = gFailures;
  for (const Case& c : cases) {
    const std::string what = std::to_string(c.rows) + "x" + std::to_string(c.C) + " " + dtypeName(c.dtype) +
                             (c.plusOne ? std::string(" gemma w=") + dtypeName(c.wdtype) : std::string(" llama"));
    at::Tensor x = randomOn({c.rows, c.C}, c.dtype, 2.0);
    at::Tensor w = c.plusOne ? randomOn({c.C}, c.wdtype, 0.3) : (1.0 + 0.3 * at::randn({c.C}, dev())).to(c.wdtype);
    const int64_t yBytes = c.rows * c.C * static_cast<int64_t>(c10::elementSize(c.dtype));
    poison({yBytes, c.rows * 4});
    auto [y, rstd] = kernels::rmsNormForward(x, w, eps, c.plusOne);
    at::Tensor dy = randomOn({c.rows, c.C}, c.dtype);
    poison({yBytes});
    at::Tensor dx = kernels::rmsNormBackward(dy, x, w, rstd, c.plusOne);

    const std::vector<float> xs = hostFloats(x), ws = hostFloats(w), dys = hostFloats(dy), rs = hostFloats(rstd);
    std::vector<float> yRef(xs.size());
    std::vector<double> rstdRef(c.rows), dxRef(xs.size());
    for (int64_t r = 0; r < c.rows; ++r) {
      const float* xr = xs.data() + r * c.C;
      double ss = 0;
      for (int64_t i = 0; i < c.C; ++i) ss += double(xr[i]) * xr[i];
      rstdRef[r] = 1.0 / std::sqrt(ss / c.C + eps);
      // y from the kernel's own rstd: every later step is exactly rounded, so bit-exact.
      const float rf = rs[r];
      double dot = 0;
      for (int64_t i = 0; i < c.C; ++i) {
        const float xi = xr[i];
        yRef[r * c.C + i] = c.plusOne ? roundTo(c.dtype, (xi * rf) * (1.0f + ws[i]))
                                      : roundTo(c.dtype, ws[i] * roundTo(c.dtype, xi * rf));
        const double weff = c.plusOne ? 1.0 + double(ws[i]) : double(ws[i]);
        dot += double(dys[r * c.C + i]) * weff * double(xi) * rf;
      }
      const double mean = dot / c.C;
      for (int64_t i = 0; i < c.C; ++i) {
        const double weff = c.plusOne ? 1.0 + double(ws[i]) : double(ws[i]);
        const double xh = double(xr[i]) * rf;
        dxRef[r * c.C + i] = rf * (double(dys[r * c.C + i]) * weff - xh * mean);
      }
    }
    const double rstdErr = (rstd.cpu().to(at::kDouble) - fromHostDouble(rstdRef, {c.rows}))
                               .div(fromHostDouble(rstdRef, {c.rows}))
                               .abs()
                               .max()
                               .nan_to_num(1e300)
                               .item<double>();
    const bool rstdOk = rstdErr < 1e-5;
    if (!rstdOk) fail("rmsnorm fwd " + what + ": rstd max rel error " + std::to_string(rstdErr));
    record("rmsnorm fwd", rstdOk, 0, true);
    record("rmsnorm fwd", expectBitEqual("rmsnorm fwd " + what, y, fromHost(yRef, {c.rows, c.C}, c.dtype)), 0, true);
    expectClose("rmsnorm bwd", what, dx, fromHostDouble(dxRef, {c.rows, c.C}), tolerance(c.dtype));

    // The fused residual add: the norm of x + x2 in one pass equals ATen's add, then the kernel above.
    const at::Tensor x2 = randomOn({c.rows, c.C}, c.dtype, 2.0);
    const at::Tensor sumRef = x + x2;
    poison({yBytes, yBytes, c.rows * 4});
    auto [sum, yAdd, rstdAdd] = kernels::rmsNormAddForward(x, x2, w, eps, c.plusOne);
    auto [yPlain, rstdPlain] = kernels::rmsNormForward(sumRef, w, eps, c.plusOne);
    bool addOk = expectBitEqual("rmsnorm+add sum " + what, sum, sumRef);
    addOk = expectBitEqual("rmsnorm+add y " + what, yAdd, yPlain) && addOk;
    addOk = expectBitEqual("rmsnorm+add rstd " + what, rstdAdd, rstdPlain) && addOk;
    record("rmsnorm+add fwd", addOk, 0, true);
    if (c.rows <= 64) {  // a few rows (registers) against the same rows among many (the loop): same bits
      const at::Tensor many = x.repeat({65 / c.rows + 1, 1});
      auto [yMany, rstdMany] = kernels::rmsNormForward(many, w, eps, c.plusOne);
      record("rmsnorm fwd", expectBitEqual("rmsnorm fwd " + what + " (as rows of " + std::to_string(many.size(0)) + ")",
                                           y, yMany.narrow(0, 0, c.rows)),
             0, true);
    }
  }
  std::printf("(c) rmsnorm (and + residual): %zu cases, %d failures\n", cases.size(), gFailures - before);
}

void checkRope() {
  struct Case {
    int64_t N, heads, D, rot, tokenStride, offset;  // x = buffer (N, tokenStride)[:, offset : offset + heads*D]
    at::ScalarType dtype;
  };
  const std::vector<Case> cases{
      {2048, 32, 128, 128, 6144, 0, at::kBFloat16},     // q of a fused q|k|v (Qwen3-4B)
      {2048, 8, 128, 128, 6144, 4096, at::kBFloat16},   // k of it
      {512, 16, 128, 128, 2048, 0, at::kFloat},         // contiguous, f32
      {512, 16, 64, 64, 1024, 0, at::kHalf},            // f16
      {300, 24, 128, 96, 3072, 0, at::kBFloat16},       // partial rotary (phi-4-mini)
      {300, 4, 80, 40, 400, 80, at::kBFloat16},         // half = 20 (scalar path), partial
      {257, 3, 64, 64, 193, 1, at::kBFloat16},          // odd token stride: scalar path
      {1, 2, 256, 256, 512, 0, at::kBFloat16}};         // gemma head_dim 256, one token
  const int before = gFailures;
  for (const Case& c : cases) {
    const std::string what = std::to_string(c.N) + "x" + std::to_string(c.heads) + "x" + std::to_string(c.D) +
                             " rot=" + std::to_string(c.rot) + " stride=" + std::to_string(c.tokenStride) + " " +
                             dtypeName(c.dtype);
    at::Tensor buffer = randomOn({c.N, c.tokenStride}, c.dtype);
    at::Tensor x = buffer.narrow(1, c.offset, c.heads * c.D).view({c.N, c.heads, c.D});
    // Independent values for cos[i] and cos[i + half] (transformers repeats them) so that a
    // swapped index shows.
    at::Tensor angles = at::rand({c.N, c.rot}, dev()) * 6.3;
    at::Tensor cosT = angles.cos().to(c.dtype), sinT = angles.sin().to(c.dtype);
    const int64_t outBytes = c.N * c.heads * c.D * static_cast<int64_t>(c10::elementSize(c.dtype));
    poison({outBytes});
    at::Tensor fwd = kernels::ropeApply(x, cosT, sinT, c.rot, false);
    poison({outBytes});
    at::Tensor inv = kernels::ropeApply(x, cosT, sinT, c.rot, true);

    const std::vector<float> xs = hostFloats(x), cs = hostFloats(cosT), ss = hostFloats(sinT);
    std::vector<float> fwdRef(xs.size());
    std::vector<double> invRef(xs.size());
    const int64_t half = c.rot / 2;
    for (int64_t n = 0; n < c.N; ++n) {
      const float* cr = cs.data() + n * c.rot;
      const float* sr = ss.data() + n * c.rot;
      for (int64_t h = 0; h < c.heads; ++h) {
        const int64_t o = (n * c.heads + h) * c.D;
        const float* xh = xs.data() + o;
        for (int64_t i = 0; i < half; ++i) {
          const float a = xh[i], b = xh[i + half];
          const at::ScalarType t = c.dtype;
          fwdRef[o + i] = roundTo(t, roundTo(t, a * cr[i]) + roundTo(t, -b * sr[i]));
          fwdRef[o + i + half] = roundTo(t, roundTo(t, b * cr[i + half]) + roundTo(t, a * sr[i + half]));
          invRef[o + i] = double(a) * cr[i] + double(b) * sr[i + half];
          invRef[o + i + half] = double(b) * cr[i + half] - double(a) * sr[i];
        }
        for (int64_t d = c.rot; d < c.D; ++d) fwdRef[o + d] = xh[d], invRef[o + d] = xh[d];
      }
    }
    record("rope fwd", expectBitEqual("rope fwd " + what, fwd, fromHost(fwdRef, {c.N, c.heads, c.D}, c.dtype)), 0,
           true);
    expectClose("rope inverse", what, inv, fromHostDouble(invRef, {c.N, c.heads, c.D}), tolerance(c.dtype));
    if (!fwd.is_contiguous() || !inv.is_contiguous()) fail("rope " + what + ": output not contiguous");
  }
  std::printf("(c) rope: %zu cases, %d failures\n", cases.size(), gFailures - before);
}

// The fused decoding step (kernels::decodeQkv) against the separate kernels it replaces:
// rmsNormForward per head, ropeApply, the copies into the cache; every bit of q and of both
// caches (the untouched positions included) must agree.
void checkDecodeQkv() {
  struct Case {
    int64_t rows, H, KV, D, rot;
    bool norm, plusOne;
    at::ScalarType dtype, weightDtype;
    int64_t offset;  // elements before q in its buffer (1: no 16-byte loads)
  };
  const auto bf = at::kBFloat16;
  const std::vector<Case> cases{
      {1, 32, 8, 128, 128, true, false, bf, bf, 0},                // Qwen3-4B, batch 1
      {3, 32, 8, 128, 128, true, false, at::kHalf, at::kHalf, 0},  // a batch: strided row slices
      {2, 32, 8, 128, 128, false, false, bf, bf, 0},               // llama: no q/k norm
      {2, 4, 1, 256, 256, true, true, bf, at::kFloat, 0},          // gemma 3: head 256, 1 + w in fp32
      {2, 8, 2, 64, 64, true, false, at::kFloat, at::kFloat, 0},   // fp32
      {2, 24, 8, 96, 64, false, false, bf, bf, 0},                 // partial rotary (phi)
      {1, 6, 2, 80, 40, true, true, at::kHalf, at::kHalf, 0},      // half = 20, gemma-style norm
      {2, 32, 8, 128, 128, true, false, bf, bf, 1}};               // unaligned sources
  const int before = gFailures;
  for (const Case& c : cases) {
    const std::string what = std::to_string(c.rows) + "x(" + std::to_string(c.H) + "+2x" + std::to_string(c.KV) +
                             ")x" + std::to_string(c.D) + " rot=" + std::to_string(c.rot) +
                             (c.norm ? (c.plusOne ? " norm(1+w)" : " norm") : "") + " offset=" +
                             std::to_string(c.offset) + " " + dtypeName(c.dtype);
    const int64_t qd = c.H * c.D, kvd = c.KV * c.D, capacity = 40, slot = 23;
    at::Tensor buffer = randomOn({c.rows, c.offset + qd + 2 * kvd}, c.dtype, 3.0);
    at::Tensor q = buffer.narrow(1, c.offset, qd), k = buffer.narrow(1, c.offset + qd, kvd),
               v = buffer.narrow(1, c.offset + qd + kvd, kvd);
    at::Tensor qw, kw;
    if (c.norm) qw = randomOn({c.D}, c.weightDtype), kw = randomOn({c.D}, c.weightDtype);
    at::Tensor angles = at::rand({c.rows, c.rot}, dev()) * 6.3;
    at::Tensor cosT = angles.cos().to(c.dtype), sinT = angles.sin().to(c.dtype);
    at::Tensor keys = randomOn({c.rows, c.KV, capacity, c.D}, c.dtype), values = randomOn(keys.sizes(), c.dtype);
    at::Tensor keysRef = keys.clone(), valuesRef = values.clone();
    at::Tensor slotT = at::full({1}, slot, dev().dtype(at::kLong));

    auto heads = [&](const at::Tensor& x, int64_t n, const at::Tensor& w) {  // norm (when asked), then RoPE
      at::Tensor h = x.contiguous().view({c.rows * n, c.D});
      if (w.defined()) h = std::get<0>(kernels::rmsNormForward(h, w, 1e-6, c.plusOne));
      return kernels::ropeApply(h.view({c.rows, n, c.D}), cosT, sinT, c.rot, false);
    };
    at::Tensor qRef = heads(q, c.H, qw);
    keysRef.select(2, slot).copy_(heads(k, c.KV, kw));
    valuesRef.select(2, slot).copy_(v.reshape({c.rows, c.KV, c.D}));

    poison({c.rows * qd * static_cast<int64_t>(c10::elementSize(c.dtype))});
    at::Tensor got = kernels::decodeQkv(q, k, v, qw, kw, 1e-6, c.plusOne, cosT, sinT, c.rot, keys, values, slotT);
    const bool ok = expectBitEqual("decodeQkv q " + what, got, qRef) &&
                    expectBitEqual("decodeQkv keys " + what, keys, keysRef) &&
                    expectBitEqual("decodeQkv values " + what, values, valuesRef);
    record("decode q/k/v", ok, 0, true);
  }
  std::printf("(c2) decode q/k/v: %zu cases, %d failures\n", cases.size(), gFailures - before);
}

// The decoding adapters' kernel (kernels::loraDecodeAdd) against float64 (x @ A^T rounded to the
// dtype, as the kernel and a GEMM round it, then the B product and the add), and a row computed
// alone against the same row in a batch (bit for bit).
void checkLoraDecode() {
  struct Case {
    int64_t rows, in, rank, out;
    at::ScalarType dtype;
  };
  const std::vector<Case> cases{{1, 2560, 48, 6144, at::kBFloat16},  // Qwen3-4B q|k|v, r16 each
                                {5, 2560, 48, 6144, at::kBFloat16},
                                {8, 4096, 64, 1000, at::kHalf},
                                {3, 512, 16, 300, at::kFloat}};
  const int before = gFailures;
  for (const Case& c : cases) {
    const std::string what = std::to_string(c.rows) + "x" + std::to_string(c.in) + " r" + std::to_string(c.rank) +
                             " -> " + std::to_string(c.out) + " " + dtypeName(c.dtype);
    at::Tensor x = randomOn({c.rows, c.in}, c.dtype), a = randomOn({c.rank, c.in}, c.dtype, 0.02),
               b = randomOn({c.out, c.rank}, c.dtype, 0.5), y0 = randomOn({c.rows, c.out}, c.dtype);
    const double scaling = 2.0;
    at::Tensor y = y0.clone();
    kernels::loraDecodeAdd(y, x, a, b, scaling);
    at::Tensor xa = at::mm(x.to(at::kDouble), a.to(at::kDouble).t()).to(c.dtype).to(at::kDouble);
    at::Tensor ref = y0.to(at::kDouble) + scaling * at::mm(xa, b.to(at::kDouble).t());
    const bool close = expectClose("lora decode", what, y, ref, tolerance(c.dtype));
    at::Tensor y1 = y0.narrow(0, c.rows - 1, 1).clone();
    kernels::loraDecodeAdd(y1, x.narrow(0, c.rows - 1, 1).contiguous(), a, b, scaling);
    const bool alone = expectBitEqual("lora decode " + what + " (last row alone)", y1, y.narrow(0, c.rows - 1, 1));
    record("lora decode", close && alone, relL2(y, ref), false);
  }
  std::printf("(c3) lora decode: %zu cases, %d failures\n", cases.size(), gFailures - before);
}

// The decoding step's attention kernel (kernels::decodeAttention) against float64 and against
// the separate ops it replaces (baddbmm with the mask, softmax, bmm), and a row computed alone
// against the same row in a batch (bit for bit). Masked keys hold large values: they must not leak.
void checkDecodeAttention() {
  struct Case {
    int64_t B, H, KV, S, D, filled;  // keys past `filled` are masked
    at::ScalarType dtype;
  };
  const std::vector<Case> cases{{1, 32, 8, 528, 128, 403, at::kBFloat16},  // Qwen3-4B, a 400-token prompt
                                {4, 32, 8, 96, 128, 90, at::kBFloat16},
                                {2, 8, 1, 4096, 256, 4000, at::kBFloat16},  // gemma-like head, the longest cache
                                {3, 4, 4, 33, 64, 33, at::kHalf},
                                {2, 6, 2, 100, 128, 7, at::kFloat}};
  const int before = gFailures;
  for (const Case& c : cases) {
    const std::string what = std::to_string(c.B) + "x" + std::to_string(c.H) + "/" + std::to_string(c.KV) + " S=" +
                             std::to_string(c.S) + " D=" + std::to_string(c.D) + " " + dtypeName(c.dtype);
    at::Tensor q = randomOn({c.B, c.H, c.D}, c.dtype), k = randomOn({c.B, c.KV, c.S, c.D}, c.dtype),
               v = randomOn({c.B, c.KV, c.S, c.D}, c.dtype);
    k.narrow(2, c.filled, c.S - c.filled).fill_(30.0);
    v.narrow(2, c.filled, c.S - c.filled).fill_(1000.0);
    // As the model's decodingBias makes it: one row per batch row, repeated over the kv heads
    // (a stride-0 view when B = 1).
    at::Tensor biasRows = at::zeros({c.B, 1, c.S}, dev().dtype(c.dtype));
    biasRows.narrow(2, c.filled, c.S - c.filled).fill_(-std::numeric_limits<double>::infinity());
    at::Tensor bias = biasRows.expand({c.B, c.KV, c.S}).reshape({c.B * c.KV, c.S});
    const double scale = 1.0 / std::sqrt(static_cast<double>(c.D));
    at::Tensor got = kernels::decodeAttention(q, k, v, bias, scale);

    const int64_t G = c.H / c.KV;
    at::Tensor qg = q.reshape({c.B * c.KV, G, c.D}), kk = k.reshape({c.B * c.KV, c.S, c.D}),
               vv = v.reshape({c.B * c.KV, c.S, c.D}), bias3 = bias.view({c.B * c.KV, 1, c.S});
    at::Tensor ops = at::bmm(at::softmax(at::baddbmm(bias3, qg, kk.transpose(1, 2), 1, scale), -1), vv).view({c.B, c.H, c.D});
    at::Tensor scores = at::baddbmm(bias3.to(at::kDouble), qg.to(at::kDouble), kk.to(at::kDouble).transpose(1, 2), 1, scale);
    at::Tensor ref = at::bmm(at::softmax(scores, -1), vv.to(at::kDouble)).view({c.B, c.H, c.D});
    const bool close = expectClose("decode attention", what + " vs float64", got, ref, tolerance(c.dtype)) &&
                       expectClose("decode attention", what + " vs baddbmm/softmax/bmm", got, ops, tolerance(c.dtype));
    const int64_t last = c.B - 1;
    at::Tensor alone = kernels::decodeAttention(q.narrow(0, last, 1).contiguous(), k.narrow(0, last, 1).contiguous(),
                                                v.narrow(0, last, 1).contiguous(),
                                                bias.narrow(0, last * c.KV, c.KV), scale);
    const bool same = expectBitEqual("decode attention " + what + " (last row alone)", alone, got.narrow(0, last, 1));
    record("decode attention", close && same, relL2(got, ref), false);
  }
  std::printf("(c4) decode attention: %zu cases, %d failures\n", cases.size(), gFailures - before);
}

constexpr double kPi = 3.14159265358979323846;

double activationRef(int act, double g) {
  switch (act) {
    case kernels::kSilu: return g / (1.0 + std::exp(-g));
    case kernels::kGeluTanh: return 0.5 * g * (1.0 + std::tanh(std::sqrt(2.0 / kPi) * (g + 0.044715 * g * g * g)));
    default: return 0.5 * g * (1.0 + std::erf(g / std::sqrt(2.0)));
  }
}

double activationGradRef(int act, double g) {
  switch (act) {
    case kernels::kSilu: {
      const double s = 1.0 / (1.0 + std::exp(-g));
      return s * (1.0 + g * (1.0 - s));
    }
    case kernels::kGeluTanh: {
      const double k = std::sqrt(2.0 / kPi), t = std::tanh(k * (g + 0.044715 * g * g * g));
      return 0.5 * (1.0 + t) + 0.5 * g * (1.0 - t * t) * k * (1.0 + 3.0 * 0.044715 * g * g);
    }
    default: return 0.5 * (1.0 + std::erf(g / std::sqrt(2.0))) + g * std::exp(-0.5 * g * g) / std::sqrt(2.0 * kPi);
  }
}

void checkGlu() {
  struct Case {
    int64_t rows, I;
    int64_t pad;  // extra columns after the (rows, 2I) halves: the row stride is 2I + pad
    at::ScalarType dtype;
  };
  const std::vector<Case> cases{{1024, 9728, 0, at::kBFloat16}, {512, 2048, 8, at::kFloat}, {512, 1000, 0, at::kHalf},
                                {300, 1001, 3, at::kBFloat16},  // odd: scalar path
                                {7, 8, 0, at::kBFloat16}};
  const char* actNames[] = {"silu", "gelu_tanh", "gelu_erf"};
  const int before = gFailures;
  for (const Case& c : cases) {
    for (int act = 0; act < 3; ++act) {
      const std::string what = std::to_string(c.rows) + "x" + std::to_string(c.I) + " " + dtypeName(c.dtype) + " " +
                               actNames[act];
      const int64_t width = 2 * c.I + c.pad;
      at::Tensor in = randomOn({c.rows, width}, c.dtype, 2.0);
      at::Tensor gate = in.narrow(1, 0, c.I), up = in.narrow(1, c.I, c.I);
      poison({c.rows * c.I * static_cast<int64_t>(c10::elementSize(c.dtype))});
      at::Tensor out = kernels::gluForward(gate, up, act);
      at::Tensor dout = randomOn({c.rows, c.I}, c.dtype);
      at::Tensor grads = at::full({c.rows, width}, NAN, dev().dtype(c.dtype));
      at::Tensor dgate = grads.narrow(1, 0, c.I), dup = grads.narrow(1, c.I, c.I);
      kernels::gluBackward(dout, gate, up, act, dgate, dup);

      const std::vector<float> gs = hostFloats(gate), us = hostFloats(up), ds = hostFloats(dout);
      std::vector<float> outRef(gs.size());
      std::vector<double> dgRef(gs.size()), duRef(gs.size());
      for (size_t i = 0; i < gs.size(); ++i) {
        const float a = roundTo(c.dtype, static_cast<float>(activationRef(act, gs[i])));
        outRef[i] = roundTo(c.dtype, a * us[i]);
        dgRef[i] = double(ds[i]) * us[i] * activationGradRef(act, gs[i]);
        duRef[i] = double(ds[i]) * a;
      }
      // The forward rounds like transformers; its activation comes from expf / tanhf / erff,
      // within 2 ulp of the exact value, so a rounding boundary may rarely fall between the
      // two: count bit-identical elements and require nearly all.
      const at::Tensor ref = fromHost(outRef, {c.rows, c.I}, c.dtype);
      const double err = relL2(out, ref);
      const double same = rawBits(out.cpu()).eq(rawBits(ref)).to(at::kDouble).mean().item<double>();
      // (In f32 the 2 ulp show in the last bit of many elements: the error bound decides.) GELU's
      // tanhf / erff move more elements across a bf16 / fp16 rounding boundary than SiLU's expf:
      // on the H200, 98.4-98.8% bit-identical at rel L2 < 1e-6 (2026-12-03). The share is counted
      // only where there are enough elements for it to mean something (a 56-element case with 3
      // such elements is at 94.6%, by chance of the random inputs); the error bound holds everywhere.
      const double sameNeeded = c.rows * c.I < 4096 ? 0.0 : act == 0 ? 0.995 : 0.98;
      const bool ok = err < (c.dtype == at::kFloat ? 1e-6 : tolerance(c.dtype)) &&
                      (c.dtype == at::kFloat || same >= sameNeeded);
      if (!ok) fail("glu fwd " + what + ": rel L2 " + std::to_string(err) + ", bit-identical " + std::to_string(same));
      record("glu fwd", ok, err, false);
      expectClose("glu bwd", what + " dgate", dgate, fromHostDouble(dgRef, {c.rows, c.I}), tolerance(c.dtype));
      expectClose("glu bwd", what + " dup", dup, fromHostDouble(duRef, {c.rows, c.I}), tolerance(c.dtype));
      if (c.pad > 0 && !grads.narrow(1, 2 * c.I, c.pad).isnan().all().item<bool>()) {
        fail("glu bwd " + what + ": wrote past the dgate | dup columns");
      }
      // In place (the training backward writes the gradients over gate and up): the same bits.
      at::Tensor over = in.clone();
      at::Tensor og = over.narrow(1, 0, c.I), ou = over.narrow(1, c.I, c.I);
      kernels::gluBackward(dout, og, ou, act, og, ou);
      const bool sameInPlace = sameBytes(og, dgate) && sameBytes(ou, dup) &&
                               (c.pad == 0 || sameBytes(over.narrow(1, 2 * c.I, c.pad), in.narrow(1, 2 * c.I, c.pad)));
      if (!sameInPlace) fail("glu bwd " + what + ": in place differs from the separate buffers");
      record("glu bwd in place", sameInPlace, 0, true);
    }
  }
  std::printf("(c) glu: %zu cases x 3 activations, %d failures\n", cases.size(), gFailures - before);
}

// ---------------------------------------------------------------- (d) timings
struct Timer {
  cudaEvent_t start{}, stop{};
  Timer() {
    CUDA_OK(cudaEventCreate(&start));
    CUDA_OK(cudaEventCreate(&stop));
  }
  ~Timer() {
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
  }
};

// Median milliseconds of fn(rep) over `reps` runs after `warmup` runs. Before each run a read of
// a buffer several times the L2 size evicts the previous run's data (and leaves the L2 clean, so
// no write-back lands in the timed region) and keeps the GPU busy while the host enqueues.
double medianMs(const std::function<void(int)>& fn, int warmup, int reps, const at::Tensor& flush) {
  Timer t;
  cudaStream_t stream = at::cuda::getCurrentCUDAStream().stream();
  std::vector<float> ms;
  for (int i = 0; i < warmup + reps; ++i) {
    at::Tensor s = flush.sum();
    CUDA_OK(cudaEventRecord(t.start, stream));
    fn(i);
    CUDA_OK(cudaEventRecord(t.stop, stream));
    CUDA_OK(cudaEventSynchronize(t.stop));
    CUDA_OK(cudaGetLastError());
    float m = 0;
    CUDA_OK(cudaEventElapsedTime(&m, t.start, t.stop));
    if (i >= warmup) ms.push_back(m);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

struct BenchRow {
  std::string op, shape;
  double bytes, us, baselineUs;  // baselineUs < 0: none
  std::string check;             // key into gVerdict
};

struct Bench {
  int64_t l2 = 0;
  int warmup = 5, reps = 30;
  at::Tensor flush;
  std::vector<BenchRow> rows;
  double copyGBs = 0;
  std::map<std::string, double> floorUs;  // gemv shape -> the read floor's microseconds

  double time(const std::function<void(int)>& fn) { return medianMs(fn, warmup, reps, flush); }
  // Copies of an input set of `bytes` bytes so that together they exceed twice the L2.
  int64_t sets(double bytes) const { return std::clamp<int64_t>(int64_t(2.0 * l2 / bytes) + 1, 2, 8); }
};

int64_t weightBytes(const quant::Weight4& w) {
  int64_t b = w.packed.nbytes() + w.absmax.nbytes() + w.code.nbytes();
  if (w.nested) b += w.nestedAbsmax.nbytes() + w.nestedCode.nbytes();
  return b;
}

quant::Weight4 cloneWeight(const quant::Weight4& w) {
  quant::Weight4 c = w;
  c.packed = w.packed.clone();
  c.absmax = w.absmax.clone();
  if (w.nested) c.nestedAbsmax = w.nestedAbsmax.clone();
  c.absmaxCache.reset();
  return c;
}

void benchCopy(Bench& b) {  // memory bandwidth: a 1 GiB device-to-device copy, bytes read + written
  const int64_t n = int64_t{1} << 28;
  at::Tensor src = at::rand({n}, dev()), dst = at::empty({n}, dev());
  const double ms = b.time([&](int) { dst.copy_(src); });
  b.copyGBs = 2.0 * n * 4 / (ms * 1e-3) / 1e9;
  b.rows.push_back({"d2d copy (bandwidth)", "1 GiB", 2.0 * n * 4, ms * 1e3, -1, ""});
  // The fixed cost of one launch as timed here: what a kernel of a few microseconds cannot beat.
  at::Tensor one = at::empty({1}, dev());
  const double msLaunch = b.time([&](int) { one.fill_(1.0f); });
  b.rows.push_back({"launch floor (1-element fill)", "4 B", 4.0, msLaunch * 1e3, -1, ""});
}

void benchDequant(Bench& b, bool quick) {
  struct DQ {
    int64_t out, in;
    bool nested;
  };
  std::vector<DQ> shapes;
  for (bool nested : {true, false}) {
    for (auto [o, i] : {std::pair<int64_t, int64_t>{4096, 2560}, {1024, 2560}, {9728, 2560}, {2560, 9728}}) {
      shapes.push_back({o, i, nested});
    }
  }
  // q|k|v (6144 rows) and gate|up (19456 rows) concatenated: with in % blocksize == 0 the
  // packed bytes and fp32 absmax of stacked weights are just the concatenations, so one launch
  // can dequantize them into one GEMM buffer.
  shapes.push_back({6144, 2560, false});
  shapes.push_back({19456, 2560, false});
  for (const DQ& d : shapes) {
    quant::Weight4 wq = quant::quantize(at::randn({d.out, d.in}, dev()) * 0.05, quant::Type::NF4, 64, d.nested);
    const int64_t outBytes = d.out * d.in * 2;
    const int64_t n = b.sets(double(weightBytes(wq) + outBytes));
    std::vector<quant::Weight4> sets{wq};
    std::vector<at::Tensor> outs{at::empty({d.out * d.in}, dev().dtype(at::kBFloat16))};
    for (int64_t k = 1; k < n; ++k) {
      sets.push_back(cloneWeight(wq));
      outs.push_back(at::empty_like(outs[0]));
    }
    const std::string shape = std::to_string(d.out) + "x" + std::to_string(d.in) + (d.nested ? " nested" : " plain") +
                              " -> bf16";
    for (int v = 0; v < variants::kDequantVariants; ++v) {
      if (quick && v == 0) continue;
      const double ms = b.time([&](int i) {
        const quant::Weight4& w = sets[i % sets.size()];
        kernelDequantInto(w, w.packed, outs[i % sets.size()], v);
      });
      b.rows.push_back({std::string("dequant nf4 bs64 [") + variants::dequantVariantName(v) + "]", shape,
                        double(weightBytes(wq) + outBytes), ms * 1e3, -1, "dequant nf4/fp4"});
    }
  }
}

// Decode-step gemv (bf16 x) of each variant against a bf16 matmul on the dequantized weight (the
// baseline column); at 32 rows (the decoding steps of a batch) the tensor-core variants only,
// against dequantization + matmul (what the engine ran at more than 8 rows before them).
void benchGemv(Bench& b, bool quick) {
  struct Lin {
    int64_t in, out;
  };
  struct Prepared {
    quant::Weight4 wq;
    at::Tensor absmax, dense, x;
  };
  auto prepare = [&](const Lin& l) {
    Prepared p;
    p.wq = quant::quantize(at::randn({l.out, l.in}, dev()) * 0.05, quant::Type::NF4, 64, true);
    p.absmax = quant::absmaxFloatCached(p.wq);
    p.dense = quant::dequantize(p.wq, at::kBFloat16);
    return p;
  };
  auto benchLinears = [&](const std::string& shape, const std::vector<Lin>& lins, int64_t rows = 1) {
    std::vector<Prepared> base;
    double bytes = 0, denseBytes = 0;
    for (const Lin& l : lins) {
      base.push_back(prepare(l));
      base.back().x = at::randn({rows, l.in}, dev()).to(at::kBFloat16);
      const Prepared& p = base.back();
      bytes += double(p.wq.packed.nbytes() + p.absmax.nbytes() + p.x.nbytes()) + 2.0 * l.out * rows;
      denseBytes += double(p.dense.nbytes());
    }
    const int64_t nsets = b.sets(bytes), nsetsDense = b.sets(denseBytes);
    std::vector<std::vector<Prepared>> sets{base}, denseSets{base};
    for (int64_t k = 1; k < std::max(nsets, nsetsDense); ++k) {
      std::vector<Prepared> copy = base;
      for (Prepared& p : copy) {
        if (k < nsets) {
          p.wq = cloneWeight(p.wq);
          p.absmax = p.absmax.clone();
        }
        if (k < nsetsDense) p.dense = p.dense.clone();
      }
      if (k < nsets) sets.push_back(copy);
      if (k < nsetsDense) denseSets.push_back(copy);
    }
    std::vector<at::Tensor> sink(lins.size());
    const double msDense = b.time([&](int i) {
      for (size_t j = 0; j < lins.size(); ++j) {
        const Prepared& p = denseSets[i % denseSets.size()][j];
        sink[j] = rows == 1 ? at::matmul(p.x, p.dense.t()) : at::matmul(p.x, quant::dequantize(p.wq, at::kBFloat16).t());
      }
    });
    for (int v = 0; v < variants::kGemvVariants; ++v) {
      if ((quick && v == 0) || (rows > 1 && (v < kFirstMmaGemv || v >= kFirstStreamGemv))) continue;
      const double ms = b.time([&](int i) {
        for (size_t j = 0; j < lins.size(); ++j) {
          const Prepared& p = sets[i % sets.size()][j];
          sink[j] = variants::gemv4bit(p.x, p.wq.packed, p.wq.code, p.absmax, 64, p.wq.shape[0], p.wq.shape[1], v);
        }
      });
      b.rows.push_back({"gemv nf4 rows=" + std::to_string(rows) + " [" + variants::gemvVariantName(v) + "]", shape,
                        bytes, ms * 1e3, msDense * 1e3, "gemv nf4 bf16"});
    }
    if (rows == 1) {  // one launch a linear that only reads its packed bytes: the floor for the shape
      double packedBytes = 0;
      for (const Prepared& p : base) packedBytes += double(p.wq.packed.nbytes());
      at::Tensor sinkFloor;
      const double ms = b.time([&](int i) {
        for (size_t j = 0; j < lins.size(); ++j) nq::tools::readFloor(sets[i % sets.size()][j].wq.packed, sinkFloor);
      });
      b.rows.push_back({"read floor (packed bytes only, 1 launch a linear)", shape, packedBytes, ms * 1e3, -1, ""});
      b.floorUs[shape] = ms * 1e3;
    }
  };
  benchLinears("2560 -> 9728", {{2560, 9728}});
  benchLinears("9728 -> 2560", {{9728, 2560}});
  benchLinears("2560 -> 1024", {{2560, 1024}});
  benchLinears("2560 -> 6144 (q|k|v stacked)", {{2560, 6144}});
  benchLinears("2560 -> 19456 (gate|up stacked)", {{2560, 19456}});
  benchLinears("Qwen3-4B layer (7 linears)",
               {{2560, 4096}, {2560, 1024}, {2560, 1024}, {4096, 2560}, {2560, 9728}, {2560, 9728}, {9728, 2560}});
  // As the engine decodes a layer: q|k|v and gate|up stacked, one gemv each, then o and down.
  const std::vector<Lin> decoded{{2560, 6144}, {4096, 2560}, {2560, 19456}, {9728, 2560}};
  benchLinears("Qwen3-4B layer as decoded (4 gemvs)", decoded);
  benchLinears("Qwen3-4B layer as decoded (4 gemvs)", decoded, 32);
  // Weights large enough that one launch's fixed cost (the launch floor row) is small beside the
  // time its bytes take: Qwen2-7B's gate|up stacked, and a 70B-class MLP projection.
  benchLinears("3584 -> 37888 (Qwen2-7B gate|up)", {{3584, 37888}});
  benchLinears("8192 -> 28672", {{8192, 28672}});
}

// One fused op timed over rotated input sets, with an unfused ATen baseline where given.
// make(k) builds input set k; run / baseline take a set. bytes: one run's minimum traffic.
template <typename Set>
void benchOp(Bench& b, const std::string& op, const std::string& shape, double bytes, const std::string& check,
             const std::function<Set()>& make, const std::function<void(Set&)>& run,
             const std::function<void(Set&)>& baseline) {
  std::vector<Set> sets;
  for (int64_t k = 0; k < b.sets(bytes); ++k) sets.push_back(make());
  const double ms = b.time([&](int i) { run(sets[i % sets.size()]); });
  double msBase = -1;
  if (baseline) msBase = b.time([&](int i) { baseline(sets[i % sets.size()]); });
  b.rows.push_back({op, shape, bytes, ms * 1e3, msBase < 0 ? -1 : msBase * 1e3, check});
}

void benchFused(Bench& b) {
  const auto bf = at::kBFloat16;
  struct NormSet {
    at::Tensor x, w, dy, rstd, sink;
  };
  for (auto [rows, C] : {std::pair<int64_t, int64_t>{8192, 2560}, {8192 * 32, 128}}) {
    const std::string shape = std::to_string(rows) + "x" + std::to_string(C) + " bf16";
    auto make = [&, rows = rows, C = C] {
      NormSet s{randomOn({rows, C}, bf), randomOn({C}, bf), randomOn({rows, C}, bf), {}, {}};
      s.rstd = std::get<1>(kernels::rmsNormForward(s.x, s.w, 1e-6, false));
      return s;
    };
    const double elems = double(rows) * C;
    benchOp<NormSet>(
        b, "rmsnorm fwd", shape, 4.0 * elems + 4.0 * rows, "rmsnorm fwd", make,
        [](NormSet& s) { s.sink = std::get<0>(kernels::rmsNormForward(s.x, s.w, 1e-6, false)); },
        [](NormSet& s) {  // transformers' LlamaRMSNorm as separate ATen ops
          at::Tensor xf = s.x.to(at::kFloat);
          at::Tensor r = at::rsqrt(xf.pow(2).mean(-1, true) + 1e-6);
          s.sink = s.w * (xf * r).to(at::kBFloat16);
        });
    benchOp<NormSet>(
        b, "rmsnorm bwd", shape, 6.0 * elems + 4.0 * rows, "rmsnorm bwd", make,
        [](NormSet& s) { s.sink = kernels::rmsNormBackward(s.dy, s.x, s.w, s.rstd, false); }, {});
  }

  struct RopeSet {
    at::Tensor qkv, cos, sin, sink;
  };
  {
    const int64_t N = 8192, heads = 32, D = 128;
    auto make = [&] {
      at::Tensor angles = at::rand({N, D}, dev()) * 6.3;
      return RopeSet{randomOn({N, 6144}, bf), angles.cos().to(bf), angles.sin().to(bf), {}};
    };
    const double bytes = 2.0 * (2.0 * N * heads * D + 2.0 * N * D);
    auto q = [=](RopeSet& s) { return s.qkv.narrow(1, 0, heads * D).view({N, heads, D}); };
    benchOp<RopeSet>(
        b, "rope fwd", "q slice 8192x32x128 of q|k|v bf16", bytes, "rope fwd", make,
        [=](RopeSet& s) { s.sink = kernels::ropeApply(q(s), s.cos, s.sin, D, false); },
        [=](RopeSet& s) {  // q * cos + rotate_half(q) * sin as separate ATen ops
          at::Tensor x = q(s), c = s.cos.unsqueeze(1), sn = s.sin.unsqueeze(1);
          at::Tensor rot = at::cat({-x.narrow(2, D / 2, D / 2), x.narrow(2, 0, D / 2)}, 2);
          s.sink = x * c + rot * sn;
        });
    benchOp<RopeSet>(
        b, "rope inverse", "q slice 8192x32x128 of q|k|v bf16", bytes, "rope inverse", make,
        [=](RopeSet& s) { s.sink = kernels::ropeApply(q(s), s.cos, s.sin, D, true); }, {});
  }

  struct GluSet {
    at::Tensor in, dout, grads, sink;
  };
  {
    const int64_t rows = 8192, I = 9728;
    auto make = [&] {
      return GluSet{randomOn({rows, 2 * I}, bf), randomOn({rows, I}, bf), at::empty({rows, 2 * I}, dev().dtype(bf)),
                    {}};
    };
    const double elems = double(rows) * I;
    benchOp<GluSet>(
        b, "glu fwd (silu)", "8192x9728 halves of 8192x19456 bf16", 6.0 * elems, "glu fwd", make,
        [=](GluSet& s) { s.sink = kernels::gluForward(s.in.narrow(1, 0, I), s.in.narrow(1, I, I), kernels::kSilu); },
        [=](GluSet& s) { s.sink = at::silu(s.in.narrow(1, 0, I)) * s.in.narrow(1, I, I); });
    benchOp<GluSet>(
        b, "glu bwd (silu)", "8192x9728 halves of 8192x19456 bf16", 10.0 * elems, "glu bwd", make,
        [=](GluSet& s) {
          at::Tensor dg = s.grads.narrow(1, 0, I), du = s.grads.narrow(1, I, I);
          kernels::gluBackward(s.dout, s.in.narrow(1, 0, I), s.in.narrow(1, I, I), kernels::kSilu, dg, du);
        },
        {});
  }
}

// For a profiler (ncu -k regex:"gemv|readFloor"): one 2560 -> 9728 decode gemv of the split
// kernel, the tensor-core kernel, the streaming kernel and its pair-table form (the engine's at
// one row), and the read floor, twice each.
void profileGemv() {
  quant::Weight4 wq = quant::quantize(at::randn({9728, 2560}, dev()) * 0.05, quant::Type::NF4, 64, true);
  const at::Tensor absmax = quant::absmaxFloatCached(wq);
  const at::Tensor x = at::randn({1, 2560}, dev()).to(at::kBFloat16);
  at::Tensor sink;
  for (int rep = 0; rep < 2; ++rep) {
    for (int v : {kSplitGemv, kFirstMmaGemv, kFirstStreamGemv, kFirstStreamGemv + 1}) {
      sink = variants::gemv4bit(x, wq.packed, wq.code, absmax, 64, 9728, 2560, v);
    }
    nq::tools::readFloor(wq.packed, sink);
  }
  CUDA_OK(cudaDeviceSynchronize());
}

void printTable(const Bench& b) {
  const auto& prop = *at::cuda::getCurrentDeviceProperties();
  std::printf("\nDevice: %s, %d SMs, L2 %d MB. Measured copy bandwidth %.0f GB/s (read + write).\n", prop.name,
              prop.multiProcessorCount, prop.l2CacheSize >> 20, b.copyGBs);
  std::printf("Median of %d runs after %d warm-up; baseline = unfused ATen ops (bf16 matmul on the dequantized "
              "weight for gemv).\n\n",
              b.reps, b.warmup);
  std::printf("| op | shape | MB moved | time (us) | GB/s | %% of copy | baseline (us) | speed-up | check |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  for (const BenchRow& r : b.rows) {
    const double gbs = r.bytes / (r.us * 1e-6) / 1e9;
    char base[32] = "-", ratio[32] = "-";
    if (r.baselineUs >= 0) {
      std::snprintf(base, sizeof base, "%.1f", r.baselineUs);
      std::snprintf(ratio, sizeof ratio, "%.2fx", r.baselineUs / r.us);
    }
    const auto v = gVerdict.find(r.check);
    const std::string check = r.check.empty() ? "-" : v == gVerdict.end() ? "not checked" : v->second;
    std::printf("| %s | %s | %.1f | %.1f | %.0f | %.0f%% | %s | %s | %s |\n", r.op.c_str(), r.shape.c_str(),
                r.bytes / 1e6, r.us, gbs, 100.0 * gbs / b.copyGBs, base, ratio, check.c_str());
  }
  // The fastest variant per shape of the kernels that have variants ("op [variant]").
  std::map<std::string, const BenchRow*> best;
  for (const BenchRow& r : b.rows) {
    const size_t open = r.op.find(" [");
    if (open == std::string::npos) continue;
    const std::string key = r.op.substr(0, open) + " | " + r.shape;
    if (!best.count(key) || r.us < best[key]->us) best[key] = &r;
  }
  std::printf("\nFastest variant per shape:\n");
  for (const auto& [key, r] : best) {
    const double gbs = r->bytes / (r->us * 1e-6) / 1e9;
    const auto floor = b.floorUs.find(r->shape);
    char vsFloor[64] = "";
    if (key.rfind("gemv nf4 rows=1 ", 0) == 0 && floor != b.floorUs.end()) {
      std::snprintf(vsFloor, sizeof vsFloor, "; reading its packed bytes alone: %.1f us", floor->second);
    }
    std::printf("  %s: %s %.1f us, %.0f%% of copy%s\n", key.c_str(), r->op.substr(r->op.find(" [") + 1).c_str(), r->us,
                100.0 * gbs / b.copyGBs, vsFloor);
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false, gemvOnly = false, profile = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--gemv") == 0) {
      gemvOnly = true;
    } else if (std::strcmp(argv[i], "--profile-gemv") == 0) {
      profile = true;
    } else {
      std::fprintf(stderr, "kernel_check: unknown option %s\nusage: kernel_check [--quick] [--gemv] [--profile-gemv]\n", argv[i]);
      return 2;
    }
  }
  const auto t0 = std::chrono::steady_clock::now();
  try {
    if (!at::hasCUDA() || at::cuda::getNumGPUs() == 0) {
      std::fprintf(stderr, "kernel_check: no CUDA device\n");
      return 2;
    }
    at::manual_seed(1234);
    if (profile) {
      profileGemv();
      return 0;
    }
    if (!gemvOnly) checkDequant(quick);
    checkGemv(quick);
    if (!gemvOnly) {
      checkRmsNorm();
      checkRope();
      checkDecodeQkv();
      checkLoraDecode();
      checkDecodeAttention();
      checkGlu();
    }
    const double checkSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("checks took %.1f s\n", checkSeconds);

    Bench b;
    b.l2 = at::cuda::getCurrentDeviceProperties()->l2CacheSize;
    b.reps = quick ? 20 : 30;
    b.flush = at::rand({std::max<int64_t>(8 * b.l2, int64_t{256} << 20) / 4}, dev());
    benchCopy(b);
    if (!gemvOnly) benchDequant(b, quick);
    benchGemv(b, quick);
    if (!gemvOnly) benchFused(b);
    printTable(b);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kernel_check: error: %s\n", e.what());
    return 2;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("\n%s: %d correctness failure(s), %.1f s\n", gFailures ? "FAILED" : "PASSED", gFailures, seconds);
  return gFailures ? 1 : 0;
}
