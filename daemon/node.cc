// Node start-up, wiring and shutdown.
#include "daemon/node.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <thread>

#include "common/clock.h"
#include "common/crypto.h"
#include "common/json.h"
#include "common/log.h"
#include "daemon/api/admin_routes.h"
#include "daemon/api/api_services.h"
#include "daemon/api/http_server.h"
#include "daemon/api/query_routes.h"
#include "daemon/api/record_view.h"
#include "daemon/match/matcher.h"
#include "daemon/match/pdq_signal_index.h"
#include "daemon/metrics.h"
#include "daemon/node_metrics.h"
#include "daemon/peer_views.h"
#include "daemon/storage/store.h"
#include "daemon/storage/writer.h"
#include "daemon/sync/ingest_pipeline.h"
#include "daemon/sync/peer_manager.h"
#include "daemon/sync/record_validator.h"
#include "keys/key_dir.h"
#include "keys/trust_store.h"
#include "proto/wire.pb.h"

#ifdef HASHMESH_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace hashmesh {

// The node as the API routes see it (daemon/api/api_services.h).
class NodeServices final : public QueryService, public AdminService {
 public:
  NodeServices(Node::Impl* impl, Node* node) : impl_(impl), node_(node) {}
  std::shared_ptr<const TrustStore> Trust() const override;
  std::shared_ptr<const QuerySettings> Settings() const override;
  void FillStatus(api::StatusResponse* status) const override;
  api::PeersResponse Peers() const override;
  void AddStream(std::shared_ptr<StreamChannel> channel) const override;
  void ObserveMatch(bool ok, size_t queries, double seconds) const override;
  Result<api::ReloadResponse> Reload() const override;

 private:
  Node::Impl* impl_;
  Node* node_;
};

struct Node::Impl {
  explicit Impl(NodeIdentity id) {
    identities.push_back(std::make_unique<NodeIdentity>(std::move(id)));
    current_identity = identities.back().get();
  }

  std::shared_ptr<const NodeConfig> config;          // GUARDED_BY(snapshot_mu)
  std::shared_ptr<const QuerySettings> settings;     // GUARDED_BY(snapshot_mu)
  std::unique_ptr<Store> store;
  PdqSignalIndex index;
  CompromisePoints compromise;
  std::unique_ptr<Writer> writer;
  std::unique_ptr<IngestPipeline> pipeline;
  std::unique_ptr<PeerManager> peers;
  std::unique_ptr<Matcher> matcher;
  std::unique_ptr<NodeServices> services;
  std::unique_ptr<QueryRoutes> query_routes;
  std::unique_ptr<AdminRoutes> admin_routes;
  std::unique_ptr<HttpServer> query_server;
  std::unique_ptr<HttpServer> admin_server;
  std::unique_ptr<NodeMetrics> metrics;
  std::unique_ptr<HttpServer> metrics_server;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  // systemd watchdog: a thread that pings only while the API answers (see WatchdogLoop).
  std::thread watchdog;
  std::mutex watchdog_mu;
  std::condition_variable watchdog_cv;
  bool watchdog_stop = false;  // GUARDED_BY(watchdog_mu)
  bool stopped = false;
  int lock_fd = -1;  // flock on <data>/hashmeshd.lock, held for the node's life

  mutable std::mutex snapshot_mu;
  std::shared_ptr<const TrustStore> trust;  // GUARDED_BY(snapshot_mu)
  // Every identity loaded since start. Never freed while the node runs: the writer holds their
  // keys (an old one signs nothing new) and references handed out outlive a swap.
  std::vector<std::unique_ptr<NodeIdentity>> identities;  // GUARDED_BY(snapshot_mu)
  const NodeIdentity* current_identity = nullptr;         // GUARDED_BY(snapshot_mu)

  std::mutex streams_mu;
  std::vector<std::weak_ptr<StreamChannel>> streams;  // GUARDED_BY(streams_mu)

