// HTTP/1.1 server on a unix socket for the local API (query and admin sockets), or on a TCP port
// (/metrics): one request at a time per connection, asynchronous handlers, bounded NDJSON streams.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"

namespace hashmesh {

// The connecting process, from SO_PEERCRED at accept time (unix sockets only; -1 over TCP).
struct PeerCredentials {
  pid_t pid = -1;
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
};

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent: "/v1/feeds/ed25519:ab..?from=3"
  std::string body;
  PeerCredentials peer;
};

// A server-push body: lines that a producer on any thread feeds into a bounded queue and that the
// server writes out as HTTP chunks. A client too slow to keep up is cut off when the queue is full
// rather than buffered without bound. Thread-safe.
class StreamChannel {
 public:
  static constexpr size_t kDefaultCapacity = 1024;

  explicit StreamChannel(size_t capacity = kDefaultCapacity) : capacity_(capacity) {}
  StreamChannel(const StreamChannel&) = delete;
  StreamChannel& operator=(const StreamChannel&) = delete;

  // Queues one line (a trailing '\n' is added if missing). Returns false, and drops the line, once
  // the stream is over: the client went away, the queue overflowed (the client is then
  // disconnected), the server stopped, or Close() was called. A producer drops the channel then.
  bool Push(std::string line);
  // Ends the stream: lines already queued are still written, then the response ends.
  void Close();
  // True once Push would return false.
  bool done() const;

  // ---- for HttpServer ----
  enum class State { kOpen, kClosed, kCancelled };
  // Sets the function called (on the producer's thread, outside the lock) when lines or the end
  // arrive after Take() found nothing to do. Must not block.
  void Attach(std::function<void()> wake);
  // Moves all queued lines into `out` (which it clears). When it returns kOpen with nothing, the
  // wake function is armed for the next Push or Close.
  State Take(std::vector<std::string>* out);
  // The client is gone or the server stops: drop queued lines, refuse further pushes, forget the
  // wake function.
  void Cancel();

 private:
  const size_t capacity_;
  mutable Mutex mu_;
  std::deque<std::string> lines_ GUARDED_BY(mu_);
  bool closed_ GUARDED_BY(mu_) = false;
  bool cancelled_ GUARDED_BY(mu_) = false;
  bool armed_ GUARDED_BY(mu_) = false;
  std::function<void()> wake_ GUARDED_BY(mu_);
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // If set, the response is a chunked stream of the channel's lines (content_type is used, e.g.
  // "application/x-ndjson") and `body` is ignored; the connection closes when the stream ends.
  std::shared_ptr<StreamChannel> stream;
};

// `{"error": {"code": code, "message": message}}` (api.ErrorResponse) with the given status.
HttpResponse JsonErrorResponse(int http_status, std::string_view code, std::string_view message);
// The same for a non-ok Status, with a fitting HTTP status (invalid_argument 400, not_found 404,
// permission_denied 403, already_exists / failed_precondition 409, resource_exhausted 429,
// unavailable 503, others 500) and StatusCodeName as the code.
HttpResponse ErrorResponseFor(const Status& status);

// Delivers the response for one request. Call exactly once, from any thread; further calls are
// ignored, calls after the connection closed or the server stopped are no-ops. If every copy is
// destroyed without a call, the client gets a 500.
using Responder = std::function<void(HttpResponse)>;
// Called on a server thread for each complete request; must not block for long (hand slow work to
// another thread and answer through the Responder). Unknown routes are the handler's to answer
// (404). An exception thrown by the handler is answered with a 500.
using Handler = std::function<void(HttpRequest&&, Responder)>;

struct HttpServerOptions {
  std::string socket_path;
  mode_t mode = 0660;                        // 0660 for the query socket, 0600 for the admin socket
  gid_t group = static_cast<gid_t>(-1);      // if set, the socket file's group (before listen)
  // HOST:PORT to listen on over TCP instead of socket_path (HOST may be a name, an IPv4 address
  // or a bracketed IPv6 address; PORT 0 picks a free port, see tcp_port()).
  std::string tcp_address;
  size_t max_body_bytes = 1 << 20;           // larger: 413
  size_t max_header_bytes = 16 << 10;        // larger: 431
  int max_connections = 1024;                // beyond: 503 and close
  std::chrono::seconds request_timeout{10};  // to receive a request, or to write an answer: 408
  std::chrono::seconds idle_timeout{60};     // between requests on a kept-alive connection
};

// Thread-safe: Stop may be called from any thread but one that runs a server callback.
class HttpServer {
 public:
  // Binds options.socket_path (a stale socket from a crashed process is replaced; a live one, or
  // a file that is not a socket, is an error), or options.tcp_address when set, and serves on
  // `threads` threads (at least 1).
  static Result<std::unique_ptr<HttpServer>> Start(HttpServerOptions options, Handler handler,
                                                   int threads);
  ~HttpServer();  // Stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Closes the listener and every connection (cancelling open streams), joins the threads and
  // removes the socket file if it is still ours. Idempotent.
  void Stop();
  const std::string& socket_path() const;
  // The bound TCP port (useful after asking for port 0); 0 for a unix socket.
  uint16_t tcp_port() const;

  struct Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hashmesh
