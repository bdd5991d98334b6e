// kernel_check: checks and times the 4-bit CUDA kernels (native/kernels) on the GPU.
//   (a) dequantize4bit / dequantize4bitNested bit-identical to quant::dequantizeReference (CPU),
//       and quant::quantize giving the same bytes on CPU and CUDA;
//   (b) gemv4bit against dequantizeReference + at::linear in float64 (relative L2 error);
//   (c) timings with CUDA events: dequant throughput and 4-bit gemv decode steps against a bf16
//       matmul on the dequantized weight, as shares of a device-to-device copy measured here.
// Built only with CUDA (links native/core and native/kernels, no N-API).
// Usage: kernel_check [--quick]. Exit status: 0 all checks passed, 1 a check failed, 2 error.
// Not here: tests of the CPU path (test/native) or of the addon.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <string>
#include <vector>

#include "core/quant.h"
#include "kernels/kernels.h"

namespace {

namespace quant = nq::quant;
namespace kernels = nq::kernels;

#define CUDA_OK(expr)                                                                             \
  do {                                                                                            \
    cudaError_t err_ = (expr);                                                                    \
    if (err_ != cudaSuccess) throw std::runtime_error(std::string(#expr) + ": " + cudaGetErrorString(err_)); \
  } while (0)

int gFailures = 0;

void fail(const std::string& what) {
  ++gFailures;
  std::printf("FAIL %s\n", what.c_str());
}

const char* dtypeName(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "f32";
    case at::kBFloat16: return "bf16";
    case at::kHalf: return "f16";
    default: return "?";
  }
}

at::Tensor cuda(const at::Tensor& t) { return t.defined() ? t.to(at::kCUDA).contiguous() : t; }

// The caching allocator hands a freed block to the next request of the same size: filling one
// with 0xFF (NaN in every float format) just before a kernel allocates its output makes an
// element the kernel forgot to write show up as a mismatch.
void poison(int64_t bytes) {
  if (bytes > 0) at::full({bytes}, 0xFF, at::TensorOptions().device(at::kCUDA).dtype(at::kByte));
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

std::string label(quant::Type type, bool nested, int64_t bs, int64_t numel, at::ScalarType out) {
  return std::string(quant::typeName(type)) + (nested ? " nested" : " plain") + " bs=" + std::to_string(bs) +
         " numel=" + std::to_string(numel) + " out=" + dtypeName(out);
}

at::Tensor kernelDequant(const quant::Weight4& w, at::ScalarType out, const at::Tensor& packed) {
  if (w.nested) {
    return kernels::dequantize4bitNested(packed, cuda(w.code), cuda(w.absmax), cuda(w.nestedCode),
                                         cuda(w.nestedAbsmax), w.nestedBlocksize, w.nestedOffset, w.blocksize,
                                         w.numel(), out);
  }
  return kernels::dequantize4bit(packed, cuda(w.code), cuda(w.absmax), w.blocksize, w.numel(), out);
}

// Bit-for-bit comparison of one kernel output with the CPU reference; says what differs.
void expectBitEqual(const std::string& what, const at::Tensor& got, const at::Tensor& ref) {
  at::Tensor g = got.cpu().reshape({-1}), r = ref.cpu().reshape({-1});
  if (g.scalar_type() != r.scalar_type() || g.numel() != r.numel()) {
    fail(what + ": dtype/numel " + dtypeName(g.scalar_type()) + "/" + std::to_string(g.numel()) + " vs reference " +
         dtypeName(r.scalar_type()) + "/" + std::to_string(r.numel()));
    return;
  }
  if (at::equal(rawBits(g), rawBits(r))) return;
  const int64_t differing = rawBits(g).ne(rawBits(r)).sum().item<int64_t>();
  const double maxDiff = (g.to(at::kDouble) - r.to(at::kDouble)).abs().nan_to_num(1e300).max().item<double>();
  fail(what + ": " + std::to_string(differing) + " of " + std::to_string(g.numel()) +
       " elements differ in bits, max abs diff " + std::to_string(maxDiff));
}

// ---------------------------------------------------------------- (a) dequantization
void checkDequant(bool quick) {
  const std::vector<int64_t> numels =
      quick ? std::vector<int64_t>{33, 4097, 333333} : std::vector<int64_t>{1, 33, 4097, 333333, (1 << 22) + 1};
  const std::vector<int64_t> blocksizes{64, 128, 256, 4096};
  const std::vector<at::ScalarType> outs{at::kFloat, at::kBFloat16, at::kHalf};
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
            poison(numel * static_cast<int64_t>(c10::elementSize(out)));
            at::Tensor got = kernelDequant(onCuda, out, packed);
            expectBitEqual("dequant " + label(type, nested, bs, numel, out), got,
                           quant::dequantizeReference(ref, out));
            ++checks;
          }
          if (numel == 333333 && bs == 64) {
            // Misaligned packed bytes (storage offset 1): the kernel's byte-by-byte path.
            at::Tensor shifted = at::empty({packed.numel() + 1}, packed.options()).narrow(0, 1, packed.numel());
            shifted.copy_(packed.reshape({-1}));
            at::Tensor got = kernelDequant(onCuda, at::kBFloat16, shifted);
            expectBitEqual("dequant misaligned " + label(type, nested, bs, numel, at::kBFloat16), got,
                           quant::dequantizeReference(ref, at::kBFloat16));
            // The public entry point (quant::dequantize on a CUDA weight) goes through the kernel.
            expectBitEqual("quant::dequantize " + label(type, nested, bs, numel, at::kBFloat16),
                           quant::dequantize(onCuda, at::kBFloat16), quant::dequantizeReference(ref, at::kBFloat16));
            checks += 2;
          }
        }
      }
    }
  }
  std::printf("(a) dequant: %d bit-exact checks, %d failures\n", checks, gFailures - before);
}

