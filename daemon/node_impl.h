// Node::Impl: the parts of a running node and the snapshots they share (config, trust store,
// identity). Private to the node's files: node.cc starts and stops it, node_peers.cc wires the
// federation, node_reload.cc reloads, node_status.cc reports, node_system.cc talks to the OS.
#pragma once

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "daemon/api/admin_routes.h"
#include "daemon/api/query_routes.h"
#include "daemon/api/http_server.h"
#include "daemon/commit_fanout.h"
#include "daemon/match/matcher.h"
#include "daemon/match/pdq_signal_index.h"
#include "daemon/node.h"
#include "daemon/node_config.h"
#include "daemon/node_metrics.h"
#include "daemon/node_services.h"
#include "daemon/record_streams.h"
#include "daemon/storage/compromise_points.h"
#include "daemon/storage/store.h"
#include "daemon/storage/writer.h"
#include "daemon/sync/feed_reader.h"
#include "daemon/sync/ingest_pipeline.h"
#include "daemon/sync/local_identity.h"
#include "daemon/sync/peer_manager.h"
#include "keys/key_dir.h"
#include "keys/trust_source.h"
#include "keys/trust_store.h"

namespace hashmesh {

// Whether this node talks to peers, and whether it must first recover its own feed from them.
struct FederationPlan {
  bool federated = false;
  // A node with peers and an empty own feed may have lost its data: it recovers its feed from
  // its peers before it publishes anything, so it never forks itself.
  bool recover = false;
};

struct Node::Impl final : public TrustSource, public LocalIdentity {
  explicit Impl(NodeIdentity id) {
    identities.push_back(std::make_unique<NodeIdentity>(std::move(id)));
    current_identity = identities.back().get();
  }

  std::shared_ptr<const NodeConfig> config GUARDED_BY(snapshot_mu);
  std::shared_ptr<const QuerySettings> settings GUARDED_BY(snapshot_mu);
  std::unique_ptr<Store> store;
  std::unique_ptr<StoreFeedReader> feeds;
  PdqSignalIndex index;
  CompromisePoints compromise;
  RecordStreams streams;
  std::unique_ptr<CommitFanout> fanout;  // the writer's one listener
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
  Mutex watchdog_mu;
  CondVar watchdog_cv;
  bool watchdog_stop GUARDED_BY(watchdog_mu) = false;
  bool stopped = false;
  int lock_fd = -1;  // flock on <data>/hashmeshd.lock, held for the node's life

  mutable Mutex snapshot_mu;
  std::shared_ptr<const TrustStore> trust GUARDED_BY(snapshot_mu);
  // Every identity loaded since start. Never freed while the node runs: the writer holds their
  // keys (an old one signs nothing new) and references handed out outlive a swap.
  std::vector<std::unique_ptr<NodeIdentity>> identities GUARDED_BY(snapshot_mu);
  const NodeIdentity* current_identity GUARDED_BY(snapshot_mu) = nullptr;

  // TrustSource
  std::shared_ptr<const TrustStore> Trust() const override {
    MutexLock lock(snapshot_mu);
    return trust;
  }
  // LocalIdentity
  LocalPeerKeys PeerKeys() const override {
    const NodeIdentity& current = Identity();
    return LocalPeerKeys{current.node_key.public_key(), current.manifest_bytes};
  }
  std::shared_ptr<const NodeConfig> Config() const {
    MutexLock lock(snapshot_mu);
    return config;
  }
  std::shared_ptr<const QuerySettings> Settings() const {
    MutexLock lock(snapshot_mu);
    return settings;
  }
  // Sets the config and what the query routes read of it.
  void SetConfig(NodeConfig next) REQUIRES(snapshot_mu) {
    config = std::make_shared<const NodeConfig>(std::move(next));
    settings = std::make_shared<const QuerySettings>(
        QuerySettings{.policy = config->policy, .max_batch_queries = config->max_batch_queries});
  }
  const NodeIdentity& Identity() const {
    MutexLock lock(snapshot_mu);
    return *current_identity;
  }

  // node_peers.cc. Whether to federate and recover, from the config, trust store and own feed.
  Result<FederationPlan> PlanFederation(const NodeConfig& config) const;
  // Creates the peer manager (before the writer starts: the fan-out needs it).
  void MakePeers(const NodeConfig& config);
  // Starts it, and with `recover` publishes our manifest once peers gave our feed back.
  Status StartPeers(bool recover);

  // node_reload.cc. Reload of the key directory: publishes a rotation or revocation found there.
  Status ReloadKeys(const std::string& keys_dir);
  // node_status.cc.
  void FillStatus(api::StatusResponse* status) const;
  // node_system.cc.
  void WatchdogLoop(std::chrono::microseconds interval);
};

}  // namespace hashmesh
