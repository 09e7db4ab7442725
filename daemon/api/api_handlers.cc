// Local API routes.
#include "daemon/api/api_handlers.h"

#include <charconv>
#include <chrono>

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "daemon/api/match_codec.h"
#include "daemon/match/record_view.h"
#include "proto/wire.pb.h"

namespace hashmesh {
namespace {

constexpr size_t kMaxLabels = 32;
constexpr size_t kMaxLabelBytes = 128;
constexpr size_t kMaxTextBytes = 4096;
constexpr size_t kMaxNoticeTargets = 256;
constexpr size_t kMaxFeedPage = 1000;
constexpr int kMaxSignalBatch = 1000;

HttpResponse Json(const google::protobuf::Message& message, int status = 200) {
  HttpResponse r;
  r.status = status;
  r.body = ToJson(message);
  return r;
}

HttpResponse NotFoundRoute(const HttpRequest& request) {
  return JsonErrorResponse(404, "not_found", "no route " + request.method + " " + request.target);
}

HttpResponse MethodNotAllowed(const HttpRequest& request) {
  return JsonErrorResponse(405, "method_not_allowed",
                           request.method + " is not allowed on " + request.target);
}

// Splits "/v1/feeds/x?from=1" into path and query.
std::pair<std::string_view, std::string_view> SplitTarget(std::string_view target) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return {target, {}};
  return {target.substr(0, q), target.substr(q + 1)};
}

Result<uint64_t> QueryNumber(std::string_view query, std::string_view name, uint64_t fallback) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) != name || eq == std::string_view::npos) continue;
    std::string_view v = pair.substr(eq + 1);
    uint64_t n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc() || p != v.data() + v.size()) {
      return InvalidArgument(std::string(name) + " must be a number");
    }
    return n;
  }
  return fallback;
}

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

template <typename T>
Result<T> ParseBody(const HttpRequest& request) {
  T message;
  if (request.body.empty()) return InvalidArgument("request body is empty; expected JSON");
  HM_RETURN_IF_ERROR(FromJson(request.body, &message));
  return message;
}

}  // namespace

