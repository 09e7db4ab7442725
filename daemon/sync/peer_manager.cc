// Peer connections: listening, dialing with backoff, bans, gossip fan-out.
#include "daemon/sync/peer_manager.h"

#include <random>

#include "common/host_port.h"
#include "common/log.h"

namespace hashmesh {
namespace {

// The host of a dial address, as bans key it. Addresses were checked at load; one that does not
// parse is its own key.
std::string IpOf(const std::string& address) {
  Result<HostPort> parsed = ParseHostPort(address);
  return parsed.ok() ? parsed->host : address;
}

std::chrono::milliseconds Jittered(std::chrono::milliseconds d) {
  thread_local std::mt19937 rng{std::random_device{}()};
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  return std::chrono::milliseconds(static_cast<int64_t>(d.count() * jitter(rng)));
}

}  // namespace

PeerManager::PeerManager(SyncContext ctx, PeerManagerOptions options, const Seed& node_seed,
                         std::string cert_pem)
    : ctx_(std::move(ctx)),
      options_(std::move(options)),
      timers_{.hello_timeout = options_.handshake_timeout,
              .heads_interval = options_.heads_interval},
      node_seed_(node_seed),
      cert_pem_(std::move(cert_pem)) {}

PeerManager::~PeerManager() { Stop(); }

bool PeerManager::has_targets() const {
  MutexLock lock(mu_);
  return !options_.listen.empty() || !targets_.empty();
}

Status PeerManager::Start() {
  PeerTransportOptions topts;
  topts.handshake_timeout = options_.handshake_timeout;
  HM_ASSIGN_OR_RETURN(
      transport_, PeerTransport::Create(node_seed_, cert_pem_, topts, options_.network_threads));
  transport_->SetAcceptFilter([this](const std::string& ip) { return !IsAddressBanned(ip); });
  if (!options_.listen.empty()) {
    HM_RETURN_IF_ERROR(transport_->Listen(
        options_.listen, [this](auto connection) { AddSession(std::move(connection), ""); }));
    LogInfo("listening for peers").Kv("address", options_.listen).Kv("port", transport_->port());
  }
  RefreshTargets();
  {
    // A node restored from an old backup holds less of its own feed than its peers: anything it
    // signed before hearing from them could fork the feed. So when we dial peers, publishing
    // waits for the first one's Heads; if none answers in time we are likely alone, and go on.
    MutexLock lock(mu_);
    if (!targets_.empty()) {
      holding_publishing_ = true;
      hold_deadline_ = std::chrono::steady_clock::now() + options_.handshake_timeout;
      ctx_.pipeline->writer()->HoldPublishing();
    }
  }
  maintenance_ = std::thread([this] { MaintenanceLoop(); });
  return Status::Ok();
}

void PeerManager::Stop() {
  {
    MutexLock lock(wake_mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_cv_.NotifyAll();
  if (maintenance_.joinable()) maintenance_.join();
  if (transport_) transport_->Stop();
  MutexLock lock(mu_);
  sessions_.clear();
  admitted_.clear();
}

uint16_t PeerManager::listen_port() const { return transport_ ? transport_->port() : 0; }

void PeerManager::RefreshTargets() {
  auto trust = ctx_.trust->Trust();
  std::map<std::string, std::string> wanted;  // address -> name
  for (const auto& address : options_.peers) wanted[address] = "";
  for (const auto& m : trust->members()) {
    if (!m.address.empty() && m.member_key != ctx_.member) wanted[m.address] = m.name;
  }
  MutexLock lock(mu_);
  for (auto it = targets_.begin(); it != targets_.end();) {
    if (wanted.count(it->first) == 0 && it->second.session == nullptr) {
      it = targets_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [address, name] : wanted) {
    Target& t = targets_[address];
    t.address = address;
    t.name = name;
  }
}

void PeerManager::OnTrustChanged() {
  RefreshTargets();
  // Sessions of members no longer trusted end now.
  auto trust = ctx_.trust->Trust();
  for (const auto& s : Sessions()) {
    if (s->admitted() && trust->FindByKey(s->member()) == nullptr) {
      s->Close(PermissionDenied("member removed from the trust store"));
    }
  }
  wake_cv_.NotifyAll();
}

Status PeerManager::Rekey(const Seed& node_seed, const std::string& cert_pem) {
  if (transport_ == nullptr) return FailedPrecondition("peers not started");
  HM_RETURN_IF_ERROR(transport_->SetIdentity(node_seed, cert_pem));
  // Open sessions were authenticated with the old key: end them, so that both sides reconnect
  // (with the usual short delay) and the peers see the new key and manifest.
  size_t closed = 0;
  for (const auto& s : Sessions()) {
    s->Close(Unavailable("node key rotated: reconnecting with the new key"));
    ++closed;
  }
  LogNotice("peer connections now use the new node key").Kv("sessions_closed", closed);
  wake_cv_.NotifyAll();
  return Status::Ok();
}

void PeerManager::MaintenanceLoop() {
  for (;;) {
    {
      MutexLock lock(wake_mu_);
      wake_cv_.WaitFor(wake_mu_, std::chrono::milliseconds(250),
                       [this]() REQUIRES(wake_mu_) { return stopping_; });
      if (stopping_) return;
    }
    const auto now = std::chrono::steady_clock::now();
    DialDue(now);
    for (const auto& s : Sessions()) s->Tick(now);
    CheckOwnFeed(now);
  }
}

uint64_t PeerManager::OwnCommittedSeq() const {
  auto head = ctx_.feeds->Head(ctx_.member);
  return head.ok() && head->has_value() ? (*head)->seq : 0;
}

void PeerManager::CheckOwnFeed(std::chrono::steady_clock::time_point now) {
  std::function<void()> recovered;
  {
    MutexLock lock(mu_);
    const bool caught_up = peer_heads_seen_ && OwnCommittedSeq() >= own_seq_at_peers_;
    if (holding_publishing_ && (caught_up || (!peer_heads_seen_ && now >= hold_deadline_))) {
      if (!caught_up) {
        LogWarning(
            "no peer answered; publishing without knowing whether peers hold more of "
            "this node's own feed");
      }
      holding_publishing_ = false;
      ctx_.pipeline->writer()->ReleasePublishing();
    }
    if (own_recovered_ && caught_up) recovered = std::move(own_recovered_);
  }
  if (recovered) recovered();
}

void PeerManager::DialDue(std::chrono::steady_clock::time_point now) {
  std::vector<std::string> due;
  {
    MutexLock lock(mu_);
    std::set<PublicKey> connected, connected_keys;
    for (const auto& [ptr, s] : sessions_) {
      if (s->admitted()) connected.insert(s->member());
    }
    for (PeerSession* s : admitted_) connected_keys.insert(s->connection().remote_key());
    auto trust = ctx_.trust->Trust();
    for (auto& [address, t] : targets_) {
      if (t.connecting || t.session != nullptr || now < t.next_attempt) continue;
      if (t.remote_key && connected_keys.count(*t.remote_key) > 0) continue;
      // Already connected to that member (it dialled us): no second session.
      const TrustMember* m = t.name.empty() ? nullptr : trust->FindByName(t.name);
      if (m != nullptr && connected.count(m->member_key) > 0) continue;
      if (IsAddressBannedLocked(IpOf(address), now)) continue;
      t.connecting = true;
      due.push_back(address);
    }
  }
  for (const auto& address : due) Dial(address);
}

void PeerManager::Dial(const std::string& address) {
  LogDebug("dialing peer").Kv("address", address);
  transport_->Connect(address, [this, address](Result<std::shared_ptr<PeerConnection>> result) {
    if (result.ok()) {
      AddSession(std::move(*result), address);
      return;
    }
    MutexLock lock(mu_);
    auto it = targets_.find(address);
    if (it == targets_.end()) return;
    Target& t = it->second;
    t.connecting = false;
    t.last_error = result.status().message();
    t.backoff = std::min(options_.backoff_max, std::max(options_.backoff_min, t.backoff * 2));
    t.next_attempt = std::chrono::steady_clock::now() + Jittered(t.backoff);
    LogDebug("dial failed").Kv("address", address).Kv("error", t.last_error);
  });
}

void PeerManager::AddSession(std::shared_ptr<PeerLink> connection, const std::string& target) {
  auto session = std::make_shared<PeerSession>(std::move(connection), &ctx_, this, timers_);
  {
    MutexLock lock(mu_);
    sessions_[session.get()] = session;
    if (!target.empty()) {
      auto it = targets_.find(target);
      if (it != targets_.end()) {
        it->second.connecting = false;
        it->second.session = session.get();
        it->second.last_error.clear();
        it->second.remote_key = session->connection().remote_key();
      }
    }
  }
  session->Start();
}

void PeerManager::OnSessionClosed(PeerSession* session) {
  MutexLock lock(mu_);
  for (auto& [address, t] : targets_) {
    if (t.session != session) continue;
    t.session = nullptr;
    // A session that got far enough to be admitted resets the backoff.
    t.backoff = session->admitted()
                    ? options_.backoff_min
                    : std::min(options_.backoff_max, std::max(options_.backoff_min, t.backoff * 2));
    t.next_attempt = std::chrono::steady_clock::now() + Jittered(t.backoff);
  }
  sessions_.erase(session);
  admitted_.erase(session);
}

Status PeerManager::Admit(PeerSession* session) {
  const PeerLink& mine = session->connection();
  std::shared_ptr<PeerSession> replaced;
  {
    MutexLock lock(mu_);
    for (PeerSession* other : admitted_) {
      const PeerLink& theirs = other->connection();
      // Same direction and key: two machines sharing a node key (a cloned node), not a
      // duplicate. Each must be heard, if only to catch it forking.
      if (theirs.remote_key() != mine.remote_key() || theirs.outbound() == mine.outbound()) {
        continue;
      }
      // We dialled each other. Both sides keep the connection dialled by the smaller node key,
      // so they agree on which one goes without a word exchanged.
      const PublicKey own_key = ctx_.identity->PeerKeys().node_key;
      const PublicKey& mine_dialler = mine.outbound() ? own_key : mine.remote_key();
      const PublicKey& theirs_dialler = theirs.outbound() ? own_key : theirs.remote_key();
      if (theirs_dialler < mine_dialler) {
        return AlreadyExists("duplicate session: already connected to this peer");
      }
      if (auto it = sessions_.find(other); it != sessions_.end()) replaced = it->second;
      admitted_.erase(other);
      break;
    }
    admitted_.insert(session);
  }
  if (replaced) replaced->Close(AlreadyExists("duplicate session: replaced by the other one"));
  return Status::Ok();
}

std::vector<std::shared_ptr<PeerSession>> PeerManager::Sessions() const {
  MutexLock lock(mu_);
  std::vector<std::shared_ptr<PeerSession>> out;
  out.reserve(sessions_.size());
  for (const auto& [ptr, s] : sessions_) out.push_back(s);
  return out;
}

void PeerManager::OnCommit(const std::vector<ParsedRecord>& records) {
  const auto sessions = Sessions();
  if (sessions.empty()) return;
  // One copy for all sessions; each sends its part on its own strand, not on the writer thread.
  auto shared = std::make_shared<const std::vector<ParsedRecord>>(records);
  for (const auto& s : sessions) s->PushRecords(shared);
  // A member's new manifest supersedes the key its sessions were admitted with: a session that
  // still presents an older key (a stolen one, after a compromise) or any key of a revoked
  // member ends now. Its node reconnects with the key now certified, if it has it.
  for (const ParsedRecord& r : records) {
    if (r.kind != RecordKind::kManifest) continue;
    auto manifest = ReadVerifiedManifest(r.body.manifest());
    if (!manifest.ok()) continue;
    for (const auto& s : sessions) {
      if (!s->admitted() || s->member() != r.author) continue;
      if (manifest->signing_key == s->connection().remote_key()) continue;
      s->Close(PermissionDenied(manifest->revoked()
                                    ? "peer's member key is revoked"
                                    : "peer's key was superseded by manifest seq " +
                                          std::to_string(manifest->seq)));
    }
  }
}

void PeerManager::OnEquivocation(const std::string& proof) {
  for (const auto& s : Sessions()) s->PushEquivocation(proof);
}

void PeerManager::Ban(const PublicKey& key, const std::string& address, const std::string& why) {
  MutexLock lock(mu_);
  const auto until = std::chrono::steady_clock::now() + options_.ban_duration;
  banned_keys_[key] = until;
  banned_ips_[IpOf(address)] = until;
  ++bans_total_;
  LogWarning("peer banned")
      .Kv("key", KeyToText(key))
      .Kv("address", address)
      .Kv("seconds", options_.ban_duration.count())
      .Kv("why", why);
}

bool PeerManager::IsBanned(const PublicKey& key) const {
  MutexLock lock(mu_);
  auto it = banned_keys_.find(key);
  return it != banned_keys_.end() && std::chrono::steady_clock::now() < it->second;
}

bool PeerManager::IsAddressBanned(const std::string& ip) const {
  MutexLock lock(mu_);
  return IsAddressBannedLocked(ip, std::chrono::steady_clock::now());
}

bool PeerManager::IsAddressBannedLocked(const std::string& ip,
                                        std::chrono::steady_clock::time_point now) const {
  auto it = banned_ips_.find(ip);
  return it != banned_ips_.end() && now < it->second;
}

void PeerManager::OnPeerHeads(uint64_t seq) {
  {
    MutexLock lock(mu_);
    peer_heads_seen_ = true;
    own_seq_at_peers_ = std::max(own_seq_at_peers_, seq);
    if (!holding_publishing_ && seq > OwnCommittedSeq()) {
      // A peer has records of ours that we lack: sign nothing until we have them back.
      LogWarning(
          "a peer holds more of this node's own feed than it does; publishing waits "
          "until the feed is recovered")
          .Kv("own_seq", OwnCommittedSeq())
          .Kv("peer_seq", seq);
      holding_publishing_ = true;
      ctx_.pipeline->writer()->HoldPublishing();
    }
  }
}

void PeerManager::WhenOwnFeedRecovered(std::function<void()> done) {
  MutexLock lock(mu_);
  own_recovered_ = std::move(done);
}

uint64_t PeerManager::bans_total() const {
  MutexLock lock(mu_);
  return bans_total_;
}

size_t PeerManager::admitted_sessions() const {
  size_t n = 0;
  for (const auto& s : Sessions()) n += s->admitted() ? 1 : 0;
  return n;
}

std::vector<PeerInfo> PeerManager::Peers() const {
  MutexLock lock(mu_);
  std::vector<PeerInfo> out;
  for (const auto& [address, t] : targets_) {
    if (t.session != nullptr) continue;  // shown with the sessions
    PeerInfo& p = out.emplace_back();
    p.address = address;
    p.name = t.name;
    p.outbound = true;
    p.state = t.connecting ? "connecting" : "backoff";
    p.last_error = t.last_error;
  }
  for (const auto& [ptr, s] : sessions_) out.push_back(s->Info());
  const auto now = std::chrono::steady_clock::now();
  for (const auto& [key, until] : banned_keys_) {
    if (until <= now) continue;
    PeerInfo& p = out.emplace_back();
    p.member = key;
    p.state = "banned";
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - now);
    p.banned_until_ms = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch())
            .count() +
        left.count());
  }
  return out;
}

}  // namespace hashmesh
