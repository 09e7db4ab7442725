// In-memory compromise points of the stored feeds.
#include "daemon/compromise_points.h"

#include <mutex>

namespace hashmesh {

Status CompromisePoints::Load(const Store& store) {
  HM_ASSIGN_OR_RETURN(auto heads, store.Heads());
  std::map<PublicKey, std::vector<ManifestInfo>> points;
  for (const auto& head : heads) {
    HM_ASSIGN_OR_RETURN(FeedState feed, store.LoadFeedState(head.author));
    for (const auto& [seq, manifest] : feed.manifests) {
      if (manifest.compromised_after != 0) points[head.author].push_back(manifest);
    }
  }
  std::unique_lock lock(mu_);
  points_ = std::move(points);
  return Status::Ok();
}

void CompromisePoints::OnCommit(const std::vector<ParsedRecord>& records) {
  for (const ParsedRecord& r : records) {
    if (r.kind != RecordKind::kManifest) continue;
    // Committed records passed VerifyNextRecord: no need to check signatures again.
    auto manifest = ReadVerifiedManifest(r.body.manifest());
    if (!manifest.ok() || manifest->compromised_after == 0) continue;
    std::unique_lock lock(mu_);
    points_[r.author].push_back(*manifest);
  }
}

bool CompromisePoints::IsVoid(const ParsedRecord& record) const {
  std::shared_lock lock(mu_);
  auto it = points_.find(record.author);
  if (it == points_.end()) return false;
  for (const ManifestInfo& manifest : it->second) {
    if (VoidedBy(record, manifest)) return true;
  }
  return false;
}

}  // namespace hashmesh
