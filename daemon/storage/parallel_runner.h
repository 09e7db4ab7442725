// ParallelRunner: runs fn(0..n-1) on the calling thread plus a few helper threads and returns when
// all are done. Used by the writer to check a batch's signatures on every core while it is the only
// thread that writes. Run() is called from one thread at a time.
#pragma once

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

#include "common/mutex.h"

namespace hashmesh {

class ParallelRunner {
 public:
  explicit ParallelRunner(int helper_threads);
  ~ParallelRunner();
  ParallelRunner(const ParallelRunner&) = delete;
  ParallelRunner& operator=(const ParallelRunner&) = delete;

  void Run(size_t n, const std::function<void(size_t)>& fn);

 private:
  void Work();
  void Drain(const std::function<void(size_t)>& fn);

  Mutex mu_;
  CondVar start_cv_, done_cv_;
  const std::function<void(size_t)>* fn_ GUARDED_BY(mu_) = nullptr;  // while a run is on
  size_t n_ = 0;
  std::atomic<size_t> next_{0};
  uint64_t generation_ GUARDED_BY(mu_) = 0;
  int busy_ GUARDED_BY(mu_) = 0;  // helpers still in the current run
  bool stop_ GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace hashmesh
