// stderr logger with syslog-level prefixes.
#include "common/log.h"

#include <unistd.h>

#include <atomic>

namespace hashmesh {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

bool NeedsQuotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\n' || c == '\t') return true;
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
  if (!NeedsQuotes(value)) {
    text_ += value;
    return *this;
  }
  text_ += '"';
  for (char c : value) {
    if (c == '"' || c == '\\') text_ += '\\';
    if (c == '\n') {
      text_ += "\\n";
      continue;
    }
    text_ += c;
  }
  text_ += '"';
  return *this;
}

}  // namespace hashmesh
