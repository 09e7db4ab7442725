// Retraction and expiry state derived from exported records.
#include "daemon/signal_state.h"

#include <map>

namespace hashmesh::cli {

std::set<std::string> RetractedIds(const std::vector<api::RecordView>& records) {
  std::map<std::string, std::string> author_of;  // record id -> author
  for (const auto& r : records) author_of[r.id()] = r.author();
  std::set<std::string> retracted;
  for (const auto& r : records) {
    if (r.kind() != "retraction" || r.voided()) continue;  // a void retraction withdraws nothing
    auto it = author_of.find(r.retraction().target());
    if (it != author_of.end() && it->second == r.author()) retracted.insert(it->first);
  }
  return retracted;
}

bool SignalExpired(const api::SignalRequest& signal, uint64_t now_ms) {
  if (!signal.has_expires_at() || signal.expires_at().seconds() <= 0) return false;
  uint64_t ms = static_cast<uint64_t>(signal.expires_at().seconds()) * 1000 +
                static_cast<uint64_t>(signal.expires_at().nanos()) / 1000000;
  return ms <= now_ms;
}

}  // namespace hashmesh::cli
