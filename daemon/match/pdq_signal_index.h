// PdqSignalIndex: the in-memory PDQ index of the node's signals, mapping the index's dense
// handles back to record locations. Built from the store at start, then fed by the writer's
// commit listener. Thread-safety: Add from one thread (the writer); Query and size from any.
#pragma once

#include <deque>
#include <vector>

#include "common/mutex.h"
#include "common/pdq_index.h"
#include "daemon/storage/store.h"

namespace hashmesh {

class PdqSignalIndex {
 public:
  struct Hit {
    RecordLocation location;
    int distance;
  };

  // Loads every PDQ signal of the store and builds the index (writer call).
  Status Load(const Store& store);
  void Add(const RecordLocation& location, const PdqHash& hash);
  std::vector<Hit> Query(const PdqHash& query, int max_distance) const;
  size_t size() const { return index_.size(); }
  size_t MemoryBytes() const { return index_.MemoryBytes(); }

 private:
  PdqIndex index_;
  mutable SharedMutex mu_;
  std::deque<RecordLocation> locations_ GUARDED_BY(mu_);  // handle = position
};

}  // namespace hashmesh