// ---------------------------------------------------------------- (b) gemv
struct GemvError {
  std::string shape;
  std::string dtype;
  int64_t rows;
  double err;
  bool ok;
};

double relL2(const at::Tensor& got, const at::Tensor& ref) {
  at::Tensor g = got.to(at::kDouble);
  const double num = (g - ref).norm().item<double>();
  const double den = ref.norm().item<double>();
  return den > 0 ? num / den : num;
}

void checkGemv(bool quick, std::vector<GemvError>& errors) {
  struct Case {
    int64_t out, in, bs;
    bool nested;
  };
  std::vector<Case> cases{{2560, 2560, 64, false}, {9728, 2560, 64, false}, {2560, 9728, 64, true},
                          {37, 1000, 64, false},   // in % 32 != 0: the general kernel
                          {33, 999, 128, false},   // odd numel, blocks across rows
                          {24, 2560, 4096, false}};  // fast path, blocks spanning rows
  if (!quick) cases.push_back({151936, 2560, 64, false});  // lm_head of Qwen3
  const int before = gFailures;
  for (const Case& c : cases) {
    at::Tensor w = at::randn({c.out, c.in}, at::TensorOptions().device(at::kCUDA)) * 0.05;
    quant::Weight4 wq = quant::quantize(w, quant::Type::NF4, c.bs, c.nested);
    w.reset();
    const at::Tensor packed = cuda(wq.packed), code = cuda(wq.code), absmax = cuda(quant::absmaxFloat(wq));
    const at::Tensor wRef = quant::dequantizeReference(wq, at::kFloat).to(at::kDouble);  // (out, in)
    const bool small = c.out * c.in < 1000000;
    std::vector<int64_t> rowsList{1, 2, 4, 8};
    if (small) rowsList = {1, 2, 3, 4, 5, 8, 11};
    const std::string shape = std::to_string(c.out) + "x" + std::to_string(c.in) + " bs" + std::to_string(c.bs) +
                              (c.nested ? " nested" : "");
    for (at::ScalarType dtype : {at::kFloat, at::kBFloat16, at::kHalf}) {
      if (dtype == at::kHalf && !small && c.out != 2560) continue;  // f16 on a few shapes only
      const double tol = dtype == at::kFloat ? 1e-5 : 1e-2;
      for (int64_t rows : rowsList) {
        at::Tensor x = at::randn({rows, c.in}, at::TensorOptions().device(at::kCUDA)).to(dtype);
        poison(rows * c.out * static_cast<int64_t>(c10::elementSize(dtype)));
        at::Tensor y = kernels::gemv4bit(x, packed, code, absmax, c.bs, c.out, c.in);
        const at::Tensor ref = at::linear(x.to(at::kDouble), wRef);
        bool ok = y.scalar_type() == dtype && y.dim() == 2 && y.size(0) == rows && y.size(1) == c.out;
        const double err = ok ? relL2(y, ref) : NAN;
        ok = ok && err < tol;  // NaN fails
        if (!ok) fail("gemv " + shape + " " + dtypeName(dtype) + " rows=" + std::to_string(rows) +
                      ": rel L2 error " + std::to_string(err) + " (tolerance " + std::to_string(tol) + ")");
        errors.push_back({shape, dtypeName(dtype), rows, err, ok});
      }
    }
  }
  std::printf("(b) gemv: %zu checks, %d failures\n", errors.size(), gFailures - before);
  std::printf("\n| gemv shape (out x in) | x dtype | rel L2 error by rows |\n| --- | --- | --- |\n");
  for (size_t i = 0; i < errors.size();) {
    std::string line;
    size_t j = i;
    for (; j < errors.size() && errors[j].shape == errors[i].shape && errors[j].dtype == errors[i].dtype; ++j) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%s%lld: %.2e%s", line.empty() ? "" : ", ", static_cast<long long>(errors[j].rows),
                    errors[j].err, errors[j].ok ? "" : " FAIL");
      line += buf;
    }
    std::printf("| %s | %s | %s |\n", errors[i].shape.c_str(), errors[i].dtype.c_str(), line.c_str());
    i = j;
  }
}