  std::shared_ptr<const TrustStore> Trust() const {
    std::lock_guard lock(snapshot_mu);
    return trust;
  }
  std::shared_ptr<const NodeConfig> Config() const {
    std::lock_guard lock(snapshot_mu);
    return config;
  }
  std::shared_ptr<const QuerySettings> Settings() const {
    std::lock_guard lock(snapshot_mu);
    return settings;
  }
  // Sets the config and what the query routes read of it. REQUIRES(snapshot_mu) after Start.
  void SetConfig(NodeConfig next) {
    config = std::make_shared<const NodeConfig>(std::move(next));
    settings = std::make_shared<const QuerySettings>(
        QuerySettings{.policy = config->policy, .max_batch_queries = config->max_batch_queries});
  }
  const NodeIdentity& Identity() const {
    std::lock_guard lock(snapshot_mu);
    return *current_identity;
  }

  // Reload of the key directory: publishes a rotation or revocation found there.
  Status ReloadKeys(const std::string& keys_dir);

  void OnCommit(const std::vector<ParsedRecord>& records);
  void FillStatus(api::StatusResponse* status) const;
  void WatchdogLoop(std::chrono::microseconds interval);
};

std::shared_ptr<const TrustStore> NodeServices::Trust() const { return impl_->Trust(); }
std::shared_ptr<const QuerySettings> NodeServices::Settings() const { return impl_->Settings(); }
void NodeServices::FillStatus(api::StatusResponse* status) const { impl_->FillStatus(status); }

api::PeersResponse NodeServices::Peers() const {
  return impl_->peers ? ToPeersResponse(impl_->peers->Peers()) : api::PeersResponse();
}

void NodeServices::AddStream(std::shared_ptr<StreamChannel> channel) const {
  std::lock_guard lock(impl_->streams_mu);
  impl_->streams.push_back(std::move(channel));
}

void NodeServices::ObserveMatch(bool ok, size_t queries, double seconds) const {
  impl_->metrics->ObserveMatch(ok, queries, seconds);
}

Result<api::ReloadResponse> NodeServices::Reload() const { return node_->Reload(); }

namespace {

// First start: a trust store naming only this node's member, as a platform.
Result<std::shared_ptr<const TrustStore>> LoadOrCreateTrust(const NodeConfig& config,
                                                            const NodeIdentity& identity) {
  auto loaded = LoadTrustStore(config.trust_file);
  if (loaded.ok()) {
    if (loaded->FindByKey(identity.member_key()) == nullptr) {
      LogWarning("this node's member is not in its trust store: it can follow but not publish")
          .Kv("member", KeyToText(identity.member_key()))
          .Kv("trust", config.trust_file);
    }
    return std::make_shared<const TrustStore>(std::move(*loaded));
  }
  if (loaded.status().code() != StatusCode::kNotFound) return loaded.status();
  TrustStore trust;
  HM_RETURN_IF_ERROR(trust.Add({identity.name, identity.member_key(), {Role::kPlatform}, ""}));
  HM_RETURN_IF_ERROR(SaveTrustStore(config.trust_file, trust));
  LogNotice("created trust store with this node's member as a platform")
      .Kv("trust", config.trust_file)
      .Kv("member", KeyToText(identity.member_key()));
  return std::make_shared<const TrustStore>(std::move(trust));
}

// Two daemons on one data directory would each sequence the same feed and fork it: refuse.
Result<int> LockDataDir(const std::string& dir) {
  const std::string path = dir + "/hashmeshd.lock";
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return IoError("cannot open " + path + ": " + std::strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = {};
    ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
    close(fd);
    return FailedPrecondition("data directory " + dir + " is in use by another hashmeshd" +
                              (n > 0 ? " (pid " + std::string(pid, strnlen(pid, n)) + ")" : ""));
  }
  std::string me = std::to_string(getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, me.data(), me.size(), 0) < 0) {
    LogWarning("cannot write pid to lock file").Kv("path", path);
  }
  return fd;
}

void Notify(const char* state) {
#ifdef HASHMESH_HAVE_SYSTEMD
  sd_notify(0, state);
#else
  (void)state;
#endif
}

