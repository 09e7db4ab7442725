// JSON <-> protobuf for the local API and the CLIs' --json output (protobuf's own JSON mapping,
// proto field names, all fields printed). Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace google::protobuf {
class Message;
}

namespace hashmesh {

// Compact single-line JSON (API bodies) or indented (CLI output).
std::string ToJson(const google::protobuf::Message& message, bool pretty = false);
// Unknown fields are an error, so typos in requests are reported rather than ignored.
Status FromJson(std::string_view json, google::protobuf::Message* message);

}  // namespace hashmesh
