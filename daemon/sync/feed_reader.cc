// Store reads for sync.
#include "daemon/sync/feed_reader.h"

#include "proto/records.pb.h"

namespace hashmesh {

std::optional<RecordId> StoreFeedReader::RecordIdAt(const PublicKey& author, uint64_t seq) const {
  auto bytes = store_->GetRecord({author, seq});
  pb::SignedRecord stored;
  if (!bytes.ok() || !bytes->has_value() || !stored.ParseFromString(**bytes)) return std::nullopt;
  return ComputeRecordId(stored.body());
}

std::optional<ManifestInfo> StoreFeedReader::LatestManifest(const PublicKey& author) const {
  auto feed = store_->LoadFeedState(author);
  if (!feed.ok() || feed->manifests.empty()) return std::nullopt;
  return feed->manifests.rbegin()->second;
}

}  // namespace hashmesh
