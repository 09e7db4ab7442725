// Matching and the context of each match.
#include "daemon/match/matcher.h"

#include <algorithm>
#include <optional>
#include <set>

#include "common/record_text.h"

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

Result<MatchResult> Matcher::Match(const MatchSpec& spec, const TrustStore& trust,
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

  MatchResult result;
  std::vector<MatchFacts> facts;
  for (const auto& [loc, distance] : found) {
    MatchedSignal match;
    HM_ASSIGN_OR_RETURN(bool keep, Describe(loc, distance, spec, trust, policy, now_ms, &match));
    if (!keep) continue;
    facts.push_back(match.facts);
    result.matches.push_back(std::move(match));
  }
  result.decision = Decide(policy, facts);
  return result;
}

Result<Matcher::ReferenceState> Matcher::StateOfReference(const ParsedRecord& ref) const {
  if (compromise_ != nullptr && compromise_->IsVoid(ref)) return ReferenceState::kVoid;
  HM_ASSIGN_OR_RETURN(auto fork_seq, store_->ForkSeq(ref.author));
  if (fork_seq.has_value() && *fork_seq <= ref.seq()) return ReferenceState::kAuthorForked;
  // Withdrawn by its own author, with a retraction that is itself not void.
  HM_ASSIGN_OR_RETURN(auto refs, store_->FindRefs(ref.id));
  for (const auto& loc : refs) {
    // Only its own author can withdraw it: others' records about it are not even read, so a
    // member who piles opinions onto an endorsement does not make every match read them.
    if (loc.author != ref.author) continue;
    HM_ASSIGN_OR_RETURN(auto bytes, store_->GetRecord(loc));
    if (!bytes) continue;
    HM_ASSIGN_OR_RETURN(ParsedRecord other, ParseRecordBytes(*bytes));
    if (other.kind != RecordKind::kRetraction) continue;
    if (compromise_ != nullptr && compromise_->IsVoid(other)) continue;
    return ReferenceState::kRetracted;
  }
  return ReferenceState::kCurrent;
}

