// Matching and the context of each match.
#include "daemon/match/matcher.h"

#include <algorithm>
#include <optional>
#include <set>

#include "daemon/match/record_view.h"

namespace hashmesh {
namespace {

bool IsIgnored(const PolicyConfig& policy, const PublicKey& key) {
  const std::string text = KeyToText(key);
  return std::find(policy.ignore_members.begin(), policy.ignore_members.end(), text) !=
         policy.ignore_members.end();
}

// The fingerprint of `record` that the query found: a signal record's own, or the one inline in a
// notice that equals the query (exact kinds) or lies at `distance` from it (PDQ). Null for
// records that carry none (the index and the store are written together, so only by a bug).
const pb::Signal* MatchedFingerprint(const ParsedRecord& record, const MatchSpec& spec,
                                     int distance) {
  // A signal record is only found by its own fingerprint.
  if (record.kind == RecordKind::kSignal) return &record.body.signal();
  if (record.kind != RecordKind::kNotice) return nullptr;
  std::optional<PdqHash> query;
  if (spec.kind == SignalKind::kPdq) {
    if (auto q = PdqHash::FromHex(spec.value); q.ok()) query = *q;
  }
  for (const pb::Signal* s : Fingerprints(record.body)) {
    if (static_cast<SignalKind>(s->type()) != spec.kind) continue;
    if (!query) {
      if (s->value() == spec.value) return s;
      continue;
    }
    auto hash = PdqHash::FromHex(s->value());
    if (hash.ok() && HammingDistance(*hash, *query) == distance) return s;
  }
  return nullptr;
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

Result<api::MatchResponse> Matcher::Match(const MatchSpec& spec, const TrustStore& trust,
                                          const PolicyConfig& policy, uint64_t now_ms) const {
  std::vector<std::pair<RecordLocation, int>> found;
  if (spec.kind == SignalKind::kPdq) {
    HM_ASSIGN_OR_RETURN(PdqHash query, PdqHash::FromHex(spec.value));
    for (const auto& hit : index_->Query(query, spec.max_distance)) {
      found.emplace_back(hit.location, hit.distance);
    }
  } else {
    HM_ASSIGN_OR_RETURN(auto locations, store_->FindSignals(spec.kind, spec.value));
    for (const auto& loc : locations) found.emplace_back(loc, 0);
  }
  // Nearest first, then oldest first, so answers are stable.
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    if (a.second != b.second) return a.second < b.second;
    if (a.first.author != b.first.author) return a.first.author < b.first.author;
    return a.first.seq < b.first.seq;
  });
  // A notice with several near fingerprints is found once per fingerprint: keep the nearest.
  std::set<std::pair<PublicKey, uint64_t>> seen;
  std::erase_if(found, [&](const auto& f) {
    return !seen.emplace(f.first.author, f.first.seq).second;
  });

