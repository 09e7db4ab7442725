// PeerLink: one open, authenticated frame link to a peer, as the sync layer sees it. The TLS
// PeerConnection is the one the daemon uses; tests put an in-memory link in its place.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/crypto.h"
#include "common/status.h"

namespace hashmesh {

// Thread-safety: every method may be called from any thread. Handlers and posted tasks run on
// the link's strand, one at a time, never inline in a method call (Start on a link that closed
// already excepted: then on_close runs at once).
class PeerLink {
 public:
  struct Handlers {
    // One complete frame body. Return true to keep reading; false pauses reading (back-pressure)
    // until ResumeReading().
    std::function<bool(std::string frame)> on_frame;
    // Exactly once, when the link closes for any reason. No on_frame follows it.
    std::function<void(const Status& why)> on_close;
  };

  virtual ~PeerLink() = default;

  // Begins reading; call once.
  virtual void Start(Handlers handlers) = 0;
  // Queues one frame. OK means queued, not delivered; Unavailable once closed.
  virtual Status Send(std::string frame) = 0;
  // Continues reading after on_frame returned false. Harmless when not paused.
  virtual void ResumeReading() = 0;
  // Closes soon; on_close gets `why` unless the link was closing already. Idempotent.
  virtual void Close(const Status& why) = 0;
  // Runs `task` on the strand, after the handlers and tasks queued there. Dropped once the
  // transport has stopped.
  virtual void Post(std::function<void()> task) = 0;

  // Fixed once the link is handed out.
  virtual const PublicKey& remote_key() const = 0;
  virtual const std::string& remote_address() const = 0;
  virtual bool outbound() const = 0;  // we dialled it

  virtual uint64_t bytes_in() const = 0;
  virtual uint64_t bytes_out() const = 0;
  virtual uint64_t frames_in() const = 0;
  virtual uint64_t frames_out() const = 0;
};

}  // namespace hashmesh
