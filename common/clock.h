// Wall-clock helpers in milliseconds since the Unix epoch, and RFC 3339 / duration parsing for
// command-line expiry times. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace hashmesh {

uint64_t NowMs();
// Accepts RFC 3339 ("2027-01-31T00:00:00Z") or a duration from now ("30d", "12h", "90m", "45s").
Result<uint64_t> ParseTimeOrDuration(std::string_view text, uint64_t now_ms);
std::string FormatRfc3339(uint64_t ms);

}  // namespace hashmesh
