// A hand-driven peer for tests: a real PeerTransport client under a key directory made by
// hashmesh-keys, that sends whatever frames a test builds (valid, forged, replayed, a flood) and
// keeps what the node sends back; and validly signed feeds to send.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/record.h"
#include "common/status.h"
#include "daemon/net/peer_transport.h"
#include "proto/wire.pb.h"

namespace hashmesh::testing {

// Thread-safe.
class HostilePeer {
 public:
  explicit HostilePeer(const std::string& keys_dir);
  ~HostilePeer();

  const std::string& manifest() const { return manifest_; }

  // Dials `address` and starts reading (a previous connection is closed). Errors: the
  // transport's (refused, TLS failure, ...).
  Status Connect(const std::string& address);
  void Close();

  void Send(const pb::PeerMessage& message);
  // One frame with any body at all.
  void SendRaw(std::string frame);
  // Hello with `manifest` (ours by default).
  void SendHello(std::optional<std::string> manifest = std::nullopt);
  void SendRecords(const std::vector<ParsedRecord>& records);
  // From now on, Want frames are answered at once (on the transport's thread) from `feed`, the
  // sender's records in seq order from seq 1, and are not kept for Receive.
  void ServeWants(std::shared_ptr<const std::vector<ParsedRecord>> feed);
  // Bytes queued by Send and not yet written: what the node has not read yet, plus the socket
  // buffers' worth. 0 when not connected.
  size_t queued_send_bytes();
  uint64_t wants_served();

  // Waits for a message of `kind` (skipping others); false on timeout or close.
  bool Receive(pb::PeerMessage::MsgCase kind, pb::PeerMessage* out = nullptr,
               std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Answers a Ping: the session is alive and reading.
  bool Alive();
  // The reason the node closed the connection, or nullopt if it is still open after 10 s.
  std::optional<Status> WaitClosed();

 private:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<pb::PeerMessage> inbox;
    std::optional<Status> closed;
    std::shared_ptr<const std::vector<ParsedRecord>> serve;  // answers Wants when set
    uint64_t wants_served = 0;
  };
  std::shared_ptr<State> Current();

  std::string manifest_;
  std::unique_ptr<PeerTransport> transport_;
  std::mutex mu_;
  std::shared_ptr<PeerConnection> connection_;
  std::shared_ptr<State> state_;
  std::shared_ptr<const std::vector<ParsedRecord>> serve_;
  uint64_t nonce_ = 0;
};

// The body of a PDQ signal record with value RandomPdqHex(seed) and label "test/x".
pb::RecordBody PdqSignalBody(uint32_t seed);

// `count` records of the member whose keys are in `keys_dir`, validly signed: the manifest,
// then signals with values RandomPdqHex(seed + seq).
std::vector<ParsedRecord> SignedFeed(const std::string& keys_dir, const std::string& member_id,
                                     const std::string& manifest, int count, uint32_t seed = 20000);

}  // namespace hashmesh::testing
