// What the API routes need from the node, as two small interfaces the node implements: the query
// routes read snapshots and node-level views, the admin routes also reload. The getters return the
// current snapshot (swapped whole on reload), so a request sees one consistent trust store and
// policy. Implementations are called from the HTTP server's threads, any number at once.
#pragma once

#include <cstddef>
#include <memory>

#include "common/status.h"
#include "daemon/api/http_server.h"
#include "daemon/match/policy.h"
#include "keys/trust_store.h"
#include "proto/api.pb.h"

namespace hashmesh {

// What the query routes read from the node's configuration; replaced whole on reload.
struct QuerySettings {
  PolicyConfig policy;
  int64_t max_batch_queries = 10000;
};

class QueryService {
 public:
  virtual ~QueryService() = default;
  virtual std::shared_ptr<const TrustStore> Trust() const = 0;
  virtual std::shared_ptr<const QuerySettings> Settings() const = 0;
  // Node-level fields of GET /v1/status (uptime, ready, counts, ...).
  virtual void FillStatus(api::StatusResponse* status) const = 0;
  virtual api::PeersResponse Peers() const = 0;
  // A new GET /v1/stream client: the node pushes each committed record into it.
  virtual void AddStream(std::shared_ptr<StreamChannel> channel) const = 0;
  // Told of each /v1/match request (ok or not, queries in it, seconds to answer).
  virtual void ObserveMatch(bool ok, size_t queries, double seconds) const = 0;
};

class AdminService {
 public:
  virtual ~AdminService() = default;
  virtual std::shared_ptr<const TrustStore> Trust() const = 0;
  // POST /v1/reload: trust store, config and key directory read again.
  virtual Result<api::ReloadResponse> Reload() const = 0;
};

}  // namespace hashmesh