Result<bool> Matcher::Describe(const RecordLocation& loc, int distance, const MatchSpec& spec,
                               const TrustStore& trust, const PolicyConfig& policy,
                               uint64_t now_ms, MatchedSignal* match) const {
  HM_ASSIGN_OR_RETURN(auto bytes, store_->GetRecord(loc));
  if (!bytes) return false;  // cannot happen: index and store are written together
  HM_ASSIGN_OR_RETURN(ParsedRecord record, ParseRecordBytes(*bytes));
  const pb::Signal* matched = MatchedFingerprint(record, spec, distance);
  if (matched == nullptr) return false;
  const bool is_notice = record.kind == RecordKind::kNotice;
  SignalStateFacts& state = match->state_facts;
  state.voided = compromise_ != nullptr && compromise_->IsVoid(record);
  if (DeriveSignalState(state, now_ms) == SignalState::kVoid) return false;  // counts for nothing
  const pb::Signal& signal = *matched;
  if (spec.kind == SignalKind::kPdq && !spec.include_low_quality && signal.has_quality() &&
      signal.quality() < static_cast<uint32_t>(kPdqMinQuality)) {
    return false;
  }
  const TrustMember* author = trust.FindByKey(record.author);
  if (author == nullptr) return false;  // removed from the trust store since: not trusted now

  match->signal = signal;
  match->in_notice = is_notice;
  match->distance = distance;
  match->query_kind = spec.kind;
  match->author_name = author->name;
  match->author_role = author->roles.empty() ? "" : std::string(RoleName(author->roles.front()));
  state.expires_at_ms = signal.expires_at_ms();
  if (is_notice) state.notice_expires_at_ms = record.body.notice().expires_at_ms();

  MatchFacts* facts = &match->facts;
  facts->signal = std::string(SignalKindName(static_cast<SignalKind>(signal.type()))) +
                  (is_notice ? " in notice " : " ") + ToHex(record.id).substr(0, 12) + " by " +
                  author->name;
  facts->author_platform = author->HasRole(Role::kPlatform);
  facts->author_authority = author->HasRole(Role::kAuthority);
  facts->ignored = IsIgnored(policy, record.author);
  HM_ASSIGN_OR_RETURN(auto fork_seq, store_->ForkSeq(record.author));
  facts->forked = fork_seq.has_value() && *fork_seq <= record.seq();
  match->author_forked = facts->forked;
  facts->labels.assign(signal.labels().begin(), signal.labels().end());
  std::set<PublicKey> supporters, disputers;
  if (facts->author_platform) {
    supporters.insert(record.author);
    facts->platform_supporters.push_back(author->name);
  }

  auto add_notice = [&](const ParsedRecord& notice_record, const TrustMember& notice_author,
                        bool retracted) {
    match->notices.push_back({notice_record, retracted});
    const pb::Notice& n = notice_record.body.notice();
    if (retracted) return;
    if (!ExpiryPassed(n.expires_at_ms(), now_ms) && notice_author.HasRole(Role::kAuthority)) {
      facts->authority_notices.push_back(
          "notice by " + n.issuing_body() + " (" + notice_author.name + ", " + n.jurisdiction() +
          ", " + n.legal_basis() + ") requests " +
          std::string(ActionText(n.requested_action())));
    }
  };
  // A fingerprint inside a notice: the notice is its own first notice (retracted, the whole
  // record is, and the state says so).
  if (is_notice) add_notice(record, *author, /*retracted=*/false);

  HM_ASSIGN_OR_RETURN(auto refs, store_->FindRefs(record.id));
  OpinionTally& counts = match->opinions;
  for (const auto& ref_loc : refs) {
    HM_ASSIGN_OR_RETURN(auto ref_bytes, store_->GetRecord(ref_loc));
    if (!ref_bytes) continue;
    HM_ASSIGN_OR_RETURN(ParsedRecord ref, ParseRecordBytes(*ref_bytes));
    const TrustMember* ref_author = trust.FindByKey(ref.author);
    if (ref_author == nullptr || IsIgnored(policy, ref.author)) continue;
    HM_ASSIGN_OR_RETURN(ReferenceState ref_state, StateOfReference(ref));
    // A reference counts only while it is current (docs/design-notes.md, "Current references").
    const bool current = ref_state == ReferenceState::kCurrent;
    const bool platform = ref_author->HasRole(Role::kPlatform);
    switch (ref.kind) {
      case RecordKind::kRetraction:
        if (Withdraws(/*voided=*/!current, ref.author == record.author)) state.retracted = true;
        break;
      case RecordKind::kOpinion:
        if (!current) break;
        switch (ref.body.opinion().stance()) {
          case pb::STANCE_ENDORSE:
            ++counts.endorse;
            if (platform && supporters.insert(ref.author).second) {
              ++counts.platform_endorse;
              facts->platform_supporters.push_back(ref_author->name);
            }
            break;
          case pb::STANCE_DISPUTE:
            ++counts.dispute;
            if (platform && disputers.insert(ref.author).second) {
              ++counts.platform_dispute;
              facts->platform_disputers.push_back(ref_author->name);
            }
            break;
          case pb::STANCE_SEEN: ++counts.seen; break;
          case pb::STANCE_ACTED: ++counts.acted; break;
          default: break;
        }
        break;
      case RecordKind::kNotice:
        // A void notice, or one by a forked author, is not listed; a retracted one is, marked.
        if (ref_state == ReferenceState::kCurrent || ref_state == ReferenceState::kRetracted) {
          add_notice(ref, *ref_author, ref_state == ReferenceState::kRetracted);
        }
        break;
      default: break;
    }
  }
  // A platform that disputes cannot also count as support.
  std::erase_if(facts->platform_supporters, [&](const std::string& name) {
    return std::find(facts->platform_disputers.begin(), facts->platform_disputers.end(), name) !=
           facts->platform_disputers.end();
  });
  match->state = DeriveSignalState(state, now_ms);
  facts->state = match->state;
  match->record = std::move(record);
  return true;
}

}  // namespace hashmesh
