// One worker thread per native Model: heavy calls run there in order, never on the event loop,
// and always on the same thread (CUDA state and grad mode are per thread). Each call returns a
// Promise settled on the JS thread through a thread-safe function. Work that belongs to no
// model (file writes, checkpoint quantization) runs on the libuv pool instead (runOnPool).
//
// Every asynchronous binding takes one path: parse (JS thread: copy the arguments into plain
// C++ values; throwing rejects the promise) -> work (off the event loop) -> toJs (JS thread).
// parseThenRun / parseThenRunOnPool are that path; no binding method throws synchronously.
#pragma once
#include <napi.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "addon/errors.h"

namespace nq::addon {

class WorkerThread {
 public:
  WorkerThread() : thread_([this] { loop(); }) {}
  ~WorkerThread() { stop(); }
  WorkerThread(const WorkerThread&) = delete;
  WorkerThread& operator=(const WorkerThread&) = delete;

  void post(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      tasks_.push_back(std::move(task));
    }
    wake_.notify_one();
  }

  // Runs the queued tasks, then ends the thread. Idempotent.
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void loop() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::thread thread_;
};

// Runs `work` (returning R, on the worker) then `toJs` (on the JS thread) and settles the
// returned Promise. `keepAlive` (may be empty) is referenced until the promise settles.
template <class R>
Napi::Promise runOnWorker(Napi::Env env, WorkerThread& worker, std::function<R()> work,
                          std::function<Napi::Value(Napi::Env, R&)> toJs, Napi::Object keepAlive = Napi::Object()) {
  struct Job {
    Napi::Promise::Deferred deferred;
    std::function<R()> work;
    std::function<Napi::Value(Napi::Env, R&)> toJs;
    std::optional<R> result;
    CapturedError error;
    Napi::ObjectReference keepAlive;
    Napi::ThreadSafeFunction done;
  };
  auto* job = new Job{Napi::Promise::Deferred::New(env), std::move(work), std::move(toJs), {}, {}, {}, {}};
  if (!keepAlive.IsEmpty()) job->keepAlive = Napi::Persistent(keepAlive);
  Napi::Promise promise = job->deferred.Promise();
  job->done = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}),
                                            "node-qlora-job", 0, 1);
  worker.post([job] {
    try {
      job->result.emplace(job->work());
    } catch (...) {
      job->error = captureCurrentException();
    }
    // Copy the handle: once the callback runs on the JS thread, `job` is gone.
    Napi::ThreadSafeFunction done = job->done;
    done.BlockingCall([job](Napi::Env env, Napi::Function) {
      Napi::HandleScope scope(env);
      if (job->result) {
        try {
          job->deferred.Resolve(job->toJs(env, *job->result));
        } catch (const Napi::Error& e) {
          job->deferred.Reject(e.Value());
        } catch (...) {
          job->deferred.Reject(makeJsError(env, captureCurrentException()));
        }
      } else {
        job->deferred.Reject(makeJsError(env, job->error));
      }
      Napi::ThreadSafeFunction handle = job->done;
      delete job;
      handle.Release();
    });
  });
  return promise;
}

// Call inside a catch block: a Promise rejected with the exception in flight (a JS exception
// thrown by an argument check, or a C++ one mapped to an SftError).
inline Napi::Promise rejectedWithCurrentException(Napi::Env env) {
  auto deferred = Napi::Promise::Deferred::New(env);
  try {
    throw;
  } catch (const Napi::Error& e) {
    deferred.Reject(e.Value());
  } catch (...) {
    deferred.Reject(makeJsError(env, captureCurrentException()));
  }
  return deferred.Promise();
}

template <class R>
using ParseFn = std::function<std::function<R()>()>;
template <class R>
using ToJsFn = std::function<Napi::Value(Napi::Env, R&)>;

// parse on the JS thread, then the work it returns on `worker`, then toJs.
template <class R>
Napi::Promise parseThenRun(Napi::Env env, WorkerThread& worker, const ParseFn<R>& parse, ToJsFn<R> toJs,
                           Napi::Object keepAlive = Napi::Object()) {
  std::function<R()> work;
  try {
    work = parse();
  } catch (...) {
    return rejectedWithCurrentException(env);
  }
  return runOnWorker<R>(env, worker, std::move(work), std::move(toJs), keepAlive);
}

// Work that belongs to no model, on the libuv thread pool. `keepAlive` (may be empty) stays
// referenced until the promise settles: e.g. the JS buffers a write reads from.
template <class R>
class PoolJob : public Napi::AsyncWorker {
 public:
  PoolJob(Napi::Env env, std::function<R()> work, ToJsFn<R> toJs, Napi::Object keepAlive)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), work_(std::move(work)), toJs_(std::move(toJs)) {
    if (!keepAlive.IsEmpty()) keepAlive_ = Napi::Persistent(keepAlive);
  }
  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      result_.emplace(work_());
    } catch (...) {
      error_ = captureCurrentException();
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (!result_) {
      deferred_.Reject(makeJsError(env, error_));
      return;
    }
    try {
      deferred_.Resolve(toJs_(env, *result_));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (...) {
      deferred_.Reject(makeJsError(env, captureCurrentException()));
    }
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::function<R()> work_;
  ToJsFn<R> toJs_;
  std::optional<R> result_;
  CapturedError error_;
  Napi::ObjectReference keepAlive_;
};

// parse on the JS thread, then the work it returns on the libuv pool, then toJs.
template <class R>
Napi::Promise parseThenRunOnPool(Napi::Env env, const ParseFn<R>& parse, ToJsFn<R> toJs, Napi::Object keepAlive = Napi::Object()) {
  std::function<R()> work;
  try {
    work = parse();
  } catch (...) {
    return rejectedWithCurrentException(env);
  }
  auto* job = new PoolJob<R>(env, std::move(work), std::move(toJs), keepAlive);  // deletes itself once settled
  Napi::Promise promise = job->Promise();
  job->Queue();
  return promise;
}

}  // namespace nq::addon
