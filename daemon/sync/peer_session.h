// PeerSession: the sync protocol over one peer connection. Hello both ways (the peer is admitted
// only if a trusted member's current manifest certifies its TLS key), then Heads both ways, Want
// for what we lack, Records streamed back in bounded batches, eager push of new commits, fork
// proofs flooded, Ping/Pong. Misbehaviour closes the session and bans the peer.
//
// Thread-safety: frames are handled on the connection's strand; PushRecords, SendHeads,
// SendEquivocation and Tick may be called from any thread (state is under mu_).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/record.h"
#include "daemon/net/peer_transport.h"
#include "daemon/storage/store.h"
#include "daemon/sync/ingest_pipeline.h"
#include "daemon/sync/peer_info.h"
#include "keys/trust_store.h"

namespace hashmesh {

namespace pb {
class PeerMessage;
class Hello;
class Heads;
class Want;
class Records;
class Equivocation;
}  // namespace pb
namespace api {
class PeerView;
}

class PeerSession;

// What sessions share, owned by the PeerManager.
// Our node key and serialised manifest as peers see them; they change when the node key rotates.
struct LocalPeerKeys {
  PublicKey node_key{};
  std::string manifest;
};

struct SyncContext {
  const Store* store = nullptr;
  IngestPipeline* pipeline = nullptr;
  PublicKey member{};             // our member id
  std::function<LocalPeerKeys()> local_keys;  // for Hello and to recognise ourselves
  std::string node_name;
  std::function<std::shared_ptr<const TrustStore>()> trust;
  std::chrono::seconds hello_timeout{10};
  std::chrono::seconds heads_interval{30};
  std::chrono::seconds ping_interval{15};
  // Called (on any thread) when a peer misbehaves: ban its key and address.
  std::function<void(const PublicKey& key, const std::string& address, const std::string& why)>
      ban;
  std::function<bool(const PublicKey& key)> is_banned;
  // Called after a peer's Heads were handled, with the seq it holds of our own feed.
  std::function<void(uint64_t own_seq_at_peer)> on_peer_heads;
  // Called once a session passed every Hello check, before it is admitted: an error refuses it
  // (without a ban), e.g. when it duplicates a session with the same peer.
  std::function<Status(PeerSession* session)> admit;
};

struct SessionCounters {
  uint64_t records_in = 0;   // accepted from this peer
  uint64_t records_out = 0;  // sent to this peer
  uint64_t rejected = 0;
};

class PeerSession : public std::enable_shared_from_this<PeerSession> {
 public:
  PeerSession(std::shared_ptr<PeerConnection> connection, const SyncContext* ctx,
              std::function<void(PeerSession*)> on_closed);

  // Sends our Hello and starts reading.
  void Start();
  // Live gossip: sends the records this peer is not known to have.
  void PushRecords(const std::vector<ParsedRecord>& records);
  void SendHeads();
  void SendEquivocation(const std::string& proof);
  // Periodic duties (hello deadline, heads, ping); called about once a second.
  void Tick(std::chrono::steady_clock::time_point now);
  void Close(const Status& why) { connection_->Close(why); }

  bool admitted() const;
  PublicKey member() const;
  const PeerConnection& connection() const { return *connection_; }
  PeerInfo Info() const;

  static constexpr uint64_t kWantChunk = 2000;          // records asked for at once per author
  static constexpr size_t kRecordsFrameBytes = 1 << 20;  // batch size when answering a Want
  static constexpr uint64_t kMaxWantSpan = 10000;
  static constexpr int kMaxInFlight = 4096;  // records offered, not yet written: then pause

 private:
  bool OnFrame(std::string frame);
  void OnClose(const Status& why);
  Status HandleHello(const pb::Hello& hello);
  Status HandleHeads(const pb::Heads& heads);
  Status HandleWant(const pb::Want& want);
  Status HandleRecords(const pb::Records& records);
  Status HandleEquivocation(const pb::Equivocation& proof);
  // Whether the peer's record `peer_id` at `seq` differs from ours there (a fork not yet
  // proven). False when we do not hold `seq`.
  bool ForkedAt(const PublicKey& author, uint64_t seq, std::string_view peer_id) const;
  // Asks for the next chunk of `author` if the peer has more and we are not far enough ahead.
  void MaybeWant(const PublicKey& author);  // REQUIRES(mu_)
  void Send(const pb::PeerMessage& message);
  void Misbehaved(const std::string& why);
  // A record this peer sent went through the writer; `in_flight` if it still counted as such.
  void RecordWritten(const PublicKey& author, const Status& outcome, bool in_flight);

  std::shared_ptr<PeerConnection> connection_;
  const SyncContext* ctx_;
  std::function<void(PeerSession*)> on_closed_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();

  mutable std::mutex mu_;
  bool admitted_ = false;                      // GUARDED_BY(mu_)
  PublicKey member_{};                         // GUARDED_BY(mu_)
  std::string name_;                           // GUARDED_BY(mu_)
  std::map<PublicKey, uint64_t> peer_heads_;   // GUARDED_BY(mu_): what the peer holds
  std::map<PublicKey, uint64_t> wanted_to_;    // GUARDED_BY(mu_): asked up to this seq
  std::chrono::steady_clock::time_point last_heads_, last_ping_;  // GUARDED_BY(mu_)
  std::chrono::system_clock::time_point last_seen_;               // GUARDED_BY(mu_)
  SessionCounters counters_;                   // GUARDED_BY(mu_)
  int in_flight_ = 0;                          // GUARDED_BY(mu_): offered, not held, not written
  bool paused_ = false;                        // GUARDED_BY(mu_)
  std::string close_reason_;                   // GUARDED_BY(mu_)
};

}  // namespace hashmesh