  api::MatchResponse response;
  std::vector<MatchFacts> facts;
  for (const auto& [loc, distance] : found) {
    api::Match match;
    MatchFacts f;
    HM_ASSIGN_OR_RETURN(bool keep, Describe(loc, distance, spec, trust, policy, now_ms, &match, &f));
    if (!keep) continue;
    *response.add_matches() = std::move(match);
    facts.push_back(std::move(f));
  }
  Decision d = Decide(policy, facts);
  response.mutable_verdict()->set_action(std::string(ActionName(d.action)));
  for (auto& r : d.reasons) response.mutable_verdict()->add_reasons(std::move(r));
  return response;
}

Result<bool> Matcher::Describe(const RecordLocation& loc, int distance, const MatchSpec& spec,
                               const TrustStore& trust, const PolicyConfig& policy,
                               uint64_t now_ms, api::Match* match, MatchFacts* facts) const {
  HM_ASSIGN_OR_RETURN(auto bytes, store_->GetRecord(loc));
  if (!bytes) return false;  // cannot happen: index and store are written together
  HM_ASSIGN_OR_RETURN(ParsedRecord record, ParseRecordBytes(*bytes));
  const pb::Signal* matched = MatchedFingerprint(record, spec, distance);
  if (matched == nullptr) return false;
  if (compromise_ != nullptr && compromise_->IsVoid(record)) return false;
  const pb::Signal& signal = *matched;
  const bool is_notice = record.kind == RecordKind::kNotice;
  if (spec.kind == SignalKind::kPdq && !spec.include_low_quality && signal.has_quality() &&
      signal.quality() < static_cast<uint32_t>(kPdqMinQuality)) {
    return false;
  }
  const TrustMember* author = trust.FindByKey(record.author);
  if (author == nullptr) return false;  // removed from the trust store since: not trusted now

  match->set_id(ToHex(record.id));
  match->set_author(KeyToText(record.author));
  match->set_author_name(author->name);
  match->set_role(author->roles.empty() ? "" : std::string(RoleName(author->roles.front())));
  match->set_type(std::string(SignalKindName(static_cast<SignalKind>(signal.type()))));
  match->set_value(signal.value());
  match->set_distance(static_cast<uint32_t>(distance));
  for (const auto& l : signal.labels()) match->add_labels(l);
  match->set_seq(static_cast<uint32_t>(record.seq()));
  SetTimestamp(record.body.created_at_ms(), match->mutable_created_at());
  if (signal.has_quality()) match->set_quality(signal.quality());
  match->set_note(signal.note());
  auto expired = [now_ms](uint64_t at) { return at != 0 && at <= now_ms; };
  match->set_expired(expired(signal.expires_at_ms()) ||
                     (is_notice && expired(record.body.notice().expires_at_ms())));
  match->set_query_type(std::string(SignalKindName(spec.kind)));
  match->set_record_kind(is_notice ? "notice" : "signal");

  facts->signal = match->type() + (is_notice ? " in notice " : " ") + match->id().substr(0, 12) +
                  " by " + author->name;
  facts->author_platform = author->HasRole(Role::kPlatform);
  facts->author_authority = author->HasRole(Role::kAuthority);
  facts->ignored = IsIgnored(policy, record.author);
  facts->expired = match->expired();
  HM_ASSIGN_OR_RETURN(auto fork_seq, store_->ForkSeq(record.author));
  facts->forked = fork_seq.has_value() && *fork_seq <= record.seq();
  match->set_author_forked(facts->forked);
  facts->labels.assign(signal.labels().begin(), signal.labels().end());
  std::set<PublicKey> supporters, disputers;
  if (facts->author_platform) {
    supporters.insert(record.author);
    facts->platform_supporters.push_back(author->name);
  }

  auto add_notice = [&](const ParsedRecord& notice_record, const TrustMember& notice_author) {
    api::NoticeView notice = ToNoticeView(notice_record, &trust, now_ms);
    if (!notice.expired() && notice_author.HasRole(Role::kAuthority)) {
      facts->authority_notices.push_back(
          "notice by " + notice.issuing_body() + " (" + notice_author.name + ", " +
          notice.jurisdiction() + ", " + notice.legal_basis() + ") requests " + notice.action());
    }
    *match->add_notices() = std::move(notice);
  };
  // A fingerprint inside a notice: the notice is its own first notice.
  if (is_notice) add_notice(record, *author);

  HM_ASSIGN_OR_RETURN(auto refs, store_->FindRefs(record.id));
  api::OpinionCounts* counts = match->mutable_opinions();
  for (const auto& ref_loc : refs) {
    HM_ASSIGN_OR_RETURN(auto ref_bytes, store_->GetRecord(ref_loc));
    if (!ref_bytes) continue;
    HM_ASSIGN_OR_RETURN(ParsedRecord ref, ParseRecordBytes(*ref_bytes));
    if (compromise_ != nullptr && compromise_->IsVoid(ref)) continue;
    const TrustMember* ref_author = trust.FindByKey(ref.author);
    if (ref_author == nullptr || IsIgnored(policy, ref.author)) continue;
    const bool platform = ref_author->HasRole(Role::kPlatform);
    switch (ref.kind) {
      case RecordKind::kRetraction:
        if (ref.author == record.author) {
          match->set_retracted(true);
          facts->retracted = true;
        }
        break;
      case RecordKind::kOpinion:
        switch (ref.body.opinion().stance()) {
          case pb::STANCE_ENDORSE:
            counts->set_endorse(counts->endorse() + 1);
            if (platform && supporters.insert(ref.author).second) {
              counts->set_platform_endorse(counts->platform_endorse() + 1);
              facts->platform_supporters.push_back(ref_author->name);
            }
            break;
          case pb::STANCE_DISPUTE:
            counts->set_dispute(counts->dispute() + 1);
            if (platform && disputers.insert(ref.author).second) {
              counts->set_platform_dispute(counts->platform_dispute() + 1);
              facts->platform_disputers.push_back(ref_author->name);
            }
            break;
          case pb::STANCE_SEEN: counts->set_seen(counts->seen() + 1); break;
          case pb::STANCE_ACTED: counts->set_acted(counts->acted() + 1); break;
          default: break;
        }
        break;
      case RecordKind::kNotice: add_notice(ref, *ref_author); break;
      default: break;
    }
  }
  // A platform that disputes cannot also count as support.
  std::erase_if(facts->platform_supporters, [&](const std::string& name) {
    return std::find(facts->platform_disputers.begin(), facts->platform_disputers.end(), name) !=
           facts->platform_disputers.end();
  });
  return true;
}

}  // namespace hashmesh
