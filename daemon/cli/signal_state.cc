// Retraction and expiry state derived from exported records.
#include "daemon/cli/signal_state.h"

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

namespace {

// An expiry that is set (after the epoch) and at or before `now_ms`.
bool Passed(const google::protobuf::Timestamp& at, uint64_t now_ms) {
  if (at.seconds() <= 0) return false;
  uint64_t ms = static_cast<uint64_t>(at.seconds()) * 1000 + static_cast<uint64_t>(at.nanos()) / 1000000;
  return ms <= now_ms;
}

}  // namespace

bool SignalExpired(const api::SignalRequest& signal, uint64_t now_ms) {
  return signal.has_expires_at() && Passed(signal.expires_at(), now_ms);
}

bool NoticeExpired(const api::NoticeView& notice, uint64_t now_ms) {
  return notice.has_expires_at() && Passed(notice.expires_at(), now_ms);
}

}  // namespace hashmesh::cli