// The watchdog interval systemd asked for (WatchdogSec=), or zero.
std::chrono::microseconds WatchdogInterval() {
#ifdef HASHMESH_HAVE_SYSTEMD
  uint64_t usec = 0;
  if (sd_watchdog_enabled(/*unset_environment=*/0, &usec) > 0) {
    return std::chrono::microseconds(usec);
  }
#endif
  return std::chrono::microseconds(0);
}

// One GET /v1/status on the query socket, answered 200 within `timeout`. It goes through an API
// thread, FillStatus (store reads, the writer's lock) and the index: a hang in any of them
// stops the pings, and systemd restarts the daemon.
bool ProbeQuerySocket(const std::string& path, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    close(fd);
    return false;
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  static const char kRequest[] =
      "GET /v1/status HTTP/1.1\r\nHost: hashmeshd\r\nConnection: close\r\n\r\n";
  ok = ok && send(fd, kRequest, sizeof kRequest - 1, MSG_NOSIGNAL) ==
                 static_cast<ssize_t>(sizeof kRequest - 1);
  std::string head;
  while (ok && head.size() < 12) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      ok = false;
      break;
    }
    char buf[64];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      ok = false;
      break;
    }
    head.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return ok && head.starts_with("HTTP/1.1 200");
}

// The gid of `name`, or nullopt (with a notice) when there is no such group.
std::optional<gid_t> SocketGroup(const std::string& name) {
  if (name.empty()) return std::nullopt;
  std::vector<char> buf(16384);
  group g{};
  group* found = nullptr;
  if (getgrnam_r(name.c_str(), &g, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
    LogNotice("socket group does not exist; the query socket keeps the daemon's group")
        .Kv("socket_group", name);
    return std::nullopt;
  }
  return found->gr_gid;
}

}  // namespace

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Node::~Node() { Stop(); }

