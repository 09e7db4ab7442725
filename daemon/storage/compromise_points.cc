// In-memory compromise points of the stored feeds.
#include "daemon/storage/compromise_points.h"

#include <algorithm>

#include "common/mutex.h"

namespace hashmesh {

Status CompromisePoints::Load(const Store& store) {
  HM_ASSIGN_OR_RETURN(auto heads, store.Heads());
  std::map<PublicKey, Points> points;
  for (const auto& head : heads) {
    HM_ASSIGN_OR_RETURN(FeedState feed, store.LoadFeedState(head.author));
    for (const auto& [seq, manifest] : feed.manifests) {  // by increasing seq
      if (manifest.compromised_after != 0) points[head.author].Add(seq, manifest.compromised_after);
    }
  }
  WriterMutexLock lock(mu_);
  points_ = std::move(points);
  return Status::Ok();
}

void CompromisePoints::OnCommit(const std::vector<ParsedRecord>& records) {
  for (const ParsedRecord& r : records) {
    if (r.kind != RecordKind::kManifest) continue;
    // Committed records passed AcceptRecord: no need to check signatures again.
    auto manifest = ReadVerifiedManifest(r.body.manifest());
    if (!manifest.ok() || manifest->compromised_after == 0) continue;
    WriterMutexLock lock(mu_);
    points_[r.author].Add(manifest->seq, manifest->compromised_after);
  }
}

void CompromisePoints::Points::Add(uint32_t seq, uint64_t compromised_after) {
  // Manifests commit in increasing seq, so this is the last point; earlier suffix minima only
  // drop, and stop dropping at the first one already at or below it.
  manifest_seq.push_back(seq);
  suffix_min_after.push_back(compromised_after);
  for (size_t i = suffix_min_after.size() - 1; i-- > 0 && suffix_min_after[i] > compromised_after;) {
    suffix_min_after[i] = compromised_after;
  }
}

bool CompromisePoints::IsVoid(const ParsedRecord& record) const {
  // Same rule as VoidedBy (common/record.h), over all of the author's points at once.
  if (record.kind == RecordKind::kManifest) return false;
  ReaderMutexLock lock(mu_);
  auto it = points_.find(record.author);
  if (it == points_.end()) return false;
  const Points& p = it->second;
  auto first_later = std::upper_bound(p.manifest_seq.begin(), p.manifest_seq.end(),
                                      record.body.manifest_seq());
  if (first_later == p.manifest_seq.end()) return false;
  return record.seq() > p.suffix_min_after[first_later - p.manifest_seq.begin()];
}

}  // namespace hashmesh
