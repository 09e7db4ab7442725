// Milliseconds since the epoch to and from google.protobuf.Timestamp, the form the JSON API and
// the peer views carry times in. Pure; thread-safe.
#pragma once

#include <cstdint>

namespace google::protobuf {
class Timestamp;
}

namespace hashmesh {

void SetTimestamp(uint64_t ms, google::protobuf::Timestamp* ts);
// 0 for a timestamp at or before the epoch.
uint64_t TimestampMs(const google::protobuf::Timestamp& ts);

}  // namespace hashmesh
