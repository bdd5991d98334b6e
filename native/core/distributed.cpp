// See distributed.h. The store keys of one collective are "nq/ar/<sequence>/<rank>"; the last
// rank to have read all of them deletes them, so the store holds at most one collective's data.
#include "core/distributed.h"

#include <ATen/core/grad_mode.h>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>
#include <algorithm>
#include <cstring>
#include <thread>

#ifdef NQ_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include "core/errors.h"

namespace nq {

bool ncclAvailable() {
#ifdef NQ_WITH_NCCL
  return true;
#else
  return false;
#endif
}

struct ProcessGroup::Impl {
  c10::intrusive_ptr<c10d::TCPStore> store;
#ifdef NQ_WITH_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif
};

namespace {

std::string firstLine(const std::string& s) { return s.substr(0, s.find('\n')); }

std::vector<uint8_t> bytesOf(const at::Tensor& cpu) {
  const auto* p = static_cast<const uint8_t*>(cpu.data_ptr());
  return std::vector<uint8_t>(p, p + cpu.nbytes());
}

// Tensors of one dtype and device, consecutive in the caller's list, up to ~bucketBytes.
std::vector<std::vector<at::Tensor>> buckets(const std::vector<at::Tensor>& tensors, int64_t bucketBytes) {
  std::vector<std::vector<at::Tensor>> out;
  int64_t bytes = 0;
  for (const at::Tensor& t : tensors) {
    const int64_t n = static_cast<int64_t>(t.nbytes());
    bool fresh = out.empty() || bytes + n > bucketBytes || out.back().front().scalar_type() != t.scalar_type() ||
                 out.back().front().device() != t.device();
    if (fresh && !(out.empty() || out.back().empty())) {
      out.emplace_back();
      bytes = 0;
    }
    if (out.empty()) out.emplace_back();
    out.back().push_back(t);
    bytes += n;
  }
  return out;
}

}  // namespace

ProcessGroup::ProcessGroup(const ProcessGroupOptions& o, std::shared_ptr<std::atomic<bool>> aborted)
    : options_(o), impl_(std::make_unique<Impl>()), aborted_(std::move(aborted)) {
  if (o.worldSize < 1 || o.rank < 0 || o.rank >= o.worldSize) {
    throw Error("INVALID_ARGUMENT", "process group: rank " + std::to_string(o.rank) + " is not in [0, worldSize " +
                                        std::to_string(o.worldSize) + ")");
  }
  if (o.port < 1 || o.port > 65535) throw Error("INVALID_ARGUMENT", "process group: port must be in [1, 65535], got " + std::to_string(o.port));
  if (o.timeoutMs < 1) throw Error("INVALID_ARGUMENT", "process group: timeoutMs must be >= 1");
  if (o.backend == "nccl" && !ncclAvailable()) {
    throw Error("DIST_UNAVAILABLE", "process group: backend 'nccl' was asked for but this addon was built without NCCL "
                                    "(a CUDA build that found nccl.h); use backend 'tcpstore' or rebuild on the CUDA machine");
  }
  if (o.backend != "nccl" && o.backend != "tcpstore") {
    throw Error("INVALID_ARGUMENT", "process group: backend must be 'tcpstore' or 'nccl', got '" + o.backend + "'");
  }
  const std::chrono::milliseconds timeout(o.timeoutMs);
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(o.port);
    so.isServer = o.rank == 0;
    so.numWorkers = static_cast<size_t>(o.worldSize);
    so.waitWorkers = true;
    so.timeout = timeout;
    impl_->store = c10::make_intrusive<c10d::TCPStore>(o.host, so);
#ifdef NQ_WITH_NCCL
    if (o.backend == "nccl") {
      auto ncclOptions = c10d::ProcessGroupNCCL::Options::create();
      ncclOptions->timeout = timeout;
      impl_->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl_->store, o.rank, o.worldSize, ncclOptions);
    }
#endif
  } catch (const c10::Error& e) {
    throw Error("DIST_INIT", "rank " + std::to_string(o.rank) + " of " + std::to_string(o.worldSize) + ": rendezvous at " + o.host + ":" +
                                 std::to_string(o.port) + " failed: " + firstLine(e.what_without_backtrace()));
  }
}

ProcessGroup::~ProcessGroup() {
#ifdef NQ_WITH_NCCL
  if (impl_ && impl_->nccl) {
    try {
      impl_->nccl->shutdown();
    } catch (...) {
      // Destructors do not throw; a peer that is already gone makes shutdown fail.
    }
  }
#endif
}

