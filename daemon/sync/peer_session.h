// PeerSession: the sync protocol over one peer connection. Hello both ways (the peer is admitted
// only if a trusted member's current manifest certifies its TLS key), then Heads both ways, Want
// for what we lack, Records streamed back in bounded batches, eager push of new commits, fork
// proofs flooded, Ping/Pong. Misbehaviour closes the session and bans the peer.
//
// Thread-safety: frames, record outcomes and live gossip are handled on the link's strand;
// PushRecords and PushEquivocation post there, and may be called from any thread (the writer's
// among them), as may SendHeads and Tick (state is under mu_). Lock order: a session's mu_ is
// taken before the pipeline's (NextWanted, Offer) and never while calling its SessionHost.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/mutex.h"
#include "common/record.h"
#include "daemon/net/peer_link.h"
#include "daemon/sync/peer_info.h"
#include "daemon/sync/session_host.h"
#include "daemon/sync/sync_context.h"

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

// Whether an ingest outcome is the sending peer's misbehaviour (the session is closed and the peer
// banned): a forged record from anyone, or a record its author may not publish when the author is
// the peer's own member. A gap, a stale record, or one refused for somebody else is not.
bool BlamesSender(const IngestOutcome& outcome, bool author_is_sender);

struct SessionCounters {
  uint64_t records_in = 0;   // accepted from this peer
  uint64_t records_out = 0;  // sent to this peer
  uint64_t rejected = 0;
};

class PeerSession : public std::enable_shared_from_this<PeerSession> {
 public:
  // `ctx` and `host` must outlive the session.
  PeerSession(std::shared_ptr<PeerLink> connection, const SyncContext* ctx, SessionHost* host,
              SessionTimers timers);

  // Sends our Hello and starts reading.
  void Start();
  // Live gossip of committed records: the strand sends those this peer is not known to have.
  void PushRecords(std::shared_ptr<const std::vector<ParsedRecord>> records);
  // A new fork proof (serialised pb::Equivocation): the strand sends it.
  void PushEquivocation(std::string proof);
  void SendHeads();
  // Periodic duties (hello deadline, heads, ping); called about once a second.
  void Tick(std::chrono::steady_clock::time_point now);
  void Close(const Status& why) { connection_->Close(why); }

  bool admitted() const;
  PublicKey member() const;
  const PeerLink& connection() const { return *connection_; }
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
  void SendRecords(const std::vector<ParsedRecord>& records);
  void SendEquivocation(const std::string& proof);
  // Whether the peer's record `peer_id` at `seq` differs from ours there (a fork not yet
  // proven). False when we do not hold `seq`.
  bool ForkedAt(const PublicKey& author, uint64_t seq, std::string_view peer_id) const;
  // Asks for the next chunk of `author` if the peer has more and we are not far enough ahead.
  void MaybeWant(const PublicKey& author) REQUIRES(mu_);
  void Send(const pb::PeerMessage& message);
  void Misbehaved(const std::string& why);
  // A record this peer sent went through the writer; `in_flight` if it still counted as such.
  // On the strand.
  void RecordWritten(const PublicKey& author, const IngestOutcome& outcome, bool in_flight);

  std::shared_ptr<PeerLink> connection_;
  const SyncContext* ctx_;
  SessionHost* host_;
  const SessionTimers timers_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();

  mutable Mutex mu_;
  bool admitted_ GUARDED_BY(mu_) = false;
  PublicKey member_ GUARDED_BY(mu_){};
  std::string name_ GUARDED_BY(mu_);
  std::map<PublicKey, uint64_t> peer_heads_ GUARDED_BY(mu_);  // what the peer holds
  std::map<PublicKey, uint64_t> wanted_to_ GUARDED_BY(mu_);   // asked up to this seq
  std::chrono::steady_clock::time_point last_heads_ GUARDED_BY(mu_), last_ping_ GUARDED_BY(mu_);
  std::chrono::system_clock::time_point last_seen_ GUARDED_BY(mu_);
  SessionCounters counters_ GUARDED_BY(mu_);
  int in_flight_ GUARDED_BY(mu_) = 0;  // offered, not held, not written
  bool paused_ GUARDED_BY(mu_) = false;
  std::string close_reason_ GUARDED_BY(mu_);
};

}  // namespace hashmesh
