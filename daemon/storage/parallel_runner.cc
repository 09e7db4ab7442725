// A minimal fork-join pool.
#include "daemon/storage/parallel_runner.h"

namespace hashmesh {

ParallelRunner::ParallelRunner(int helper_threads) {
  for (int i = 0; i < helper_threads; ++i) threads_.emplace_back([this] { Work(); });
}

ParallelRunner::~ParallelRunner() {
  {
    MutexLock lock(mu_);
    stop_ = true;
  }
  start_cv_.NotifyAll();
  for (auto& t : threads_) t.join();
}

void ParallelRunner::Drain(const std::function<void(size_t)>& fn) {
  for (size_t i = next_.fetch_add(1); i < n_; i = next_.fetch_add(1)) fn(i);
}

void ParallelRunner::Run(size_t n, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  if (threads_.empty() || n == 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  {
    MutexLock lock(mu_);
    fn_ = &fn;
    n_ = n;
    next_ = 0;
    busy_ = static_cast<int>(threads_.size());
    ++generation_;
  }
  start_cv_.NotifyAll();
  Drain(fn);
  MutexLock lock(mu_);
  done_cv_.Wait(mu_, [this]() REQUIRES(mu_) { return busy_ == 0; });
  fn_ = nullptr;
}

void ParallelRunner::Work() {
  uint64_t seen = 0;
  for (;;) {
    const std::function<void(size_t)>* fn;
    {
      MutexLock lock(mu_);
      start_cv_.Wait(mu_, [&]() REQUIRES(mu_) { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      fn = fn_;
    }
    Drain(*fn);
    {
      MutexLock lock(mu_);
      --busy_;
    }
    done_cv_.NotifyOne();
  }
}

}  // namespace hashmesh
