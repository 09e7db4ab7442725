// Logging to stderr, one line per event, with a "<N>" syslog-level prefix so journald keeps the
// level, then a message and key=value fields:  <6>peer connected addr=127.0.0.1:7000 member=ed25519:..
// Thread-safe: each line is written with a single write(2).
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace hashmesh {

enum class LogLevel { kError = 3, kWarning = 4, kNotice = 5, kInfo = 6, kDebug = 7 };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
bool LogEnabled(LogLevel level);
// Parses "error", "warning", "notice", "info", "debug".
bool ParseLogLevel(std::string_view text, LogLevel* level);
void WriteLogLine(LogLevel level, std::string_view line);

// Builds one line: LogLine(kInfo, "peer connected").Kv("addr", a).Kv("member", m);
// the line is written when the object is destroyed.
class LogLine {
 public:
  LogLine(LogLevel level, std::string_view message);
  ~LogLine();
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;

  template <typename T>
  LogLine& Kv(std::string_view key, const T& value) {
    if (!enabled_) return *this;
    std::ostringstream os;
    os << value;
    return KvString(key, os.str());
  }
  // Quotes the value when needed; control characters are escaped (\n, \t, \xNN) and a value
  // over kMaxLogValueBytes is cut, with its length said.
  LogLine& KvString(std::string_view key, std::string_view value);
  // The line as it will be written (without the level prefix); empty when the level is off.
  const std::string& text() const { return text_; }

  static constexpr size_t kMaxLogValueBytes = 1024;

 private:
  LogLevel level_;
  bool enabled_;
  std::string text_;
};

inline LogLine LogError(std::string_view m) { return LogLine(LogLevel::kError, m); }
inline LogLine LogWarning(std::string_view m) { return LogLine(LogLevel::kWarning, m); }
inline LogLine LogNotice(std::string_view m) { return LogLine(LogLevel::kNotice, m); }
inline LogLine LogInfo(std::string_view m) { return LogLine(LogLevel::kInfo, m); }
inline LogLine LogDebug(std::string_view m) { return LogLine(LogLevel::kDebug, m); }

}  // namespace hashmesh
