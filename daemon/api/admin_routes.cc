// Admin socket routes.
#include "daemon/api/admin_routes.h"

#include <cctype>

#include "common/clock.h"
#include "common/log.h"
#include "common/mutex.h"
#include "common/proto_time.h"
#include "common/record_text.h"
#include "daemon/api/route_util.h"

namespace hashmesh {
namespace {

constexpr size_t kMaxLabels = 32;
constexpr size_t kMaxLabelBytes = 128;
constexpr size_t kMaxTextBytes = 4096;
constexpr size_t kMaxNoticeTargets = 256;
constexpr int kMaxSignalBatch = 1000;

Status CheckText(const std::string& text, std::string_view what, bool required) {
  if (required && text.empty()) return InvalidArgument(std::string(what) + " is required");
  if (text.size() > kMaxTextBytes) return InvalidArgument(std::string(what) + " is over 4 KiB");
  return Status::Ok();
}

Result<uint64_t> ExpiryMs(const google::protobuf::Timestamp& ts) {
  uint64_t ms = TimestampMs(ts);
  if (ms != 0 && ms <= NowMs()) return InvalidArgument("expires_at is in the past");
  return ms;
}

}  // namespace

void AdminRoutes::Handle(HttpRequest&& request, Responder respond) const {
  auto [path, query] = SplitTarget(request.target);
  if (request.method != "POST" || path == "/v1/match") {
    // The admin socket also answers the read-only routes (POST /v1/match is one), so one socket
    // is enough for analysts.
    return query_->Handle(std::move(request), std::move(respond));
  }
  if (path == "/v1/signals/batch") return PublishSignalBatch(request, std::move(respond));
  pb::RecordBody body;
  Status status;
  if (path == "/v1/signals") {
    auto req = ParseBody<api::SignalRequest>(request);
    status = req.ok() ? BuildSignal(*req, body.mutable_signal()) : req.status();
  } else if (path == "/v1/notices") {
    auto req = ParseBody<api::NoticeRequest>(request);
    status = req.ok() ? BuildNotice(*req, body.mutable_notice()) : req.status();
  } else if (path == "/v1/opinions") {
    auto req = ParseBody<api::OpinionRequest>(request);
    status = req.ok() ? BuildOpinion(*req, body.mutable_opinion()) : req.status();
  } else if (path == "/v1/retractions") {
    auto req = ParseBody<api::RetractionRequest>(request);
    status = req.ok() ? BuildRetraction(*req, body.mutable_retraction()) : req.status();
  } else if (path == "/v1/reload") {
    LogNotice("reload requested").Kv("uid", request.peer.uid).Kv("pid", request.peer.pid);
    auto reloaded = node_->Reload();
    return respond(reloaded.ok() ? Json(*reloaded) : ErrorResponseFor(reloaded.status()));
  } else {
    return respond(NotFoundRoute(request));
  }
  if (!status.ok()) return respond(ErrorResponseFor(status));
  Publish(std::move(body), request, std::move(respond));
}

Status AdminRoutes::BuildSignal(const api::SignalRequest& req, pb::Signal* out) const {
  HM_ASSIGN_OR_RETURN(SignalKind kind, ParseSignalKind(req.type()));
  HM_ASSIGN_OR_RETURN(std::string value, CanonicalSignalValue(kind, req.value()));
  if (req.labels_size() == 0) return InvalidArgument("a signal needs at least one label");
  if (static_cast<size_t>(req.labels_size()) > kMaxLabels) {
    return InvalidArgument("a signal has at most 32 labels");
  }
  for (const auto& l : req.labels()) {
    if (l.empty() || l.size() > kMaxLabelBytes) {
      return InvalidArgument("labels must be 1 to 128 characters");
    }
  }
  if (req.has_quality() && req.quality() > 100) return InvalidArgument("quality is 0 to 100");
  HM_RETURN_IF_ERROR(CheckText(req.note(), "note", false));
  HM_RETURN_IF_ERROR(CheckText(req.content_type(), "content_type", false));
  HM_ASSIGN_OR_RETURN(uint64_t expires, ExpiryMs(req.expires_at()));
  out->set_type(static_cast<pb::SignalType>(kind));
  out->set_value(value);
  for (const auto& l : req.labels()) out->add_labels(l);
  out->set_content_type(req.content_type());
  if (req.has_quality()) out->set_quality(req.quality());
  out->set_note(req.note());
  out->set_expires_at_ms(expires);
  return Status::Ok();
}

Status AdminRoutes::BuildNotice(const api::NoticeRequest& req, pb::Notice* out) const {
  if (req.targets_size() + req.signals_size() == 0) {
    return InvalidArgument("a notice needs at least one target or signal");
  }
  if (static_cast<size_t>(req.targets_size() + req.signals_size()) > kMaxNoticeTargets) {
    return InvalidArgument("a notice has at most 256 targets");
  }
  for (const auto& t : req.targets()) {
    RecordId id;
    RecordLocation loc;
    HM_RETURN_IF_ERROR(CheckTargetExists(t, &id, &loc));
    out->add_targets()->set_record_id(std::string(AsStringView(id)));
  }
  for (const auto& s : req.signals()) {
    HM_ASSIGN_OR_RETURN(SignalKind kind, ParseSignalKind(s.type()));
    HM_ASSIGN_OR_RETURN(std::string value, CanonicalSignalValue(kind, s.value()));
    pb::Signal* sig = out->add_targets()->mutable_signal();
    sig->set_type(static_cast<pb::SignalType>(kind));
    sig->set_value(value);
  }
  HM_RETURN_IF_ERROR(CheckText(req.category(), "category", true));
  const std::string& j = req.jurisdiction();
  const bool iso = j.size() == 2 && std::isupper(static_cast<unsigned char>(j[0])) &&
                   std::isupper(static_cast<unsigned char>(j[1]));
  if (!iso) {
    return InvalidArgument("jurisdiction must be an ISO 3166-1 alpha-2 code (e.g. FR) or EU");
  }
  HM_RETURN_IF_ERROR(CheckText(req.legal_basis(), "legal_basis", true));
  HM_RETURN_IF_ERROR(CheckText(req.issuing_body(), "issuing_body", true));
  HM_RETURN_IF_ERROR(CheckText(req.reference(), "reference", false));
  HM_ASSIGN_OR_RETURN(auto action, ParseRequestedAction(req.action()));
  HM_ASSIGN_OR_RETURN(uint64_t expires, ExpiryMs(req.expires_at()));
  out->set_category(req.category());
  out->set_jurisdiction(j);
  out->set_legal_basis(req.legal_basis());
  out->set_issuing_body(req.issuing_body());
  out->set_reference(req.reference());
  out->set_requested_action(action);
  out->set_expires_at_ms(expires);
  return Status::Ok();
}

Status AdminRoutes::BuildOpinion(const api::OpinionRequest& req, pb::Opinion* out) const {
  RecordId id;
  RecordLocation loc;
  HM_RETURN_IF_ERROR(CheckTargetExists(req.target(), &id, &loc));
  HM_ASSIGN_OR_RETURN(pb::Stance stance, ParseStance(req.stance()));
  HM_RETURN_IF_ERROR(CheckText(req.reason(), "reason", false));
  out->set_target(std::string(AsStringView(id)));
  out->set_stance(stance);
  out->set_reason(req.reason());
  return Status::Ok();
}

Status AdminRoutes::BuildRetraction(const api::RetractionRequest& req,
                                    pb::Retraction* out) const {
  RecordId id;
  RecordLocation loc;
  HM_RETURN_IF_ERROR(CheckTargetExists(req.target(), &id, &loc));
  if (loc.author != member_) return PermissionDenied("only the author of a record may retract it");
  HM_RETURN_IF_ERROR(CheckText(req.reason(), "reason", true));
  out->set_target(std::string(AsStringView(id)));
  out->set_reason(req.reason());
  return Status::Ok();
}

Status AdminRoutes::CheckTargetExists(const std::string& id_hex, RecordId* id,
                                      RecordLocation* loc) const {
  HM_ASSIGN_OR_RETURN(*id, FromHexFixed<32>(id_hex, "record id"));
  HM_ASSIGN_OR_RETURN(auto found, store_->LocateId(*id));
  if (!found) return NotFound("no record with id " + id_hex);
  *loc = *found;
  return Status::Ok();
}

void AdminRoutes::Publish(pb::RecordBody body, const HttpRequest& request,
                          Responder respond) const {
  RecordKind kind = body.has_signal()    ? RecordKind::kSignal
                    : body.has_notice()  ? RecordKind::kNotice
                    : body.has_opinion() ? RecordKind::kOpinion
                                         : RecordKind::kRetraction;
  if (Status may = CheckMayPublishOwn(kind); !may.ok()) return respond(ErrorResponseFor(may));
  const PeerCredentials peer = request.peer;
  Status queued =
      writer_->Publish(std::move(body), [respond, peer, kind](Result<ParsedRecord> result) {
        if (!result.ok()) return respond(ErrorResponseFor(result.status()));
        LogInfo("published")
            .Kv("kind", RecordKindName(kind))
            .Kv("seq", result->seq())
            .Kv("id", ToHex(result->id))
            .Kv("uid", peer.uid)
            .Kv("pid", peer.pid);
        api::PublishResponse out;
        out.set_id(ToHex(result->id));
        out.set_seq(static_cast<uint32_t>(result->seq()));
        out.set_author(KeyToText(result->author));
        out.set_kind(std::string(RecordKindName(kind)));
        respond(Json(out, 201));
      });
  if (!queued.ok()) respond(ErrorResponseFor(queued));
}

Status AdminRoutes::CheckMayPublishOwn(RecordKind kind) const {
  auto trust = node_->Trust();
  const TrustMember* me = trust->FindByKey(member_);
  if (me == nullptr) {
    return PermissionDenied("this node's member " + KeyToText(member_) +
                            " is not in its trust store; add it with `hashmesh-keys trust add`");
  }
  if (!me->MayPublish(kind)) {
    return PermissionDenied("this member's roles may not publish a " +
                            std::string(RecordKindName(kind)));
  }
  return Status::Ok();
}

void AdminRoutes::PublishSignalBatch(const HttpRequest& request, Responder respond) const {
  auto req = ParseBody<api::SignalBatchRequest>(request);
  if (!req.ok()) return respond(ErrorResponseFor(req.status()));
  const int n = req->signals_size();
  if (n == 0) {
    return respond(ErrorResponseFor(InvalidArgument("a batch needs at least one signal")));
  }
  if (n > kMaxSignalBatch) {
    return respond(ErrorResponseFor(InvalidArgument("a batch has at most 1000 signals")));
  }
  if (Status may = CheckMayPublishOwn(RecordKind::kSignal); !may.ok()) {
    return respond(ErrorResponseFor(may));
  }
  // Answers come from the writer thread (or at once for refused items); the last one responds.
  struct Gather {
    Mutex mu;
    api::SignalBatchResponse out GUARDED_BY(mu);
    int left GUARDED_BY(mu) = 0;
    int published GUARDED_BY(mu) = 0;
    Responder respond;
  };
  auto gather = std::make_shared<Gather>();
  {
    MutexLock lock(gather->mu);  // no other thread sees it yet; taken for the analysis
    for (int i = 0; i < n; ++i) gather->out.add_results();
    gather->left = n;
  }
  gather->respond = std::move(respond);
  auto finish = [gather, n, peer = request.peer](int i, const Result<ParsedRecord>& r) {
    HttpResponse response;
    {
      MutexLock lock(gather->mu);
      api::SignalBatchResult* item = gather->out.mutable_results(i);
      if (r.ok()) {
        item->set_id(ToHex(r->id));
        item->set_seq(static_cast<uint32_t>(r->seq()));
        ++gather->published;
      } else {
        item->mutable_error()->set_code(std::string(StatusCodeName(r.status().code())));
        item->mutable_error()->set_message(r.status().message());
      }
      if (--gather->left > 0) return;
      LogInfo("published batch")
          .Kv("kind", "signal")
          .Kv("items", n)
          .Kv("published", gather->published)
          .Kv("uid", peer.uid)
          .Kv("pid", peer.pid);
      response = Json(gather->out);
    }
    gather->respond(std::move(response));
  };
  for (int i = 0; i < n; ++i) {
    pb::RecordBody body;
    Status built = BuildSignal(req->signals(i), body.mutable_signal());
    if (!built.ok()) {
      finish(i, built);
      continue;
    }
    Status queued = writer_->Publish(
        std::move(body), [finish, i](Result<ParsedRecord> result) { finish(i, result); });
    if (!queued.ok()) finish(i, queued);
  }
}


}  // namespace hashmesh