// ---------------------------------------------------------------- (c) timings
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
  double bytes, flops, us, baselineUs;  // baselineUs < 0: none
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
  return c;
}

// Copies of one weight, enough that together they exceed twice the L2 (2..8 of them).
std::vector<quant::Weight4> rotation(const quant::Weight4& w, int64_t l2Bytes, int64_t extraBytesPerSet) {
  const int64_t per = weightBytes(w) + extraBytesPerSet;
  const int64_t n = std::clamp<int64_t>((2 * l2Bytes + per - 1) / per, 2, 8);
  std::vector<quant::Weight4> sets{w};
  for (int64_t i = 1; i < n; ++i) sets.push_back(cloneWeight(w));
  return sets;
}

void bench(bool quick, std::vector<BenchRow>& rows, double& copyGBs) {
  const auto& prop = *at::cuda::getCurrentDeviceProperties();
  const int64_t l2 = prop.l2CacheSize;
  const int warmup = 5, reps = quick ? 20 : 50;
  const auto dev = at::TensorOptions().device(at::kCUDA);
  at::Tensor flush = at::rand({std::max<int64_t>(8 * l2, int64_t{256} << 20) / 4}, dev);

  {  // memory bandwidth: a 1 GiB device-to-device copy, bytes read + written
    const int64_t n = int64_t{1} << 28;
    at::Tensor src = at::rand({n}, dev), dst = at::empty({n}, dev);
    const double ms = medianMs([&](int) { dst.copy_(src); }, 3, reps, flush);
    copyGBs = 2.0 * n * 4 / (ms * 1e-3) / 1e9;
    rows.push_back({"d2d copy (bandwidth)", "1 GiB", 2.0 * n * 4, 0, ms * 1e3, -1});
  }

  // Dequantization: bytes = weight storage read + output written.
  struct DQ {
    int64_t out, in;
    bool nested;
    at::ScalarType dtype;
  };
  for (const DQ& d : {DQ{4096, 4096, true, at::kBFloat16}, DQ{4096, 4096, false, at::kBFloat16},
                      DQ{4096, 4096, true, at::kFloat}, DQ{9728, 2560, true, at::kBFloat16},
                      DQ{9728, 2560, false, at::kBFloat16}}) {
    quant::Weight4 wq = quant::quantize(at::randn({d.out, d.in}, dev) * 0.05, quant::Type::NF4, 64, d.nested);
    const int64_t outBytes = d.out * d.in * static_cast<int64_t>(c10::elementSize(d.dtype));
    std::vector<quant::Weight4> sets = rotation(wq, l2, outBytes);
    std::vector<at::Tensor> outs(sets.size());
    const double ms = medianMs(
        [&](int i) {
          const quant::Weight4& w = sets[i % sets.size()];
          outs[i % sets.size()] = kernelDequant(w, d.dtype, w.packed);
        },
        warmup, reps, flush);
    const std::string shape = std::to_string(d.out) + "x" + std::to_string(d.in) + (d.nested ? " nested" : " plain") +
                              " -> " + dtypeName(d.dtype);
    rows.push_back({"dequant nf4 bs64", shape, double(weightBytes(wq) + outBytes), double(d.out * d.in), ms * 1e3, -1});
  }

  // Decode step gemv (rows = 1, bf16 x) against bf16 matmul on the dequantized weight.
  struct Lin {
    const char* name;
    int64_t in, out;
  };
  const std::vector<Lin> layer{{"q", 2560, 4096}, {"k", 2560, 1024}, {"v", 2560, 1024}, {"o", 4096, 2560},
                               {"gate", 2560, 9728}, {"up", 2560, 9728}, {"down", 9728, 2560}};
  struct Prepared {
    quant::Weight4 wq;
    at::Tensor absmax, dense, x;
  };
  auto prepare = [&](const Lin& l) {
    Prepared p;
    p.wq = quant::quantize(at::randn({l.out, l.in}, dev) * 0.05, quant::Type::NF4, 64, false);
    p.absmax = cuda(quant::absmaxFloat(p.wq));
    p.dense = quant::dequantize(p.wq, at::kBFloat16);
    p.x = at::randn({1, l.in}, dev).to(at::kBFloat16);
    return p;
  };
  auto gemvBytes = [](const Prepared& p) {
    return double(p.wq.packed.nbytes() + p.absmax.nbytes() + p.x.nbytes()) + 2.0 * p.wq.shape[0];
  };
  // sets[k][j]: copy k of linear j; the quantized and the dense variants rotate the same way.
  auto benchLinears = [&](const std::string& name, const std::string& shape, const std::vector<Lin>& lins) {
    std::vector<Prepared> base;
    double bytes = 0, denseBytes = 0, flops = 0;
    for (const Lin& l : lins) {
      base.push_back(prepare(l));
      bytes += gemvBytes(base.back());
      denseBytes += double(base.back().dense.nbytes());
      flops += 2.0 * l.in * l.out;
    }
    const int64_t nsets = std::clamp<int64_t>(int64_t(2 * l2 / bytes) + 1, 2, 8);
    const int64_t nsetsDense = std::clamp<int64_t>(int64_t(2 * l2 / denseBytes) + 1, 2, 8);
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
    const double ms4 = medianMs(
        [&](int i) {
          for (size_t j = 0; j < lins.size(); ++j) {
            const Prepared& p = sets[i % sets.size()][j];
            sink[j] = kernels::gemv4bit(p.x, p.wq.packed, p.wq.code, p.absmax, 64, p.wq.shape[0], p.wq.shape[1]);
          }
        },
        warmup, reps, flush);
    const double msDense = medianMs(
        [&](int i) {
          for (size_t j = 0; j < lins.size(); ++j) {
            const Prepared& p = denseSets[i % denseSets.size()][j];
            sink[j] = at::matmul(p.x, p.dense.t());
          }
        },
        warmup, reps, flush);
    rows.push_back({name, shape, bytes, flops, ms4 * 1e3, msDense * 1e3});
  };
  benchLinears("gemv nf4 rows=1 bf16", "2560 -> 9728", {{"up", 2560, 9728}});
  benchLinears("gemv nf4 rows=1 bf16", "9728 -> 2560", {{"down", 9728, 2560}});
  benchLinears("gemv nf4 rows=1 bf16", "Qwen3-4B layer (7 linears)", layer);
}

