// Node start-up, wiring and shutdown.
#include "daemon/node.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "common/crypto.h"
#include "common/log.h"
#include "daemon/metrics.h"
#include "daemon/node_impl.h"
#include "daemon/node_system.h"
#include "proto/api.pb.h"

namespace hashmesh {
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
  HM_ASSIGN_OR_RETURN(std::shared_ptr<const TrustStore> start_trust,
                      LoadOrCreateTrust(config, identity));
  {
    MutexLock lock(n.snapshot_mu);  // no other thread runs yet; taken for the analysis
    n.trust = start_trust;
    n.SetConfig(config);
  }

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
  HM_ASSIGN_OR_RETURN(const FederationPlan plan, n.PlanFederation(config));
  WriterOptions writer_options;
  writer_options.defer_own_manifest = plan.recover;
  n.writer = std::make_unique<Writer>(n.store.get(), own, self, writer_options);
  // The writer's one listener for each kind of event; what follows a commit is in CommitFanout.
  n.writer->AddCommitListener(
      [self](const std::vector<ParsedRecord>& rs) { self->fanout->OnCommit(rs); });
  n.writer->AddEquivocationListener([self](const std::string& p) { self->fanout->OnForkProof(p); });
  n.feeds = std::make_unique<StoreFeedReader>(n.store.get());
  n.pipeline = std::make_unique<IngestPipeline>(n.store.get(), n.writer.get());
  if (plan.federated) n.MakePeers(config);
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
  n.fanout = std::make_unique<CommitFanout>(CommitFanoutParts{.compromise = &n.compromise,
                                                              .index = &n.index,
                                                              .streams = &n.streams,
                                                              .trust = self,
                                                              .peers = n.peers.get(),
                                                              .metrics = metrics});
  HM_RETURN_IF_ERROR(n.writer->Start());
  if (n.peers) HM_RETURN_IF_ERROR(n.StartPeers(plan.recover));
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
      MutexLock lock(impl_->watchdog_mu);
      impl_->watchdog_stop = true;
    }
    impl_->watchdog_cv.NotifyAll();
    impl_->watchdog.join();
  }
  if (impl_->metrics_server) impl_->metrics_server->Stop();
  // Stop taking requests first, then let the writer finish what was acknowledged as queued.
  if (impl_->query_server) impl_->query_server->Stop();
  if (impl_->admin_server) impl_->admin_server->Stop();
  if (impl_->peers) impl_->peers->Stop();
  if (impl_->writer) impl_->writer->Stop();
  impl_->streams.CloseAll();
  impl_->store.reset();
  if (impl_->lock_fd >= 0) close(impl_->lock_fd);
  impl_->lock_fd = -1;
  LogNotice("hashmeshd stopped");
}

}  // namespace hashmesh
