// Retraction and state derived from exported records.
#include "daemon/cli/signal_state.h"

#include <map>

#include "common/proto_time.h"

namespace hashmesh::cli {

std::set<std::string> RetractedIds(const std::vector<api::RecordView>& records) {
  std::map<std::string, std::string> author_of;  // record id -> author
  for (const auto& r : records) author_of[r.id()] = r.author();
  std::set<std::string> retracted;
  for (const auto& r : records) {
    if (r.kind() != "retraction") continue;
    auto it = author_of.find(r.retraction().target());
    if (it != author_of.end() && Withdraws(r.voided(), it->second == r.author())) {
      retracted.insert(it->first);
    }
  }
  return retracted;
}

SignalStateFacts FactsOf(const api::RecordView& record, const std::set<std::string>& retracted) {
  SignalStateFacts facts;
  facts.voided = record.voided();
  facts.retracted = retracted.count(record.id()) > 0;
  if (record.kind() == "signal") {
    facts.expires_at_ms = TimestampMs(record.signal().expires_at());
  } else if (record.kind() == "notice") {
    facts.notice_expires_at_ms = TimestampMs(record.notice().expires_at());
  }
  return facts;
}

SignalState StateOf(const api::RecordView& record, const std::set<std::string>& retracted,
                    uint64_t now_ms) {
  return DeriveSignalState(FactsOf(record, retracted), now_ms);
}

}  // namespace hashmesh::cli
