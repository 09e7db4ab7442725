// stderr logger with syslog-level prefixes.
#include "common/log.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>

namespace hashmesh {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

bool IsControl(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

bool NeedsQuotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || IsControl(c)) return true;
  }
  return false;
}

}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load()); }
bool LogEnabled(LogLevel level) { return static_cast<int>(level) <= g_level.load(); }

bool ParseLogLevel(std::string_view text, LogLevel* level) {
  if (text == "error") *level = LogLevel::kError;
  else if (text == "warning" || text == "warn") *level = LogLevel::kWarning;
  else if (text == "notice") *level = LogLevel::kNotice;
  else if (text == "info") *level = LogLevel::kInfo;
  else if (text == "debug") *level = LogLevel::kDebug;
  else return false;
  return true;
}

void WriteLogLine(LogLevel level, std::string_view line) {
  std::string out = "<" + std::to_string(static_cast<int>(level)) + ">";
  out += line;
  out += '\n';
  // One write per line keeps lines from different threads whole.
  ssize_t ignored = write(STDERR_FILENO, out.data(), out.size());
  (void)ignored;
}

LogLine::LogLine(LogLevel level, std::string_view message)
    : level_(level), enabled_(LogEnabled(level)) {
  if (enabled_) text_ = message;
}

LogLine::~LogLine() {
  if (enabled_) WriteLogLine(level_, text_);
}

LogLine& LogLine::KvString(std::string_view key, std::string_view value) {
  if (!enabled_) return *this;
  text_ += ' ';
  text_ += key;
  text_ += '=';
  if (!NeedsQuotes(value) && value.size() <= kMaxLogValueBytes) {
    text_ += value;
    return *this;
  }
  // Values can come from peers (a node name, an error text): a control character could forge a
  // line or a terminal escape, and a long value could flood the journal.
  const size_t shown = std::min(value.size(), kMaxLogValueBytes);
  text_ += '"';
  for (char c : value.substr(0, shown)) {
    if (c == '"' || c == '\\') {
      text_ += '\\';
      text_ += c;
    } else if (c == '\n') {
      text_ += "\\n";
    } else if (c == '\t') {
      text_ += "\\t";
    } else if (IsControl(c)) {
      static constexpr char kHex[] = "0123456789abcdef";
      const auto u = static_cast<unsigned char>(c);
      text_ += "\\x";
      text_ += kHex[u >> 4];
      text_ += kHex[u & 15];
    } else {
      text_ += c;
    }
  }
  if (shown < value.size()) text_ += "...(" + std::to_string(value.size()) + " bytes)";
  text_ += '"';
  return *this;
}

}  // namespace hashmesh
