// Query socket routes.
#include "daemon/api/query_routes.h"

#include <charconv>
#include <chrono>

#include "common/clock.h"
#include "daemon/api/match_codec.h"
#include "daemon/api/route_util.h"
#include "daemon/api/record_view.h"
#include "proto/wire.pb.h"

namespace hashmesh {
namespace {

constexpr size_t kMaxFeedPage = 1000;

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

}  // namespace

void QueryRoutes::Handle(HttpRequest&& request, Responder respond) const {
  auto [path, query] = SplitTarget(request.target);
  const bool get = request.method == "GET";
  if (path == "/v1/status") return respond(get ? GetStatus() : MethodNotAllowed(request));
  if (path == "/v1/match") {
    if (request.method != "POST") return respond(MethodNotAllowed(request));
    // Timed for the latency histogram; no log line here: matches are the hot path.
    const auto started = std::chrono::steady_clock::now();
    size_t queries = 0;
    HttpResponse r = Match(request, &queries);
    node_->ObserveMatch(
        r.status == 200, queries,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
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
    return respond(Json(node_->Peers()));
  }
  if (path == "/v1/stream") {
    if (!get) return respond(MethodNotAllowed(request));
    HttpResponse r;
    r.content_type = "application/x-ndjson";
    r.stream = std::make_shared<StreamChannel>();
    node_->AddStream(r.stream);
    return respond(std::move(r));
  }
  respond(NotFoundRoute(request));
}

HttpResponse QueryRoutes::GetStatus() const {
  api::StatusResponse status;
  node_->FillStatus(&status);
  return Json(status);
}

HttpResponse QueryRoutes::Match(const HttpRequest& request, size_t* queries) const {
  auto req = ParseBody<api::MatchRequest>(request);
  if (!req.ok()) return ErrorResponseFor(req.status());
  *queries = req->queries_size() == 0 ? 1 : static_cast<size_t>(req->queries_size());
  auto config = node_->Settings();
  auto trust = node_->Trust();
  const uint64_t now = NowMs();
  auto one = [&](const api::MatchQuery& q) -> Result<api::MatchResponse> {
    HM_ASSIGN_OR_RETURN(MatchSpec spec, ParseMatchQuery(q, config->policy));
    HM_ASSIGN_OR_RETURN(MatchResult result, matcher_->Match(spec, *trust, config->policy, now));
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

HttpResponse QueryRoutes::Record(std::string_view id_hex) const {
  auto id = FromHexFixed<32>(id_hex, "record id");
  if (!id.ok()) return ErrorResponseFor(id.status());
  auto loc = store_->LocateId(*id);
  if (!loc.ok()) return ErrorResponseFor(loc.status());
  if (!*loc) return ErrorResponseFor(NotFound("no record with id " + std::string(id_hex)));
  auto bytes = store_->GetRecord(**loc);
  if (!bytes.ok() || !*bytes) return ErrorResponseFor(Internal("record vanished"));
  auto record = ParseRecordBytes(**bytes);
  if (!record.ok()) return ErrorResponseFor(record.status());
  auto trust = node_->Trust();
  return Json(View(*record, *trust));
}

HttpResponse QueryRoutes::Feeds() const {
  auto heads = store_->Heads();
  if (!heads.ok()) return ErrorResponseFor(heads.status());
  auto trust = node_->Trust();
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

HttpResponse QueryRoutes::Feed(std::string_view author_text, std::string_view query) const {
  auto trust = node_->Trust();
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
  auto records = store_->ReadFeed(*author, *from, *limit);
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

api::RecordView QueryRoutes::View(const ParsedRecord& record, const TrustStore& trust) const {
  api::RecordView view = ToRecordView(record, &trust);
  view.set_voided(compromise_ != nullptr && compromise_->IsVoid(record));
  return view;
}

HttpResponse QueryRoutes::Equivocations() const {
  auto proofs = store_->Equivocations();
  if (!proofs.ok()) return ErrorResponseFor(proofs.status());
  auto trust = node_->Trust();
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
