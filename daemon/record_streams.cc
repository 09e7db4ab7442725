// Live record streams.
#include "daemon/record_streams.h"

#include <string>

#include "common/json.h"
#include "daemon/api/http_server.h"
#include "daemon/api/record_view.h"
#include "keys/trust_source.h"
#include "proto/api.pb.h"

namespace hashmesh {

void RecordStreams::Add(std::shared_ptr<StreamChannel> channel) {
  MutexLock lock(mu_);
  streams_.push_back(std::move(channel));
}

void RecordStreams::Publish(const std::vector<ParsedRecord>& records, const TrustSource& trust) {
  MutexLock lock(mu_);
  if (streams_.empty()) return;
  auto trust_now = trust.Trust();
  std::vector<std::string> lines;
  lines.reserve(records.size());
  for (const auto& r : records) lines.push_back(ToJson(ToRecordView(r, trust_now.get())));
  std::erase_if(streams_, [&](std::weak_ptr<StreamChannel>& weak) {
    auto channel = weak.lock();
    if (!channel) return true;
    for (const auto& line : lines) {
      if (!channel->Push(line)) return true;
    }
    return false;
  });
}

void RecordStreams::CloseAll() {
  MutexLock lock(mu_);
  for (auto& weak : streams_) {
    if (auto ch = weak.lock()) ch->Close();
  }
  streams_.clear();
}

}  // namespace hashmesh
