// Data-parallel collectives for LoRA training: one ProcessGroup per rank, rendezvous through
// c10d::TCPStore (rank 0 hosts it at host:port), and an in-place sum all-reduce of a list of
// tensors, flattened into buckets of about 25 MB.
//
// Backends:
//   "tcpstore" (CPU, and CUDA when NCCL was not compiled in): every rank posts its bucket to the
//     store and sums all ranks' buckets in rank order, so every rank ends with bit-identical
//     sums (the same additions in the same order). The PyPI torch wheel ships no gloo headers
//     (include/gloo is absent), so c10d::ProcessGroupGloo cannot be built against from an addon;
//     TCPStore is the part of c10d the wheel does expose. Traffic goes through rank 0's store:
//     fine for LoRA gradients (a few MB) on a few ranks, not for full-model data parallelism.
//   "nccl" (CUDA builds that found nccl.h, NQ_WITH_NCCL): c10d::ProcessGroupNCCL on the model's
//     device; buckets are summed on the GPU.
// Not here: which tensors to reduce, sharding of data, process management (all in TS / model).
#pragma once
#include <ATen/ATen.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace nq {

struct ProcessGroupOptions {
  int rank = 0;
  int worldSize = 1;
  std::string host = "127.0.0.1";
  int port = 29500;
  std::string backend = "tcpstore";  // "tcpstore" | "nccl"
  int64_t timeoutMs = 300000;        // rendezvous and each collective
  int64_t bucketBytes = 25 << 20;
};

// True when this build can create a ProcessGroupNCCL.
bool ncclAvailable();

class ProcessGroup {
 public:
  // Connects to (rank 0: hosts) the store and waits for all ranks. Throws DIST_INIT when the
  // rendezvous fails or times out, DIST_UNAVAILABLE for a backend this build lacks.
  // `aborted` (may be null) is read while waiting for peers: once it holds true, a pending or
  // later collective throws DIST_ABORTED instead of waiting out the timeout.
  ProcessGroup(const ProcessGroupOptions& options, std::shared_ptr<std::atomic<bool>> aborted);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return options_.rank; }
  int worldSize() const { return options_.worldSize; }
  const std::string& backend() const { return options_.backend; }

  // Sums each tensor over the ranks, in place. Every rank must pass tensors of the same shapes,
  // dtypes and order. Throws DIST_COLLECTIVE on a timeout or a lost store, DIST_ABORTED once
  // aborted (NCCL: only between collectives; a running one ends with its timeout).
  void allReduceSum(const std::vector<at::Tensor>& tensors);
  void barrier();

 private:
  struct Impl;
  void reduceBucket(at::Tensor& flat);
  std::vector<uint8_t> awaitKey(const std::string& key);
  ProcessGroupOptions options_;
  std::unique_ptr<Impl> impl_;
  std::shared_ptr<std::atomic<bool>> aborted_;
  uint64_t sequence_ = 0;
};

}  // namespace nq
