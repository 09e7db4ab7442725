// MemoryLink: a PeerLink in memory, for testing sync without TLS. The test thread is the strand:
// frames it delivers and the tasks posted from any thread (the writer's completions, pushes) run
// there, when it calls Deliver or RunPending. What the session sends is kept to be read back.
#pragma once

#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "daemon/net/peer_link.h"
#include "proto/wire.pb.h"

namespace hashmesh::testing {

class MemoryLink final : public PeerLink {
 public:
  MemoryLink(PublicKey remote_key, std::string remote_address, bool outbound)
      : remote_key_(remote_key), remote_address_(std::move(remote_address)), outbound_(outbound) {}

  // ---- PeerLink ----
  void Start(Handlers handlers) override {
    std::optional<Status> closed;
    {
      std::lock_guard lock(mu_);
      if (closed_) {
        closed = close_reason_;
      } else {
        handlers_ = std::move(handlers);
      }
    }
    if (closed && handlers.on_close) handlers.on_close(*closed);
  }
  Status Send(std::string frame) override {
    std::lock_guard lock(mu_);
    if (closed_ || close_requested_) return Unavailable("link closed");
    sent_.push_back(std::move(frame));
    ++frames_out_;
    return Status::Ok();
  }
  void ResumeReading() override {
    std::lock_guard lock(mu_);
    paused_ = false;
  }
  void Close(const Status& why) override {
    std::lock_guard lock(mu_);
    if (closed_ || close_requested_) return;
    close_requested_ = true;
    tasks_.push_back([this, why] { CloseNow(why); });
  }
  void Post(std::function<void()> task) override {
    std::lock_guard lock(mu_);
    tasks_.push_back(std::move(task));
  }
  const PublicKey& remote_key() const override { return remote_key_; }
  const std::string& remote_address() const override { return remote_address_; }
  bool outbound() const override { return outbound_; }
  uint64_t bytes_in() const override { return 0; }
  uint64_t bytes_out() const override { return 0; }
  uint64_t frames_in() const override {
    std::lock_guard lock(mu_);
    return frames_in_;
  }
  uint64_t frames_out() const override {
    std::lock_guard lock(mu_);
    return frames_out_;
  }

  // ---- the test's side (one thread: the strand) ----
  // Runs what is queued on the strand, then hands the session one frame from the peer, unless
  // the link is closed or paused (the frame is then dropped: a paused peer is not read).
  // Returns whether it was handed over.
  bool Deliver(const pb::PeerMessage& message) { return DeliverBytes(message.SerializeAsString()); }
  bool DeliverBytes(std::string frame) {
    RunPending();
    std::function<bool(std::string)> on_frame;
    {
      std::lock_guard lock(mu_);
      if (closed_ || close_requested_ || paused_ || !handlers_.on_frame) return false;
      on_frame = handlers_.on_frame;
      ++frames_in_;
    }
    const bool more = on_frame(std::move(frame));
    std::lock_guard lock(mu_);
    if (!more) paused_ = true;
    return true;
  }
  // Runs the tasks posted to the strand (and those they post) until none is left.
  void RunPending() {
    for (;;) {
      std::function<void()> task;
      {
        std::lock_guard lock(mu_);
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }
  // The frames sent since the last call, parsed.
  std::vector<pb::PeerMessage> TakeSent() {
    std::vector<std::string> frames;
    {
      std::lock_guard lock(mu_);
      frames.swap(sent_);
    }
    std::vector<pb::PeerMessage> out(frames.size());
    for (size_t i = 0; i < frames.size(); ++i) out[i].ParseFromString(frames[i]);
    return out;
  }
  bool closed() const {
    std::lock_guard lock(mu_);
    return closed_;
  }
  bool paused() const {
    std::lock_guard lock(mu_);
    return paused_;
  }
  // Why it closed, or "" while open.
  std::string close_reason() const {
    std::lock_guard lock(mu_);
    return closed_ ? close_reason_.ToString() : "";
  }

 private:
  void CloseNow(const Status& why) {
    Handlers taken;
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      closed_ = true;
      close_reason_ = why;
      taken = std::move(handlers_);
      handlers_ = {};
    }
    // Like the transport: on_close once, then the handlers (which hold the session) are gone.
    if (taken.on_close) taken.on_close(why);
  }

  const PublicKey remote_key_;
  const std::string remote_address_;
  const bool outbound_;
  mutable std::mutex mu_;
  Handlers handlers_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::string> sent_;
  bool paused_ = false;
  bool close_requested_ = false;
  bool closed_ = false;
  Status close_reason_;
  uint64_t frames_in_ = 0, frames_out_ = 0;
};

}  // namespace hashmesh::testing
