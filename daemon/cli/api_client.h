// Blocking HTTP/1.1 client for hashmeshd's unix sockets, used by the `hashmesh` CLI and by tests:
// one request per connection, with a deadline; and a reader for the NDJSON stream.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace hashmesh {

struct ClientResponse {
  int status = 0;
  std::string content_type;
  std::string body;
};

// Which flag and variable to name when the socket cannot be reached.
inline constexpr std::string_view kQuerySocketHint = "--socket or $HASHMESH_SOCKET";
inline constexpr std::string_view kAdminSocketHint = "--admin-socket or $HASHMESH_ADMIN_SOCKET";

// Sends one request (a JSON body if not empty) and reads the whole answer, whatever its status.
// Errors: kUnavailable "cannot connect to hashmeshd at PATH: <reason> (is the daemon running? use
// <hint>)" when nothing listens there or access is refused; kIoError when no complete answer came
// within `timeout` (which covers the whole exchange) or the connection broke. Thread-safe.
Result<ClientResponse> HttpCall(const std::string& socket_path, std::string_view method,
                                std::string_view target, std::string_view body,
                                std::chrono::milliseconds timeout,
                                std::string_view socket_hint = kQuerySocketHint);

// GET `target` and, if the answer is a 2xx chunked stream, calls `on_line` for each line (without
// its '\n') as it arrives, until the server ends the stream (ok) or `on_line` returns false (ok).
// Blocks without a deadline once connected. A non-2xx answer is returned as a ClientResponse with
// its body; a 2xx returns an empty body. Errors as HttpCall. Thread-safe.
Result<ClientResponse> HttpStreamLines(const std::string& socket_path, std::string_view target,
                                       const std::function<bool(std::string_view line)>& on_line,
                                       std::chrono::milliseconds connect_timeout,
                                       std::string_view socket_hint = kQuerySocketHint);

}  // namespace hashmesh
