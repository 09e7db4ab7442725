// MatchQuery -> MatchSpec and MatchResult -> MatchResponse.
#include "daemon/api/match_codec.h"

#include "common/proto_time.h"
#include "common/signal_value.h"
#include "daemon/api/record_view.h"

namespace hashmesh {
namespace {

api::Match ToMatch(const MatchedSignal& m, const TrustStore& trust, uint64_t now_ms) {
  const ParsedRecord& record = m.record;
  api::Match out;
  out.set_id(ToHex(record.id));
  out.set_author(KeyToText(record.author));
  out.set_author_name(m.author_name);
  out.set_role(m.author_role);
  out.set_type(std::string(SignalKindName(static_cast<SignalKind>(m.signal.type()))));
  out.set_value(m.signal.value());
  out.set_distance(static_cast<uint32_t>(m.distance));
  for (const auto& l : m.signal.labels()) out.add_labels(l);
  out.set_seq(static_cast<uint32_t>(record.seq()));
  SetTimestamp(record.body.created_at_ms(), out.mutable_created_at());
  if (m.signal.has_quality()) out.set_quality(m.signal.quality());
  out.set_note(m.signal.note());
  // Both flags as they are (a signal may be retracted and expired); the verdict used m.state.
  out.set_retracted(m.state_facts.retracted);
  out.set_expired(Expired(m.state_facts, now_ms));
  for (const auto& n : m.notices) {
    api::NoticeView* view = out.add_notices();
    *view = ToNoticeView(n.record, &trust, now_ms);
    view->set_retracted(n.retracted);
  }
  api::OpinionCounts* counts = out.mutable_opinions();
  counts->set_endorse(m.opinions.endorse);
  counts->set_dispute(m.opinions.dispute);
  counts->set_seen(m.opinions.seen);
  counts->set_acted(m.opinions.acted);
  counts->set_platform_endorse(m.opinions.platform_endorse);
  counts->set_platform_dispute(m.opinions.platform_dispute);
  out.set_query_type(std::string(SignalKindName(m.query_kind)));
  out.set_author_forked(m.author_forked);
  out.set_record_kind(m.in_notice ? "notice" : "signal");
  return out;
}

}  // namespace

Result<MatchSpec> ParseMatchQuery(const api::MatchQuery& query, const PolicyConfig& policy) {
  MatchSpec spec;
  HM_ASSIGN_OR_RETURN(spec.kind, ParseSignalKind(query.type()));
  HM_ASSIGN_OR_RETURN(spec.value, CanonicalSignalValue(spec.kind, query.value()));
  spec.max_distance = static_cast<int>(policy.pdq_max_distance);
  if (query.has_max_distance()) {
    if (query.max_distance() > static_cast<uint32_t>(policy.pdq_max_distance)) {
      return InvalidArgument("max_distance " + std::to_string(query.max_distance()) +
                             " is above this node's limit of " +
                             std::to_string(policy.pdq_max_distance));
    }
    spec.max_distance = static_cast<int>(query.max_distance());
  }
  spec.include_low_quality = query.include_low_quality();
  return spec;
}

api::MatchResponse ToMatchResponse(const MatchResult& result, const TrustStore& trust,
                                   uint64_t now_ms) {
  api::MatchResponse response;
  for (const auto& m : result.matches) *response.add_matches() = ToMatch(m, trust, now_ms);
  response.mutable_verdict()->set_action(std::string(ActionName(result.decision.action)));
  for (const auto& r : result.decision.reasons) response.mutable_verdict()->add_reasons(r);
  return response;
}

}  // namespace hashmesh
