// A minimal fork-join pool.
#include "daemon/storage/parallel_runner.h"

namespace hashmesh {

ParallelRunner::ParallelRunner(int helper_threads) {
  for (int i = 0; i < helper_threads; ++i) threads_.emplace_back([this] { Work(); });
}

ParallelRunner::~ParallelRunner() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  start_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void ParallelRunner::Drain() {
  for (size_t i = next_.fetch_add(1); i < n_; i = next_.fetch_add(1)) (*fn_)(i);
}

void ParallelRunner::Run(size_t n, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  if (threads_.empty() || n == 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  {
    std::lock_guard lock(mu_);
    fn_ = &fn;
    n_ = n;
    next_ = 0;
    busy_ = static_cast<int>(threads_.size());
    ++generation_;
  }
  start_cv_.notify_all();
  Drain();
  std::unique_lock lock(mu_);
  done_cv_.wait(lock, [this] { return busy_ == 0; });
  fn_ = nullptr;
}

void ParallelRunner::Work() {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      start_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
    }
    Drain();
    {
      std::lock_guard lock(mu_);
      --busy_;
    }
    done_cv_.notify_one();
  }
}

}  // namespace hashmesh
