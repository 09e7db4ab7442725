// Which stored records are void because their author later named a compromise point: a manifest
// with compromised_after = N voids the author's records with seq > N signed under an older
// manifest (VoidedBy in common/record.h). The matcher and the API ask here; the points live in
// memory (a handful per member at most), loaded from the store at start and kept current from
// the writer's commits. Thread-safe.
#pragma once

#include <map>
#include <shared_mutex>
#include <vector>

#include "common/record.h"
#include "daemon/store.h"

namespace hashmesh {

class CompromisePoints {
 public:
  // Reads every author's manifests from the store.
  Status Load(const Store& store);
  // Writer commit listener: picks up manifest records that name a compromise point.
  void OnCommit(const std::vector<ParsedRecord>& records);
  bool IsVoid(const ParsedRecord& record) const;

 private:
  mutable std::shared_mutex mu_;
  std::map<PublicKey, std::vector<ManifestInfo>> points_;  // GUARDED_BY(mu_)
};

}  // namespace hashmesh
