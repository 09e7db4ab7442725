// ParallelRunner: runs fn(0..n-1) on the calling thread plus a few helper threads and returns when
// all are done. Used by the writer to check a batch's signatures on every core while it is the only
// thread that writes. Run() is called from one thread at a time.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

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
  void Drain();

  std::mutex mu_;
  std::condition_variable start_cv_, done_cv_;
  const std::function<void(size_t)>* fn_ = nullptr;  // GUARDED_BY(mu_) while a run is on
  size_t n_ = 0;
  std::atomic<size_t> next_{0};
  uint64_t generation_ = 0;  // GUARDED_BY(mu_)
  int busy_ = 0;             // GUARDED_BY(mu_): helpers still in the current run
  bool stop_ = false;        // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;
};

}  // namespace hashmesh