Result<std::unique_ptr<Node>> Node::Start(NodeConfig config) {
  if (!InitCrypto()) return Internal("libsodium failed to initialise");
  config.ResolveDefaults();
  HM_RETURN_IF_ERROR(ValidateConfig(config));
  LogLevel level;
  ParseLogLevel(config.log_level, &level);
  SetLogLevel(level);

  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) return IoError("cannot create data directory " + config.data_dir + ": " + ec.message());
  chmod(config.data_dir.c_str(), 0750);
  HM_ASSIGN_OR_RETURN(int lock_fd, LockDataDir(config.data_dir));

  auto loaded_identity = EnsureNodeIdentity(config.keys_dir, config.name);
  if (!loaded_identity.ok()) {
    close(lock_fd);
    return loaded_identity.status().WithContext("keys");
  }
  auto impl = std::make_unique<Impl>(std::move(*loaded_identity));
  Impl& n = *impl;
  n.lock_fd = lock_fd;
  const NodeIdentity& identity = n.Identity();
  HM_ASSIGN_OR_RETURN(n.trust, LoadOrCreateTrust(config, identity));
  n.SetConfig(config);

  HM_ASSIGN_OR_RETURN(n.store,
                      Store::Open({.dir = config.data_dir,
                                   .initial_map_bytes = uint64_t(config.map_size_mib) << 20}));
  const auto index_started = std::chrono::steady_clock::now();
  HM_RETURN_IF_ERROR(n.index.Load(*n.store));
  HM_RETURN_IF_ERROR(n.compromise.Load(*n.store));
  LogInfo("PDQ index built")
      .Kv("hashes", n.index.size())
      .Kv("ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::steady_clock::now() - index_started)
                    .count());

  OwnFeedIdentity own{identity.member_key(), &identity.node_key, identity.manifest.seq,
                      identity.manifest_bytes, identity.revocation_bytes};
  Impl* self = &n;
  // A node with peers and an empty own feed may have lost its data: it recovers its feed from
  // its peers before it publishes anything, so it never forks itself.
  HM_ASSIGN_OR_RETURN(auto own_head, n.store->Head(identity.member_key()));
  const bool trust_names_peers =
      std::any_of(n.trust->members().begin(), n.trust->members().end(), [&](const TrustMember& m) {
        return !m.address.empty() && m.member_key != identity.member_key();
      });
  const bool federated = !config.listen.empty() || !config.peers.empty() || trust_names_peers;
  const bool recover =
      federated && !own_head.has_value() && (!config.peers.empty() || trust_names_peers);
  WriterOptions writer_options;
  writer_options.defer_own_manifest = recover;
  n.writer = std::make_unique<Writer>(
      n.store.get(), own,
      [self](const ParsedRecord& r, const FeedState& feed) {
        return ValidateIncomingRecord(r, feed, *self->Trust(), *self->store);
      },
      writer_options);
  // Compromise points before the index and streams hear of a commit: a match right after sees
  // the records a new manifest voids.
  n.writer->AddCommitListener([self](const std::vector<ParsedRecord>& rs) {
    self->compromise.OnCommit(rs);
  });
  n.writer->AddCommitListener([self](const std::vector<ParsedRecord>& rs) { self->OnCommit(rs); });
  n.pipeline = std::make_unique<IngestPipeline>(n.store.get(), n.writer.get());
  if (federated) {
    SyncContext sync;
    sync.store = n.store.get();
    sync.pipeline = n.pipeline.get();
    sync.member = identity.member_key();
    sync.local_keys = [self] {
      const NodeIdentity& current = self->Identity();
      return LocalPeerKeys{current.node_key.public_key(), current.manifest_bytes};
    };
    sync.node_name = identity.name;
    sync.trust = [self] { return self->Trust(); };
    PeerManagerOptions popts;
    popts.listen = config.listen;
    popts.peers = config.peers;
    popts.ban_duration = std::chrono::seconds(config.ban_seconds);
    popts.heads_interval = std::chrono::seconds(config.heads_interval_seconds);
    n.peers = std::make_unique<PeerManager>(std::move(sync), popts, identity.node_key.seed(),
                                            identity.certificate_pem);
    PeerManager* peers = n.peers.get();
    n.writer->AddCommitListener([peers](const std::vector<ParsedRecord>& rs) { peers->OnCommit(rs); });
    n.writer->AddEquivocationListener([peers](const std::string& p) { peers->OnEquivocation(p); });
  }
  NodeMetricsSources metric_sources;
  metric_sources.store = n.store.get();
  metric_sources.writer = n.writer.get();
  metric_sources.index = &n.index;
  metric_sources.peers = n.peers.get();
  metric_sources.trust = [self] { return self->Trust(); };
  metric_sources.fill_status = [self](api::StatusResponse* s) { self->FillStatus(s); };
  metric_sources.started = n.started;
  n.metrics = std::make_unique<NodeMetrics>(std::move(metric_sources));
  NodeMetrics* metrics = n.metrics.get();
  n.writer->AddCommitListener([metrics](const std::vector<ParsedRecord>& rs) {
    metrics->OnCommit(rs);
  });
  HM_RETURN_IF_ERROR(n.writer->Start());
  if (n.peers) {
    HM_RETURN_IF_ERROR(n.peers->Start().WithContext("peers"));
    if (recover) {
      LogNotice("own feed is empty: recovering it from peers before publishing");
      Writer* writer = n.writer.get();
      n.peers->WhenOwnFeedRecovered([writer] {
        Status s = writer->PublishOwnManifest();
        if (s.ok()) {
          LogNotice("own feed recovered from peers; publishing is open")
              .Kv("own_seq", writer->own_seq());
        } else {
          LogError("cannot publish own manifest").Kv("error", s.message());
        }
      });
    }
  }
  n.matcher = std::make_unique<Matcher>(n.store.get(), &n.index, &n.compromise);

  std::unique_ptr<Node> node(new Node(std::move(impl)));
  n.services = std::make_unique<NodeServices>(self, node.get());
  n.query_routes =
      std::make_unique<QueryRoutes>(n.store.get(), n.matcher.get(), &n.compromise, n.services.get());
  n.admin_routes = std::make_unique<AdminRoutes>(n.store.get(), n.writer.get(),
                                                 identity.member_key(), n.services.get(),
                                                 n.query_routes.get());
  const QueryRoutes* query_routes = n.query_routes.get();
  const AdminRoutes* admin_routes = n.admin_routes.get();

  HttpServerOptions query_options;
  query_options.socket_path = config.socket;
  query_options.mode = 0660;
  if (auto gid = SocketGroup(config.socket_group)) query_options.group = *gid;
  query_options.max_body_bytes = static_cast<size_t>(config.max_request_bytes);
  HttpServerOptions admin_options = query_options;
  admin_options.socket_path = config.admin_socket;
  admin_options.mode = 0600;
  admin_options.group = static_cast<gid_t>(-1);  // owner only: the group gets nothing anyway
  // The admin socket first: whoever saw the query socket answer (the harness, `hashmesh status`)
  // may publish at once, and a stale admin.sock left by a killed daemon would refuse it.
  HM_ASSIGN_OR_RETURN(n.admin_server,
                      HttpServer::Start(
                          admin_options,
                          [admin_routes](HttpRequest&& r, Responder respond) {
                            admin_routes->Handle(std::move(r), std::move(respond));
                          },
                          1));
  HM_ASSIGN_OR_RETURN(n.query_server,
                      HttpServer::Start(
                          query_options,
                          [query_routes](HttpRequest&& r, Responder respond) {
                            query_routes->Handle(std::move(r), std::move(respond));
                          },
                          static_cast<int>(config.api_threads)));
  if (!config.metrics.empty()) {
    HM_ASSIGN_OR_RETURN(n.metrics_server,
                        StartMetricsServer(config.metrics, &n.metrics->registry()));
    LogNotice("metrics listening")
        .Kv("address", config.metrics)
        .Kv("port", n.metrics_server->tcp_port());
  }
  // Everything that serves is up (sockets, peer listener, metrics): only now is the node ready.
  LogNotice("hashmeshd ready")
      .Kv("member", KeyToText(identity.member_key()))
      .Kv("name", identity.name)
      .Kv("data", config.data_dir)
      .Kv("socket", config.socket)
      .Kv("admin_socket", config.admin_socket)
      .Kv("own_seq", n.writer->own_seq());
  Notify("READY=1");
  if (const auto interval = WatchdogInterval(); interval.count() > 0) {
    n.watchdog = std::thread([self, interval] { self->WatchdogLoop(interval); });
  }
  return node;
}

