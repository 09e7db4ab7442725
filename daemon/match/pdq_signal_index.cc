// PDQ index of stored signals.
#include "daemon/match/pdq_signal_index.h"

#include "common/log.h"

namespace hashmesh {

Status PdqSignalIndex::Load(const Store& store) {
  std::vector<std::pair<uint32_t, PdqHash>> entries;
  std::deque<RecordLocation> locations;
  HM_RETURN_IF_ERROR(store.ForEachPdqSignal([&](const RecordLocation& loc, const PdqHash& hash) {
    entries.emplace_back(static_cast<uint32_t>(locations.size()), hash);
    locations.push_back(loc);
  }));
  {
    WriterMutexLock lock(mu_);
    locations_ = std::move(locations);
  }
  return index_.Build(std::move(entries));
}

void PdqSignalIndex::Add(const RecordLocation& location, const PdqHash& hash) {
  uint32_t handle;
  {
    WriterMutexLock lock(mu_);
    handle = static_cast<uint32_t>(locations_.size());
    locations_.push_back(location);
  }
  Status s = index_.Add(handle, hash);
  if (!s.ok()) LogError("PDQ index refused a hash").Kv("error", s.ToString());
}

std::vector<PdqSignalIndex::Hit> PdqSignalIndex::Query(const PdqHash& query,
                                                       int max_distance) const {
  std::vector<PdqHit> hits = index_.Query(query, max_distance);
  std::vector<Hit> out;
  out.reserve(hits.size());
  ReaderMutexLock lock(mu_);
  for (const auto& h : hits) {
    if (h.id < locations_.size()) out.push_back({locations_[h.id], h.distance});
  }
  return out;
}

}  // namespace hashmesh
