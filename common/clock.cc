// Time helpers.
#include "common/clock.h"

#include <charconv>
#include <chrono>
#include <ctime>

namespace hashmesh {

uint64_t NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

Result<uint64_t> ParseTimeOrDuration(std::string_view text, uint64_t now_ms) {
  if (text.empty()) return InvalidArgument("empty time");
  char unit = text.back();
  uint64_t unit_ms = 0;
  switch (unit) {
    case 's': unit_ms = 1000; break;
    case 'm': unit_ms = 60 * 1000; break;
    case 'h': unit_ms = 3600 * 1000; break;
    case 'd': unit_ms = 86400 * 1000; break;
    default: break;
  }
  if (unit_ms != 0) {
    uint64_t n = 0;
    auto digits = text.substr(0, text.size() - 1);
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec == std::errc() && p == digits.data() + digits.size() && !digits.empty() &&
        n < 100ull * 365 * 86400) {
      return now_ms + n * unit_ms;
    }
  }
  std::tm tm{};
  std::string s(text);
  const char* end = strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end == nullptr) end = strptime(s.c_str(), "%Y-%m-%d", &tm);
  if (end == nullptr || (*end != '\0' && std::string_view(end) != "Z")) {
    return InvalidArgument("'" + s +
                           "' is neither an RFC 3339 UTC time (2027-01-31T00:00:00Z) nor a "
                           "duration such as 30d, 12h, 90m");
  }
  time_t t = timegm(&tm);
  if (t < 0) return InvalidArgument("time before 1970: " + s);
  return static_cast<uint64_t>(t) * 1000;
}

std::string FormatRfc3339(uint64_t ms) {
  time_t t = static_cast<time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace hashmesh