void Node::Stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  Notify("STOPPING=1");
  LogNotice("hashmeshd stopping");
  if (impl_->watchdog.joinable()) {
    {
      std::lock_guard lock(impl_->watchdog_mu);
      impl_->watchdog_stop = true;
    }
    impl_->watchdog_cv.notify_all();
    impl_->watchdog.join();
  }
  if (impl_->metrics_server) impl_->metrics_server->Stop();
  // Stop taking requests first, then let the writer finish what was acknowledged as queued.
  if (impl_->query_server) impl_->query_server->Stop();
  if (impl_->admin_server) impl_->admin_server->Stop();
  if (impl_->peers) impl_->peers->Stop();
  if (impl_->writer) impl_->writer->Stop();
  {
    std::lock_guard lock(impl_->streams_mu);
    for (auto& weak : impl_->streams) {
      if (auto ch = weak.lock()) ch->Close();
    }
    impl_->streams.clear();
  }
  impl_->store.reset();
  if (impl_->lock_fd >= 0) close(impl_->lock_fd);
  impl_->lock_fd = -1;
  LogNotice("hashmeshd stopped");
}

Result<api::ReloadResponse> Node::Reload() {
  Impl& n = *impl_;
  NodeConfig config = *n.Config();
  if (!config.config_file.empty()) {
    // Re-read the file, keeping what flags set is beyond this change's scope: file values win.
    HM_ASSIGN_OR_RETURN(ConfigFile file, LoadConfigFile(config.config_file));
    NodeConfig fresh = config;
    fresh.policy = PolicyConfig{};
    HM_RETURN_IF_ERROR(ApplyConfigFile(file, &fresh));
    HM_RETURN_IF_ERROR(ValidateConfig(fresh));
    config.policy = fresh.policy;
    config.log_level = fresh.log_level;
  }
  HM_ASSIGN_OR_RETURN(TrustStore trust, LoadTrustStore(config.trust_file));
  HM_RETURN_IF_ERROR(n.ReloadKeys(config.keys_dir).WithContext("keys"));
  LogLevel level;
  ParseLogLevel(config.log_level, &level);
  SetLogLevel(level);
  api::ReloadResponse out;
  out.set_trusted_members(static_cast<uint32_t>(trust.size()));
  out.set_log_level(config.log_level);
  {
    const NodeIdentity& identity = n.Identity();
    out.set_manifest_seq(identity.manifest.seq);
    out.set_signing_key(KeyToText(identity.node_key.public_key()));
    out.set_revoked(n.writer->revoked() || !identity.revocation_bytes.empty());
  }
  {
    std::lock_guard lock(n.snapshot_mu);
    n.trust = std::make_shared<const TrustStore>(std::move(trust));
    n.SetConfig(std::move(config));
  }
  if (n.peers) n.peers->OnTrustChanged();
  LogNotice("reloaded").Kv("trusted_members", out.trusted_members()).Kv("log_level", out.log_level());
  return out;
}

