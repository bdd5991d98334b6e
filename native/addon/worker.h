// One worker thread per native Model: heavy calls run there in order, never on the event loop,
// and always on the same thread (CUDA state and grad mode are per thread). Each call returns a
// Promise settled on the JS thread through a thread-safe function.
#pragma once
#include <napi.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

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

}  // namespace nq::addon
