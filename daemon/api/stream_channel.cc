// StreamChannel: the bounded queue of lines between a producer and a streamed HTTP response.
#include "daemon/api/http_server.h"

namespace hashmesh {

bool StreamChannel::Push(std::string line) {
  if (line.empty() || line.back() != '\n') line.push_back('\n');
  std::function<void()> wake;
  bool accepted = true;
  {
    MutexLock lock(mu_);
    if (closed_ || cancelled_) return false;
    if (lines_.size() >= capacity_) {
      // The reader cannot keep up: cut it off rather than buffer without bound.
      cancelled_ = true;
      lines_.clear();
      accepted = false;
    } else {
      lines_.push_back(std::move(line));
    }
    if (armed_) {
      armed_ = false;
      wake = wake_;
    }
  }
  if (wake) wake();
  return accepted;
}

void StreamChannel::Close() {
  std::function<void()> wake;
  {
    MutexLock lock(mu_);
    if (closed_ || cancelled_) return;
    closed_ = true;
    if (armed_) {
      armed_ = false;
      wake = wake_;
    }
  }
  if (wake) wake();
}

bool StreamChannel::done() const {
  MutexLock lock(mu_);
  return closed_ || cancelled_;
}

void StreamChannel::Attach(std::function<void()> wake) {
  MutexLock lock(mu_);
  if (!cancelled_) wake_ = std::move(wake);
}

StreamChannel::State StreamChannel::Take(std::vector<std::string>* out) {
  out->clear();
  MutexLock lock(mu_);
  if (cancelled_) return State::kCancelled;
  if (!lines_.empty()) {
    out->reserve(lines_.size());
    for (auto& line : lines_) out->push_back(std::move(line));
    lines_.clear();
    return State::kOpen;  // the caller comes back after writing these
  }
  if (closed_) return State::kClosed;
  armed_ = true;
  return State::kOpen;
}

void StreamChannel::Cancel() {
  std::function<void()> wake;
  {
    MutexLock lock(mu_);
    cancelled_ = true;
    armed_ = false;
    lines_.clear();
    wake.swap(wake_);  // destroyed outside the lock: it may hold the last reference to a server
  }
}

}  // namespace hashmesh
