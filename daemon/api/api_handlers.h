// The local API's routes: the read-only query socket and the owner-only admin socket, mapping
// HTTP requests (JSON bodies shaped by proto/api.proto) to the matcher, the store and the writer.
// Thread-safety: handlers run on the HTTP server's threads, any number at once; publishing
// answers from the writer thread after the commit.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "daemon/api/http_server.h"
#include "daemon/match/matcher.h"
#include "daemon/storage/store.h"
#include "daemon/storage/writer.h"
#include "keys/trust_store.h"
#include "proto/api.pb.h"

namespace hashmesh {

// What the handlers need from the node. The getters return the current snapshot (swapped whole
// on reload), so a request sees one consistent trust store and policy.
// What the query routes read from the node's configuration; replaced whole on reload.
struct QuerySettings {
  PolicyConfig policy;
  int64_t max_batch_queries = 10000;
};

struct ApiContext {
  const Store* store = nullptr;
  Writer* writer = nullptr;
  const Matcher* matcher = nullptr;
  const PdqSignalIndex* index = nullptr;
  const CompromisePoints* compromise = nullptr;  // may be null: nothing is void
  PublicKey member{};
  std::function<std::shared_ptr<const TrustStore>()> trust;
  std::function<std::shared_ptr<const QuerySettings>()> settings;
  std::function<void(api::StatusResponse*)> fill_status;  // node-level fields (uptime, ready, ...)
  std::function<void(api::PeersResponse*)> fill_peers;
  std::function<Result<api::ReloadResponse>()> reload;
  std::function<void(std::shared_ptr<StreamChannel>)> add_stream;
  // Told of each /v1/match request (ok or not, queries in it, seconds to answer); may be empty.
  std::function<void(bool ok, size_t queries, double seconds)> observe_match;
};

class ApiHandlers {
 public:
  explicit ApiHandlers(ApiContext context) : ctx_(std::move(context)) {}

  void HandleQuery(HttpRequest&& request, Responder respond) const;
  void HandleAdmin(HttpRequest&& request, Responder respond) const;

 private:
  HttpResponse GetStatus() const;
  // Sets *queries to the number of queries in the request (0 if it does not parse).
  HttpResponse Match(const HttpRequest& request, size_t* queries) const;
  HttpResponse Record(std::string_view id_hex) const;
  HttpResponse Feeds() const;
  HttpResponse Feed(std::string_view author, std::string_view query) const;
  HttpResponse Equivocations() const;
  // The API's view of a stored record, `voided` included.
  api::RecordView View(const ParsedRecord& record, const TrustStore& trust) const;
  void Publish(pb::RecordBody body, const HttpRequest& request, Responder respond) const;
  // POST /v1/signals/batch: each item through BuildSignal and the writer, answered in order.
  void PublishSignalBatch(const HttpRequest& request, Responder respond) const;
  // Whether this node's member is trusted with a role that may publish `kind`.
  Status CheckMayPublishOwn(RecordKind kind) const;
  Status BuildSignal(const api::SignalRequest& req, pb::Signal* out) const;
  Status CheckTargetExists(const std::string& id_hex, RecordId* id,
                                     RecordLocation* loc) const;

  ApiContext ctx_;
};

}  // namespace hashmesh
