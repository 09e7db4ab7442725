// PeerManager: the node's side of the federation. Listens for peers, dials the configured peers
// and every trusted member with an address (capped exponential backoff with jitter), runs one
// PeerSession per connection, pushes each commit to the sessions, floods fork proofs, bans
// misbehaving peers for a while, and tells the node when its own feed has been recovered.
//
// Thread-safety: all public methods may be called from any thread; OnCommit/OnEquivocation come
// from the writer thread and only post to the sessions' strands. A maintenance thread drives
// dialing and the sessions' timers. Lock order: the manager's mu_ before a session's (never the
// other way: a session calls its SessionHost without holding its own lock).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "daemon/net/peer_transport.h"
#include "daemon/sync/peer_session.h"
#include "daemon/sync/session_host.h"
#include "daemon/sync/sync_context.h"

namespace hashmesh {

namespace api {
class PeersResponse;
}

struct PeerManagerOptions {
  std::string listen;               // HOST:PORT, or empty
  std::vector<std::string> peers;   // addresses to dial besides trusted members' addresses
  std::chrono::seconds ban_duration{600};
  std::chrono::seconds handshake_timeout{10};
  std::chrono::milliseconds backoff_min{500};
  std::chrono::milliseconds backoff_max{60000};
  std::chrono::seconds heads_interval{30};
  int network_threads = 1;
};

class PeerManager final : public SessionHost {
 public:
  // What `ctx` points to must outlive the manager.
  PeerManager(SyncContext ctx, PeerManagerOptions options, const Seed& node_seed,
              std::string cert_pem);
  ~PeerManager() override;

  // Starts the transport, the listener and the maintenance thread.
  Status Start();
  void Stop();

  // Live gossip of committed records (writer thread).
  void OnCommit(const std::vector<ParsedRecord>& records);
  void OnEquivocation(const std::string& proof);
  // Trust store reloaded: dial targets may have changed.
  void OnTrustChanged();
  // The node key rotated (ctx.identity already gives the new key and manifest): new
  // connections use this key and certificate, and every open session is closed to reconnect.
  Status Rekey(const Seed& node_seed, const std::string& cert_pem);

  // Calls `done` once, on the maintenance thread, when our own feed is as long as any connected
  // peer says it is (after at least one peer's Heads), so the node may publish without forking.
  void WhenOwnFeedRecovered(std::function<void()> done);

  std::vector<PeerInfo> Peers() const;
  size_t admitted_sessions() const;
  uint64_t bans_total() const;  // bans since start
  uint16_t listen_port() const;
  bool has_targets() const;  // anything to dial or listen on

  // Runs a session over a link: the transport's connections come in here (`target` is the
  // address dialled, empty for an inbound one); tests hand in in-memory links.
  void AddSession(std::shared_ptr<PeerLink> connection, const std::string& target);

  // SessionHost, for the sessions. Admit refuses or replaces a duplicate of an admitted session.
  Status Admit(PeerSession* session) override;
  bool IsBanned(const PublicKey& key) const override;
  void Ban(const PublicKey& key, const std::string& address, const std::string& why) override;
  void OnPeerHeads(uint64_t own_seq_at_peer) override;
  void OnSessionClosed(PeerSession* session) override;

 private:
  struct Target {
    std::string address;
    std::string name;  // trusted member name, if any
    std::chrono::steady_clock::time_point next_attempt{};
    std::chrono::milliseconds backoff{0};
    bool connecting = false;
    PeerSession* session = nullptr;  // the outbound session, while it lives
    std::string last_error;
    // The node key that answered at this address last time: no dialling while a session with
    // it is up (it dialled us), else both sides would keep dialling and dropping duplicates.
    std::optional<PublicKey> remote_key;
  };

  void MaintenanceLoop();
  void DialDue(std::chrono::steady_clock::time_point now);
  void Dial(const std::string& address);
  void RefreshTargets();
  bool IsAddressBanned(const std::string& ip) const;
  bool IsAddressBannedLocked(const std::string& ip, std::chrono::steady_clock::time_point now) const
      REQUIRES(mu_);
  // Our own feed's committed head here.
  uint64_t OwnCommittedSeq() const;
  // Releases the publishing hold and runs the recovery callback once our feed has caught up.
  void CheckOwnFeed(std::chrono::steady_clock::time_point now);
  std::vector<std::shared_ptr<PeerSession>> Sessions() const;

  const SyncContext ctx_;
  PeerManagerOptions options_;
  const SessionTimers timers_;
  Seed node_seed_;
  std::string cert_pem_;
  std::unique_ptr<PeerTransport> transport_;

  mutable Mutex mu_;
  std::map<PeerSession*, std::shared_ptr<PeerSession>> sessions_ GUARDED_BY(mu_);
  std::map<std::string, Target> targets_ GUARDED_BY(mu_);
  std::set<PeerSession*> admitted_ GUARDED_BY(mu_);
  std::map<PublicKey, std::chrono::steady_clock::time_point> banned_keys_ GUARDED_BY(mu_);
  std::map<std::string, std::chrono::steady_clock::time_point> banned_ips_ GUARDED_BY(mu_);
  uint64_t bans_total_ GUARDED_BY(mu_) = 0;
  bool peer_heads_seen_ GUARDED_BY(mu_) = false;
  uint64_t own_seq_at_peers_ GUARDED_BY(mu_) = 0;
  // Our publishing is held (Writer::HoldPublishing) until our own feed is as long here as any
  // peer says: from Start() when we dial peers, until one answers (or `hold_deadline_` passes
  // with no answer), and whenever a peer reports more of our feed than we hold.
  bool holding_publishing_ GUARDED_BY(mu_) = false;
  std::chrono::steady_clock::time_point hold_deadline_ GUARDED_BY(mu_){};
  std::function<void()> own_recovered_ GUARDED_BY(mu_);

  Mutex wake_mu_;
  CondVar wake_cv_;
  bool stopping_ GUARDED_BY(wake_mu_) = false;
  std::thread maintenance_;
};

}  // namespace hashmesh