void printTable(const std::vector<BenchRow>& rows, double copyGBs) {
  const auto& prop = *at::cuda::getCurrentDeviceProperties();
  std::printf("\nDevice: %s, %d SMs, L2 %d MB. Measured copy bandwidth %.0f GB/s (read + write).\n", prop.name,
              prop.multiProcessorCount, prop.l2CacheSize >> 20, copyGBs);
  std::printf("\n| op | shape | MB moved | GFLOP | time (us) | GB/s | %% of copy BW | bf16 matmul (us) | bf16 / 4-bit |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  for (const BenchRow& r : rows) {
    const double gbs = r.bytes / (r.us * 1e-6) / 1e9;
    char base[64] = "-", ratio[32] = "-";
    if (r.baselineUs >= 0) {
      std::snprintf(base, sizeof base, "%.1f", r.baselineUs);
      std::snprintf(ratio, sizeof ratio, "%.2fx", r.baselineUs / r.us);
    }
    std::printf("| %s | %s | %.1f | %.3f | %.1f | %.0f | %.0f%% | %s | %s |\n", r.op.c_str(), r.shape.c_str(),
                r.bytes / 1e6, r.flops / 1e9, r.us, gbs, 100.0 * gbs / copyGBs, base, ratio);
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else {
      std::fprintf(stderr, "usage: kernel_check [--quick]\n");
      return 2;
    }
  }
  try {
    if (!at::hasCUDA() || at::cuda::getNumGPUs() == 0) {
      std::fprintf(stderr, "kernel_check: no CUDA device\n");
      return 2;
    }
    at::manual_seed(1234);
    std::vector<GemvError> errors;
    checkDequant(quick);
    checkGemv(quick, errors);
    std::vector<BenchRow> rows;
    double copyGBs = 0;
    bench(quick, rows, copyGBs);
    printTable(rows, copyGBs);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kernel_check: error: %s\n", e.what());
    return 2;
  }
  std::printf("\n%s: %d correctness failure(s)\n", gFailures ? "FAILED" : "PASSED", gFailures);
  return gFailures ? 1 : 0;
}
