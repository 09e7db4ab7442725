// Conversions between milliseconds and google.protobuf.Timestamp.
#include "common/proto_time.h"

#include <google/protobuf/timestamp.pb.h>

namespace hashmesh {

void SetTimestamp(uint64_t ms, google::protobuf::Timestamp* ts) {
  ts->set_seconds(static_cast<int64_t>(ms / 1000));
  ts->set_nanos(static_cast<int32_t>(ms % 1000) * 1000000);
}

uint64_t TimestampMs(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() < 0) return 0;  // 0.5 s after the epoch is 500, not unset
  return static_cast<uint64_t>(ts.seconds()) * 1000 + static_cast<uint64_t>(ts.nanos()) / 1000000;
}

}  // namespace hashmesh