// store.get() would block for the whole timeout; polling check() lets an abort end the wait.
std::vector<uint8_t> ProcessGroup::awaitKey(const std::string& key) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.timeoutMs);
  std::chrono::microseconds pause(50);
  while (!impl_->store->check({key})) {
    if (aborted_ && aborted_->load()) {
      throw Error("DIST_ABORTED", "rank " + std::to_string(options_.rank) + ": the process group was aborted (another rank failed)");
    }
    if (std::chrono::steady_clock::now() > deadline) {
      throw Error("DIST_COLLECTIVE", "rank " + std::to_string(options_.rank) + " of " + std::to_string(options_.worldSize) +
                                         ": no data from a peer within " + std::to_string(options_.timeoutMs) + " ms (" + key +
                                         "); a rank stopped or is far behind");
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(20000));
  }
  return impl_->store->get(key);
}

void ProcessGroup::reduceBucket(at::Tensor& flat) {
  if (aborted_ && aborted_->load()) {
    throw Error("DIST_ABORTED", "rank " + std::to_string(options_.rank) + ": the process group was aborted (another rank failed)");
  }
#ifdef NQ_WITH_NCCL
  if (impl_->nccl) {
    std::vector<at::Tensor> list{flat};
    c10d::AllreduceOptions ar;
    ar.reduceOp = c10d::ReduceOp::SUM;
    impl_->nccl->allreduce(list, ar)->wait(std::chrono::milliseconds(options_.timeoutMs));
    return;
  }
#endif
  const int N = options_.worldSize;
  const std::string base = "nq/ar/" + std::to_string(sequence_++) + "/";
  const at::Tensor mine = flat.to(at::kCPU).contiguous();
  c10d::Store& store = *impl_->store;
  store.set(base + std::to_string(options_.rank), bytesOf(mine));
  // Rank order on every rank: each ends with the same sum, bit for bit.
  at::Tensor sum;
  for (int r = 0; r < N; ++r) {
    at::Tensor part = mine;
    if (r != options_.rank) {
      std::vector<uint8_t> bytes = awaitKey(base + std::to_string(r));
      if (bytes.size() != mine.nbytes()) {
        throw Error("DIST_COLLECTIVE", "all-reduce: rank " + std::to_string(r) + " sent " + std::to_string(bytes.size()) + " bytes, rank " +
                                           std::to_string(options_.rank) + " expected " + std::to_string(mine.nbytes()) +
                                           " (the ranks hold different adapters)");
      }
      part = at::empty_like(mine);
      std::memcpy(part.data_ptr(), bytes.data(), bytes.size());
    }
    if (r == 0) sum = part.clone();
    else sum.add_(part);
  }
  if (store.add(base + "read", 1) == N) {
    for (int r = 0; r < N; ++r) store.deleteKey(base + std::to_string(r));
    store.deleteKey(base + "read");
  }
  flat.copy_(sum);
}

void ProcessGroup::allReduceSum(const std::vector<at::Tensor>& tensors) {
  if (options_.worldSize == 1 || tensors.empty()) return;
  at::NoGradGuard noGrad;
  try {
    for (const std::vector<at::Tensor>& bucket : buckets(tensors, options_.bucketBytes)) {
      std::vector<at::Tensor> views;
      for (const at::Tensor& t : bucket) views.push_back(t.reshape({-1}));
      at::Tensor flat = at::cat(views);
      reduceBucket(flat);
      int64_t offset = 0;
      for (const at::Tensor& t : bucket) {
        t.copy_(flat.narrow(0, offset, t.numel()).view(t.sizes()));
        offset += t.numel();
      }
    }
  } catch (const c10::Error& e) {
    throw Error("DIST_COLLECTIVE", "rank " + std::to_string(options_.rank) + " of " + std::to_string(options_.worldSize) +
                                       ": all-reduce failed (a peer stopped or timed out after " + std::to_string(options_.timeoutMs) +
                                       " ms): " + firstLine(e.what_without_backtrace()));
  }
}

void ProcessGroup::barrier() {
  if (options_.worldSize == 1) return;
  try {
    const std::string key = "nq/barrier/" + std::to_string(sequence_++);
    if (impl_->store->add(key, 1) == options_.worldSize) impl_->store->set(key + "/go", std::vector<uint8_t>{1});
    awaitKey(key + "/go");
  } catch (const c10::Error& e) {
    throw Error("DIST_COLLECTIVE", "rank " + std::to_string(options_.rank) + ": barrier failed: " + firstLine(e.what_without_backtrace()));
  }
}

}  // namespace nq