void ApiHandlers::HandleQuery(HttpRequest&& request, Responder respond) const {
  auto [path, query] = SplitTarget(request.target);
  const bool get = request.method == "GET";
  if (path == "/v1/status") return respond(get ? GetStatus() : MethodNotAllowed(request));
  if (path == "/v1/match") {
    if (request.method != "POST") return respond(MethodNotAllowed(request));
    // Timed for the latency histogram; no log line here: matches are the hot path.
    const auto started = std::chrono::steady_clock::now();
    size_t queries = 0;
    HttpResponse r = Match(request, &queries);
    if (ctx_.observe_match) {
      ctx_.observe_match(
          r.status == 200, queries,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
    return respond(std::move(r));
  }
  if (path == "/v1/feeds") return respond(get ? Feeds() : MethodNotAllowed(request));
  if (path.starts_with("/v1/feeds/")) {
    return respond(get ? Feed(path.substr(10), query) : MethodNotAllowed(request));
  }
  if (path.starts_with("/v1/records/")) {
    return respond(get ? Record(path.substr(12)) : MethodNotAllowed(request));
  }
  if (path == "/v1/equivocations") {
    return respond(get ? Equivocations() : MethodNotAllowed(request));
  }
  if (path == "/v1/peers") {
    if (!get) return respond(MethodNotAllowed(request));
    api::PeersResponse peers;
    if (ctx_.fill_peers) ctx_.fill_peers(&peers);
    return respond(Json(peers));
  }
  if (path == "/v1/stream") {
    if (!get) return respond(MethodNotAllowed(request));
    HttpResponse r;
    r.content_type = "application/x-ndjson";
    r.stream = std::make_shared<StreamChannel>();
    ctx_.add_stream(r.stream);
    return respond(std::move(r));
  }
  respond(NotFoundRoute(request));
}

void ApiHandlers::HandleAdmin(HttpRequest&& request, Responder respond) const {
  auto [path, query] = SplitTarget(request.target);
  if (request.method != "POST" || path == "/v1/match") {
    // The admin socket also answers the read-only routes (POST /v1/match is one), so one socket
    // is enough for analysts.
    return HandleQuery(std::move(request), std::move(respond));
  }
  if (path == "/v1/signals/batch") return PublishSignalBatch(request, std::move(respond));
  pb::RecordBody body;
  Status status;
  if (path == "/v1/signals") {
    auto req = ParseBody<api::SignalRequest>(request);
    status = req.ok() ? BuildSignal(*req, body.mutable_signal()) : req.status();
  } else if (path == "/v1/notices") {
    auto req = ParseBody<api::NoticeRequest>(request);
    status = req.status();
    if (req.ok()) {
      pb::Notice* n = body.mutable_notice();
      status = [&]() -> Status {
        if (req->targets_size() + req->signals_size() == 0) {
          return InvalidArgument("a notice needs at least one target or signal");
        }
        if (static_cast<size_t>(req->targets_size() + req->signals_size()) > kMaxNoticeTargets) {
          return InvalidArgument("a notice has at most 256 targets");
        }
        for (const auto& t : req->targets()) {
          RecordId id;
          RecordLocation loc;
          HM_RETURN_IF_ERROR(CheckTargetExists(t, &id, &loc));
          n->add_targets()->set_record_id(std::string(AsStringView(id)));
        }
        for (const auto& s : req->signals()) {
          HM_ASSIGN_OR_RETURN(SignalKind kind, ParseSignalKind(s.type()));
          HM_ASSIGN_OR_RETURN(std::string value, CanonicalSignalValue(kind, s.value()));
          pb::Signal* sig = n->add_targets()->mutable_signal();
          sig->set_type(static_cast<pb::SignalType>(kind));
          sig->set_value(value);
        }
        HM_RETURN_IF_ERROR(CheckText(req->category(), "category", true));
        const std::string& j = req->jurisdiction();
        const bool iso = j.size() == 2 && std::isupper(static_cast<unsigned char>(j[0])) &&
                         std::isupper(static_cast<unsigned char>(j[1]));
        if (!iso) {
          return InvalidArgument("jurisdiction must be an ISO 3166-1 alpha-2 code (e.g. FR) or EU");
        }
        HM_RETURN_IF_ERROR(CheckText(req->legal_basis(), "legal_basis", true));
        HM_RETURN_IF_ERROR(CheckText(req->issuing_body(), "issuing_body", true));
        HM_RETURN_IF_ERROR(CheckText(req->reference(), "reference", false));
        HM_ASSIGN_OR_RETURN(auto action, ParseRequestedAction(req->action()));
        HM_ASSIGN_OR_RETURN(uint64_t expires, ExpiryMs(req->expires_at()));
        n->set_category(req->category());
        n->set_jurisdiction(j);
        n->set_legal_basis(req->legal_basis());
        n->set_issuing_body(req->issuing_body());
        n->set_reference(req->reference());
        n->set_requested_action(action);
        n->set_expires_at_ms(expires);
        return Status::Ok();
      }();
    }
  } else if (path == "/v1/opinions") {
    auto req = ParseBody<api::OpinionRequest>(request);
    status = req.status();
    if (req.ok()) {
      status = [&]() -> Status {
        RecordId id;
        RecordLocation loc;
        HM_RETURN_IF_ERROR(CheckTargetExists(req->target(), &id, &loc));
        HM_ASSIGN_OR_RETURN(pb::Stance stance, ParseStance(req->stance()));
        HM_RETURN_IF_ERROR(CheckText(req->reason(), "reason", false));
        body.mutable_opinion()->set_target(std::string(AsStringView(id)));
        body.mutable_opinion()->set_stance(stance);
        body.mutable_opinion()->set_reason(req->reason());
        return Status::Ok();
      }();
    }
  } else if (path == "/v1/retractions") {
    auto req = ParseBody<api::RetractionRequest>(request);
    status = req.status();
    if (req.ok()) {
      status = [&]() -> Status {
        RecordId id;
        RecordLocation loc;
        HM_RETURN_IF_ERROR(CheckTargetExists(req->target(), &id, &loc));
        if (loc.author != ctx_.member) {
          return PermissionDenied("only the author of a record may retract it");
        }
        HM_RETURN_IF_ERROR(CheckText(req->reason(), "reason", true));
        body.mutable_retraction()->set_target(std::string(AsStringView(id)));
        body.mutable_retraction()->set_reason(req->reason());
        return Status::Ok();
      }();
    }
  } else if (path == "/v1/reload") {
    LogNotice("reload requested").Kv("uid", request.peer.uid).Kv("pid", request.peer.pid);
    auto reloaded = ctx_.reload();
    return respond(reloaded.ok() ? Json(*reloaded) : ErrorResponseFor(reloaded.status()));
  } else {
    return respond(NotFoundRoute(request));
  }
  if (!status.ok()) return respond(ErrorResponseFor(status));
  Publish(std::move(body), request, std::move(respond));
}

Status ApiHandlers::BuildSignal(const api::SignalRequest& req, pb::Signal* out) const {
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

Status ApiHandlers::CheckTargetExists(const std::string& id_hex, RecordId* id,
                                      RecordLocation* loc) const {
  HM_ASSIGN_OR_RETURN(*id, FromHexFixed<32>(id_hex, "record id"));
  HM_ASSIGN_OR_RETURN(auto found, ctx_.store->LocateId(*id));
  if (!found) return NotFound("no record with id " + id_hex);
  *loc = *found;
  return Status::Ok();
}

void ApiHandlers::Publish(pb::RecordBody body, const HttpRequest& request,
                          Responder respond) const {
  RecordKind kind = body.has_signal()    ? RecordKind::kSignal
                    : body.has_notice()  ? RecordKind::kNotice
                    : body.has_opinion() ? RecordKind::kOpinion
                                         : RecordKind::kRetraction;
  if (Status may = CheckMayPublishOwn(kind); !may.ok()) return respond(ErrorResponseFor(may));
  const PeerCredentials peer = request.peer;
  Status queued =
      ctx_.writer->Publish(std::move(body), [respond, peer, kind](Result<ParsedRecord> result) {
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

Status ApiHandlers::CheckMayPublishOwn(RecordKind kind) const {
  auto trust = ctx_.trust();
  const TrustMember* me = trust->FindByKey(ctx_.member);
  if (me == nullptr) {
    return PermissionDenied("this node's member " + KeyToText(ctx_.member) +
                            " is not in its trust store; add it with `hashmesh-keys trust add`");
  }
  if (!me->MayPublish(kind)) {
    return PermissionDenied("this member's roles may not publish a " +
                            std::string(RecordKindName(kind)));
  }
  return Status::Ok();
}

void ApiHandlers::PublishSignalBatch(const HttpRequest& request, Responder respond) const {
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
    std::mutex mu;
    api::SignalBatchResponse out;  // GUARDED_BY(mu)
    int left = 0;                  // GUARDED_BY(mu)
    int published = 0;             // GUARDED_BY(mu)
    Responder respond;
  };
  auto gather = std::make_shared<Gather>();
  for (int i = 0; i < n; ++i) gather->out.add_results();
  gather->left = n;
  gather->respond = std::move(respond);
  auto finish = [gather, n, peer = request.peer](int i, const Result<ParsedRecord>& r) {
    std::unique_lock lock(gather->mu);
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
    HttpResponse response = Json(gather->out);
    lock.unlock();
    gather->respond(std::move(response));
  };
  for (int i = 0; i < n; ++i) {
    pb::RecordBody body;
    Status built = BuildSignal(req->signals(i), body.mutable_signal());
    if (!built.ok()) {
      finish(i, built);
      continue;
    }
    Status queued = ctx_.writer->Publish(
        std::move(body), [finish, i](Result<ParsedRecord> result) { finish(i, result); });
    if (!queued.ok()) finish(i, queued);
  }
}

HttpResponse ApiHandlers::GetStatus() const {
  api::StatusResponse status;
  ctx_.fill_status(&status);
  return Json(status);
}

HttpResponse ApiHandlers::Match(const HttpRequest& request, size_t* queries) const {
  auto req = ParseBody<api::MatchRequest>(request);
  if (!req.ok()) return ErrorResponseFor(req.status());
  *queries = req->queries_size() == 0 ? 1 : static_cast<size_t>(req->queries_size());
  auto config = ctx_.settings();
  auto trust = ctx_.trust();
  const uint64_t now = NowMs();
  auto one = [&](const api::MatchQuery& q) -> Result<api::MatchResponse> {
    HM_ASSIGN_OR_RETURN(MatchSpec spec, ParseMatchQuery(q, config->policy));
    HM_ASSIGN_OR_RETURN(MatchResult result, ctx_.matcher->Match(spec, *trust, config->policy, now));
    return ToMatchResponse(result, *trust, now);
  };
  if (req->queries_size() == 0) {
    api::MatchQuery q;
    q.set_type(req->type());
    q.set_value(req->value());
    if (req->has_max_distance()) q.set_max_distance(req->max_distance());
    q.set_include_low_quality(req->include_low_quality());
    auto r = one(q);
    return r.ok() ? Json(*r) : ErrorResponseFor(r.status());
  }
  if (req->queries_size() > config->max_batch_queries) {
    return ErrorResponseFor(InvalidArgument(
        "a batch has at most " + std::to_string(config->max_batch_queries) + " queries"));
  }
  api::MatchBatchResponse batch;
  for (int i = 0; i < req->queries_size(); ++i) {
    auto r = one(req->queries(i));
    if (!r.ok()) return ErrorResponseFor(r.status().WithContext("query " + std::to_string(i)));
    *batch.add_results() = std::move(*r);
  }
  return Json(batch);
}

HttpResponse ApiHandlers::Record(std::string_view id_hex) const {
  auto id = FromHexFixed<32>(id_hex, "record id");
  if (!id.ok()) return ErrorResponseFor(id.status());
  auto loc = ctx_.store->LocateId(*id);
  if (!loc.ok()) return ErrorResponseFor(loc.status());
  if (!*loc) return ErrorResponseFor(NotFound("no record with id " + std::string(id_hex)));
  auto bytes = ctx_.store->GetRecord(**loc);
  if (!bytes.ok() || !*bytes) return ErrorResponseFor(Internal("record vanished"));
  auto record = ParseRecordBytes(**bytes);
  if (!record.ok()) return ErrorResponseFor(record.status());
  auto trust = ctx_.trust();
  return Json(View(*record, *trust));
}

HttpResponse ApiHandlers::Feeds() const {
  auto heads = ctx_.store->Heads();
  if (!heads.ok()) return ErrorResponseFor(heads.status());
  auto trust = ctx_.trust();
  api::FeedsResponse out;
  for (const auto& h : *heads) {
    api::FeedHead* f = out.add_feeds();
    f->set_author(KeyToText(h.author));
    if (const TrustMember* m = trust->FindByKey(h.author)) {
      f->set_name(m->name);
      if (!m->roles.empty()) f->set_role(std::string(RoleName(m->roles.front())));
    }
    f->set_seq(static_cast<uint32_t>(h.seq));
    f->set_head_id(ToHex(h.id));
  }
  return Json(out);
}

HttpResponse ApiHandlers::Feed(std::string_view author_text, std::string_view query) const {
  auto trust = ctx_.trust();
  auto author = KeyFromText(author_text);
  if (!author.ok()) {
    // Accept a member name too.
    const TrustMember* m = trust->FindByName(author_text);
    if (m == nullptr) {
      return ErrorResponseFor(NotFound("'" + std::string(author_text) +
                                       "' is neither a member id (ed25519:...) nor the name of a "
                                       "trusted member"));
    }
    author = m->member_key;
  }
  auto from = QueryNumber(query, "from", 1);
  auto limit = QueryNumber(query, "limit", 100);
  if (!from.ok()) return ErrorResponseFor(from.status());
  if (!limit.ok()) return ErrorResponseFor(limit.status());
  if (*limit == 0 || *limit > kMaxFeedPage) {
    return ErrorResponseFor(InvalidArgument("limit must be 1 to 1000"));
  }
  auto records = ctx_.store->ReadFeed(*author, *from, *limit);
  if (!records.ok()) return ErrorResponseFor(records.status());
  api::FeedResponse out;
  out.set_author(KeyToText(*author));
  for (const auto& bytes : *records) {
    auto r = ParseRecordBytes(bytes);
    if (!r.ok()) return ErrorResponseFor(r.status());
    *out.add_records() = View(*r, *trust);
  }
  return Json(out);
}

api::RecordView ApiHandlers::View(const ParsedRecord& record, const TrustStore& trust) const {
  api::RecordView view = ToRecordView(record, &trust);
  view.set_voided(ctx_.compromise != nullptr && ctx_.compromise->IsVoid(record));
  return view;
}

HttpResponse ApiHandlers::Equivocations() const {
  auto proofs = ctx_.store->Equivocations();
  if (!proofs.ok()) return ErrorResponseFor(proofs.status());
  auto trust = ctx_.trust();
  api::EquivocationsResponse out;
  for (const auto& bytes : *proofs) {
    pb::Equivocation proof;
    if (!proof.ParseFromString(bytes)) return ErrorResponseFor(Corruption("stored fork proof"));
    auto first = ParseRecord(proof.first());
    auto second = ParseRecord(proof.second());
    if (!first.ok()) return ErrorResponseFor(first.status());
    if (!second.ok()) return ErrorResponseFor(second.status());
    api::EquivocationView* view = out.add_equivocations();
    view->set_author(KeyToText(first->author));
    if (const TrustMember* m = trust->FindByKey(first->author)) view->set_author_name(m->name);
    view->set_seq(static_cast<uint32_t>(first->seq()));
    *view->mutable_first() = View(*first, *trust);
    *view->mutable_second() = View(*second, *trust);
  }
  return Json(out);
}

}  // namespace hashmesh
