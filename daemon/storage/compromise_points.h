// Which stored records are void because their author later named a compromise point: a manifest
// with compromised_after = N voids the author's records with seq > N signed under an older
// manifest (VoidedBy in common/record.h). The matcher and the API ask here; the points live in
// memory, loaded from the store at start and kept current from the writer's commits; a check
// costs O(log points of the author) however many rotations a member published. Thread-safe.
#pragma once

#include <map>
#include <vector>

#include "common/mutex.h"
#include "common/record.h"
#include "daemon/storage/store.h"

namespace hashmesh {

class CompromisePoints {
 public:
  // Reads every author's manifests from the store.
  Status Load(const Store& store);
  // Writer commit listener: picks up manifest records that name a compromise point.
  void OnCommit(const std::vector<ParsedRecord>& records);
  bool IsVoid(const ParsedRecord& record) const;

 private:
  // One author's points in feed order (so by increasing manifest seq), with the smallest
  // compromised_after of each point and all later ones: a record under manifest seq S is void
  // iff some point with a manifest seq above S has compromised_after below the record's seq,
  // i.e. iff the suffix minimum at the first such point is below it.
  struct Points {
    std::vector<uint32_t> manifest_seq;
    std::vector<uint64_t> suffix_min_after;
    void Add(uint32_t seq, uint64_t compromised_after);
  };
  mutable SharedMutex mu_;
  std::map<PublicKey, Points> points_ GUARDED_BY(mu_);
};

}  // namespace hashmesh