Status Node::Impl::ReloadKeys(const std::string& keys_dir) {
  HM_ASSIGN_OR_RETURN(NodeIdentity loaded, LoadNodeIdentity(keys_dir));
  const NodeIdentity& current = Identity();
  if (loaded.member_key() != current.member_key()) {
    return FailedPrecondition("the key directory now holds member " +
                              KeyToText(loaded.member_key()) + ", this node runs as " +
                              KeyToText(current.member_key()) + "; restart to change member");
  }
  if (loaded.manifest.seq < current.manifest.seq) {
    return FailedPrecondition("the key directory holds manifest seq " +
                              std::to_string(loaded.manifest.seq) + ", older than seq " +
                              std::to_string(current.manifest.seq) + " in use");
  }
  const bool rotated = loaded.manifest.seq > current.manifest.seq;
  const bool revoked = !loaded.revocation_bytes.empty() && current.revocation_bytes.empty();
  if (!rotated && !revoked) return Status::Ok();

  const NodeIdentity* next;
  {
    std::lock_guard lock(snapshot_mu);
    identities.push_back(std::make_unique<NodeIdentity>(std::move(loaded)));
    next = identities.back().get();
  }
  LogNotice(rotated ? "node key rotated: publishing the new manifest"
                    : "member key revoked: publishing the revocation")
      .Kv("manifest_seq", next->manifest.seq)
      .Kv("signing_key", KeyToText(next->node_key.public_key()));
  // The manifest record first (signed by the new key), then Hello and TLS switch to it, so that
  // peers that reconnect with the new key find the manifest that certifies it in our feed.
  HM_RETURN_IF_ERROR(writer->UpdateIdentity({next->member_key(), &next->node_key,
                                             next->manifest.seq, next->manifest_bytes,
                                             next->revocation_bytes}));
  {
    std::lock_guard lock(snapshot_mu);
    current_identity = next;
  }
  if (rotated && peers) {
    HM_RETURN_IF_ERROR(peers->Rekey(next->node_key.seed(), next->certificate_pem));
  }
  return Status::Ok();
}

void Node::Impl::WatchdogLoop(std::chrono::microseconds interval) {
  // Ping twice per interval, as sd_watchdog_enabled(3) advises; a probe may take up to a quarter.
  const auto period = std::chrono::duration_cast<std::chrono::milliseconds>(interval) / 2;
  const auto probe_timeout = std::max(period / 2, std::chrono::milliseconds(1));
  LogInfo("systemd watchdog enabled").Kv("interval_ms", period.count() * 2);
  const std::string socket = Config()->socket;
  std::unique_lock lock(watchdog_mu);
  while (!watchdog_stop) {
    lock.unlock();
    const bool alive = ProbeQuerySocket(socket, probe_timeout);
    if (alive) {
      Notify("WATCHDOG=1");
    } else {
      LogWarning("watchdog probe of the query socket failed; not pinging systemd")
          .Kv("socket", socket);
    }
    lock.lock();
    watchdog_cv.wait_for(lock, period, [this] { return watchdog_stop; });
  }
}

