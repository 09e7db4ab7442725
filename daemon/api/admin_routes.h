// The owner-only routes of the admin socket: publishing signals, notices, opinions and
// retractions into this node's own feed (and batches of signals), and reload. Every other
// request goes to the query routes, so one socket is enough for analysts. Thread-safety: Handle
// runs on the HTTP server's threads; publishing answers from the writer thread after the commit.
#pragma once

#include <string>

#include "daemon/api/api_services.h"
#include "daemon/api/http_server.h"
#include "daemon/api/query_routes.h"
#include "daemon/storage/store.h"
#include "daemon/storage/writer.h"

namespace hashmesh {

class AdminRoutes {
 public:
  // `member` is this node's member key: the author of everything published here.
  AdminRoutes(const Store* store, Writer* writer, const PublicKey& member,
              const AdminService* node, const QueryRoutes* query)
      : store_(store), writer_(writer), member_(member), node_(node), query_(query) {}

  void Handle(HttpRequest&& request, Responder respond) const;

 private:
  void Publish(pb::RecordBody body, const HttpRequest& request, Responder respond) const;
  // POST /v1/signals/batch: each item through BuildSignal and the writer, answered in order.
  void PublishSignalBatch(const HttpRequest& request, Responder respond) const;
  // Whether this node's member is trusted with a role that may publish `kind`.
  Status CheckMayPublishOwn(RecordKind kind) const;
  Status BuildSignal(const api::SignalRequest& req, pb::Signal* out) const;
  Status BuildNotice(const api::NoticeRequest& req, pb::Notice* out) const;
  Status BuildOpinion(const api::OpinionRequest& req, pb::Opinion* out) const;
  Status BuildRetraction(const api::RetractionRequest& req, pb::Retraction* out) const;
  Status CheckTargetExists(const std::string& id_hex, RecordId* id, RecordLocation* loc) const;

  const Store* store_;
  Writer* writer_;
  PublicKey member_;
  const AdminService* node_;
  const QueryRoutes* query_;
};

}  // namespace hashmesh
