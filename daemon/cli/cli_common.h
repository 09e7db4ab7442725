// Shared pieces of the `hashmesh` CLI: global flags, socket discovery, calling the daemon, exit
// codes, input validation and small JSON text helpers. No CLI11 here (only hashmesh_main.cc
// parses flags). Functions are thread-compatible; the CLI is single-threaded except hashing.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"

namespace google::protobuf {
class Message;
class Timestamp;
}  // namespace google::protobuf

namespace hashmesh::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;        // the daemon refused, a file failed, ...
inline constexpr int kExitUsage = 2;        // bad flags or input, found before any daemon call
inline constexpr int kExitUnreachable = 3;  // nothing answers on the socket

// kUnavailable (the client's "cannot connect") -> 3, kInvalidArgument (local validation) -> 2,
// anything else -> 1.
int ExitCodeFor(const Status& status);
// Prints "hashmesh: <message>" to stderr and returns ExitCodeFor(status).
int Fail(const Status& status);
// `status` about `path`, with the path put in front unless the message starts with it already.
Status FileError(const std::string& path, const Status& status);
// The error status for answers of the daemon: carries its ErrorResponse message (or the HTTP status
// and body if it sent no ErrorResponse). Never kUnavailable nor kInvalidArgument, so exit 1.
Status DaemonError(int http_status, std::string_view body);

// Reads FILE, or stdin for "-" (named "stdin" in messages), one line at a time (without its
// newline) into `each(name, line_number, line)`. InvalidArgument if it cannot be opened.
Status ForEachInputLine(
    const std::string& path,
    const std::function<void(const std::string& name, uint32_t number, const std::string& line)>&
        each);

// Global flags, resolved.
struct Context {
  std::string socket_flag;
  std::string admin_socket_flag;
  bool json = false;
  double timeout_seconds = 10;

  std::string QuerySocket() const;
  std::string AdminSocket() const;
  std::chrono::milliseconds Timeout() const;
};

// Socket discovery: the flag, else the variable, else `local_default` if it exists, else
// `system_default`.
std::string ResolveSocket(const std::string& flag, const char* env_var,
                          const std::string& local_default, const std::string& system_default);

// Calls the daemon; returns the body of a 2xx answer. Errors: as HttpCall, or DaemonError.
Result<std::string> Get(const Context& ctx, std::string_view target);
Result<std::string> PostQuery(const Context& ctx, std::string_view target, std::string_view body);
Result<std::string> PostAdmin(const Context& ctx, std::string_view target, std::string_view body);

// Parses an answer of the daemon, ignoring fields this CLI does not know (a newer daemon).
Status ParseAnswer(std::string_view json, google::protobuf::Message* message);
// Writes one JSON document to stdout, indented, followed by a newline ("{}" if `json` is empty).
void PrintJsonDocument(std::string_view json);
// Re-indents JSON text without reinterpreting it (numbers, unknown fields and key order are kept).
std::string PrettyJson(std::string_view json);
// A JSON string literal, with quotes.
std::string JsonQuote(std::string_view text);

// ---- local input validation (before any daemon call); errors are kInvalidArgument ----

// A signal type/value as sent to the daemon: the canonical type name and value.
struct SignalInput {
  std::string type;
  std::string value;
};
// The canonical name of a type the matcher supports (pdq, md5, sha256, url; also video_md5 and
// video_sha256 from python-threatexchange).
Result<std::string> ValidateMatchType(std::string_view type);
// `match_only`: only the types the matcher supports (pdq, md5, sha256, url).
Result<SignalInput> ValidateSignal(std::string_view type, std::string_view value, bool match_only);
// A record id: 64 hex characters, returned lower-cased.
Result<std::string> ValidateRecordId(std::string_view id);
// A member id ("ed25519:<hex>" or bare hex), returned as "ed25519:<lowercase hex>".
Result<std::string> ValidateMemberId(std::string_view id);
// RFC 3339 time or a duration from now (30d, 12h), as a Timestamp.
Status ParseExpiry(std::string_view text, google::protobuf::Timestamp* out);

// ---- human output helpers ----

// "ed25519:ab12cd34.." for a member id, "ab12cd34.." for a record id.
std::string ShortId(std::string_view id);
std::string FormatTimestamp(const google::protobuf::Timestamp& ts);  // "" when unset

// "hashing 120/4000" redrawn on stderr, only when stderr is a terminal and there are enough items
// for it to matter. Thread-safe (hashing reports from worker threads).
class ProgressBar {
 public:
  static constexpr size_t kMinItems = 20;
  ProgressBar(std::string label, size_t total);
  ~ProgressBar();  // erases the line
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void Update(size_t done);

 private:
  const std::string label_;
  const size_t total_;
  const bool enabled_;
  Mutex mu_;
  std::chrono::steady_clock::time_point last_draw_ GUARDED_BY(mu_);
  bool drawn_ GUARDED_BY(mu_) = false;
};

}  // namespace hashmesh::cli