void Node::Impl::OnCommit(const std::vector<ParsedRecord>& records) {
  for (const auto& r : records) {
    for (const pb::Signal* s : Fingerprints(r.body)) {
      if (s->type() != pb::SIGNAL_TYPE_PDQ) continue;
      if (auto hash = PdqHash::FromHex(s->value()); hash.ok()) index.Add({r.author, r.seq()}, *hash);
    }
  }
  std::lock_guard lock(streams_mu);
  if (streams.empty()) return;
  auto trust_now = Trust();
  std::vector<std::string> lines;
  lines.reserve(records.size());
  for (const auto& r : records) lines.push_back(ToJson(ToRecordView(r, trust_now.get())));
  std::erase_if(streams, [&](std::weak_ptr<StreamChannel>& weak) {
    auto channel = weak.lock();
    if (!channel) return true;
    for (const auto& line : lines) {
      if (!channel->Push(line)) return true;
    }
    return false;
  });
}

void Node::Impl::FillStatus(api::StatusResponse* s) const {
  auto cfg = Config();
  const NodeIdentity& identity = Identity();
  s->set_version(HASHMESH_VERSION);
  s->set_node_name(identity.name);
  s->set_member_id(KeyToText(identity.member_key()));
  s->set_signing_key(KeyToText(identity.node_key.public_key()));
  s->set_manifest_seq(identity.manifest.seq);
  s->set_uptime_seconds(static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started)
          .count()));
  s->set_data_dir(cfg->data_dir);
  s->set_pdq_indexed(static_cast<uint32_t>(index.size()));
  s->set_own_seq(static_cast<uint32_t>(writer->own_seq()));
  bool ready = true;
  if (auto stats = store->Stats(); stats.ok()) {
    s->set_records(static_cast<uint32_t>(stats->records));
    s->set_signals(static_cast<uint32_t>(stats->signals));
    s->set_authors(static_cast<uint32_t>(stats->authors));
    s->set_map_size_mib(static_cast<uint32_t>(stats->map_size_bytes >> 20));
  } else {
    ready = false;
    s->add_not_ready_reasons("store: " + stats.status().message());
  }
  auto trust_now = Trust();
  if (auto heads = store->Heads(); heads.ok()) {
    for (const auto& h : *heads) {
      api::FeedHead* f = s->add_heads();
      f->set_author(KeyToText(h.author));
      f->set_name(MemberName(h.author, trust_now.get()));
      f->set_seq(static_cast<uint32_t>(h.seq));
      f->set_head_id(ToHex(h.id));
    }
  }
  s->set_own_feed_ready(writer->own_feed_ready());
  s->set_revoked(writer->revoked());
  if (writer->revoked()) {
    s->set_own_feed_ready(false);  // closed for good, not recovering: serving goes on
  } else if (!writer->own_feed_ready()) {
    ready = false;
    s->add_not_ready_reasons("recovering this node's own feed from its peers");
  }
  if (peers) {
    s->set_peers_connected(static_cast<uint32_t>(peers->admitted_sessions()));
    // Peers to dial are the --peer addresses and every other trusted member with an address; a
    // node that only listens is ready alone (it may be the first of its federation).
    const bool dials =
        !cfg->peers.empty() ||
        std::any_of(trust_now->members().begin(), trust_now->members().end(),
                    [&](const TrustMember& m) {
                      return !m.address.empty() && m.member_key != identity.member_key();
                    });
    if (dials && peers->admitted_sessions() == 0) {
      ready = false;
      s->add_not_ready_reasons("no peer connected");
    }
  }
  if (auto proofs = store->Equivocations(); proofs.ok()) {
    s->set_equivocations(static_cast<uint32_t>(proofs->size()));
    std::set<std::string> forked;
    for (const auto& bytes : *proofs) {
      pb::Equivocation proof;
      if (!proof.ParseFromString(bytes)) continue;
      auto r = ParseRecord(proof.first());
      if (!r.ok()) continue;
      std::string name = MemberName(r->author, trust_now.get());
      forked.insert(name.empty() ? KeyToText(r->author) : name + " " + KeyToText(r->author));
    }
    for (const auto& f : forked) s->add_forked_members(f);
  }
  s->set_ready(ready);
}

}  // namespace hashmesh
