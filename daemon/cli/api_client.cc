// Blocking unix-socket HTTP client over Boost.Beast. Deadlines are enforced by running a private
// io_context until the deadline and closing the socket if the operation is still pending.
#include "daemon/cli/api_client.h"

#include <sys/un.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <thread>

namespace hashmesh {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using Local = net::local::stream_protocol;
using ErrorCode = boost::system::error_code;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kMaxResponseBytes = 1ull << 30;  // a whole feed can be large, not unbounded
constexpr size_t kMaxLineBytes = 64 << 20;

std::string Seconds(std::chrono::milliseconds ms) {
  auto tenths = (ms.count() + 50) / 100;
  std::string s = std::to_string(tenths / 10);
  if (tenths % 10 != 0) s += "." + std::to_string(tenths % 10);
  return s + " s";
}

// One connection with a private io_context, so that each step can be bounded by a deadline.
class Connection {
 public:
  Connection(const std::string& path, std::string_view hint) : path_(path), hint_(hint) {}

  Status Connect(Clock::time_point deadline) {
    if (path_.size() >= sizeof(sockaddr_un::sun_path)) {
      return ConnectError("socket path too long");
    }
    // A unix socket whose listen backlog is full refuses a non-blocking connect at once (EAGAIN,
    // seen through Asio as ENOBUFS or would_block) where a blocking one would wait for room: in
    // a burst of clients, wait for the daemon to drain its backlog, as a blocking client would.
    auto pause = std::chrono::milliseconds(1);
    for (;;) {
      ErrorCode ec = Run(
          deadline, [&](auto handler) { socket_.async_connect(Local::endpoint(path_), handler); });
      if (ec == net::error::timed_out) return ConnectError("timed out");
      if (!ec) return Status::Ok();
      const bool backlog_full = ec == net::error::no_buffer_space ||
                                ec == net::error::would_block || ec == net::error::try_again;
      if (!backlog_full) return ConnectError(ec.message());
      if (Clock::now() + pause >= deadline) {
        return Unavailable("cannot connect to hashmeshd at " + path_ +
                           ": its listen backlog stayed full (the daemon is overloaded)");
      }
      ErrorCode ignored;
      socket_.close(ignored);
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::milliseconds(50));
    }
  }

  // Runs one asynchronous operation started by `start(handler)` until it completes or the
  // deadline passes (then the socket is closed and net::error::timed_out returned).
  template <typename Start>
  ErrorCode Run(Clock::time_point deadline, Start&& start) {
    bool done = false;
    ErrorCode result;
    start([&](ErrorCode ec, auto&&...) {
      done = true;
      result = ec;
    });
    ioc_.restart();
    if (deadline == Clock::time_point::max()) {
      ioc_.run();
    } else {
      ioc_.run_until(deadline);
    }
    if (done) return result;
    ErrorCode ignored;
    socket_.close(ignored);
    ioc_.restart();
    ioc_.run();  // lets the cancelled operation finish; its handler only sets locals
    return net::error::timed_out;
  }

  Status ConnectError(const std::string& reason) const {
    return Unavailable("cannot connect to hashmeshd at " + path_ + ": " + reason +
                       " (is the daemon running? use " + std::string(hint_) + ")");
  }

  Local::socket& socket() { return socket_; }
  beast::flat_buffer& buffer() { return buffer_; }
  const std::string& path() const { return path_; }

 private:
  const std::string path_;
  const std::string_view hint_;
  net::io_context ioc_;
  Local::socket socket_{ioc_};
  beast::flat_buffer buffer_;
};

http::request<http::string_body> BuildRequest(std::string_view method, std::string_view target,
                                              std::string_view body) {
  http::request<http::string_body> req;
  // Beast 1.74 takes boost::string_view.
  req.method_string(beast::string_view(method.data(), method.size()));
  req.target(beast::string_view(target.data(), target.size()));
  req.version(11);
  req.set(http::field::host, "hashmeshd");
  req.set(http::field::user_agent, "hashmesh-cli");
  req.keep_alive(false);  // one request per connection
  if (!body.empty() || method == "POST" || method == "PUT") {
    req.set(http::field::content_type, "application/json");
    req.body() = std::string(body);
    req.content_length(body.size());
  }
  return req;
}

// Sends the request and reads the response header (and, unless the caller set an on_chunk_body
// callback, a non-chunked body up to `read_whole`).
Status SendAndRead(Connection& conn, http::request<http::string_body>& req,
                   http::response_parser<http::string_body>& parser, Clock::time_point deadline,
                   std::chrono::milliseconds timeout, bool whole_message) {
  ErrorCode write_ec =
      conn.Run(deadline, [&](auto handler) { http::async_write(conn.socket(), req, handler); });
  // The server may have answered and closed before reading everything (e.g. 413): still read.
  if (write_ec == net::error::timed_out) {
    return IoError("no answer from hashmeshd at " + conn.path() + " within " + Seconds(timeout));
  }
  ErrorCode ec = conn.Run(deadline, [&](auto handler) {
    if (whole_message) {
      http::async_read(conn.socket(), conn.buffer(), parser, handler);
    } else {
      http::async_read_header(conn.socket(), conn.buffer(), parser, handler);
    }
  });
  if (ec == net::error::timed_out) {
    return IoError("no answer from hashmeshd at " + conn.path() + " within " + Seconds(timeout));
  }
  if (ec) {
    const ErrorCode& cause = write_ec ? write_ec : ec;
    return IoError("connection to hashmeshd at " + conn.path() + " failed: " + cause.message());
  }
  return Status::Ok();
}

ClientResponse ToClientResponse(http::response_parser<http::string_body>& parser) {
  auto& msg = parser.get();
  ClientResponse out;
  out.status = static_cast<int>(msg.result_int());
  out.content_type = std::string(msg[http::field::content_type]);
  out.body = std::move(msg.body());
  return out;
}

}  // namespace

Result<ClientResponse> HttpCall(const std::string& socket_path, std::string_view method,
                                std::string_view target, std::string_view body,
                                std::chrono::milliseconds timeout, std::string_view socket_hint) {
  Clock::time_point deadline = Clock::now() + timeout;
  Connection conn(socket_path, socket_hint);
  HM_RETURN_IF_ERROR(conn.Connect(deadline));
  auto req = BuildRequest(method, target, body);
  http::response_parser<http::string_body> parser;
  parser.header_limit(64 << 10);
  parser.body_limit(kMaxResponseBytes);
  HM_RETURN_IF_ERROR(SendAndRead(conn, req, parser, deadline, timeout, /*whole_message=*/true));
  return ToClientResponse(parser);
}

Result<ClientResponse> HttpStreamLines(const std::string& socket_path, std::string_view target,
                                       const std::function<bool(std::string_view line)>& on_line,
                                       std::chrono::milliseconds connect_timeout,
                                       std::string_view socket_hint) {
  Clock::time_point deadline = Clock::now() + connect_timeout;
  Connection conn(socket_path, socket_hint);
  HM_RETURN_IF_ERROR(conn.Connect(deadline));
  auto req = BuildRequest("GET", target, "");

  std::string partial;
  bool stopped_by_caller = false;
  bool line_too_long = false;
  auto feed = [&](std::string_view data) {
    while (!data.empty() && !stopped_by_caller) {
      size_t nl = data.find('\n');
      if (nl == std::string_view::npos) {
        partial.append(data);
        if (partial.size() > kMaxLineBytes) line_too_long = true;
        return;
      }
      partial.append(data.substr(0, nl));
      data.remove_prefix(nl + 1);
      if (!partial.empty() && !on_line(partial)) stopped_by_caller = true;
      partial.clear();
    }
  };
  auto on_chunk = [&](uint64_t /*remain*/, beast::string_view data, ErrorCode& ec) -> size_t {
    feed(std::string_view(data.data(), data.size()));
    if (stopped_by_caller || line_too_long) ec = net::error::operation_aborted;
    return data.size();
  };
  http::response_parser<http::string_body> parser;
  parser.header_limit(64 << 10);
  parser.body_limit(boost::none);  // a stream has no end we could bound; lines are bounded
  parser.on_chunk_body(on_chunk);
  HM_RETURN_IF_ERROR(
      SendAndRead(conn, req, parser, deadline, connect_timeout, /*whole_message=*/false));

  ErrorCode ec = conn.Run(Clock::time_point::max(), [&](auto handler) {
    http::async_read(conn.socket(), conn.buffer(), parser, handler);
  });
  if (line_too_long) return IoError("stream line longer than " + std::to_string(kMaxLineBytes));
  if (ec && !stopped_by_caller) {
    if (ec == http::error::partial_message || ec == net::error::eof ||
        ec == net::error::connection_reset) {
      // The server cuts a stream off when it stops or when the reader falls too far behind.
      return IoError("hashmeshd at " + socket_path +
                     " closed the stream (it stopped, or this reader fell behind)");
    }
    return IoError("stream from hashmeshd at " + socket_path + " broke: " + ec.message());
  }
  ClientResponse response = ToClientResponse(parser);
  if (!stopped_by_caller && response.status >= 200 && response.status < 300) {
    // Not chunked after all: the whole body arrived at once.
    feed(response.body);
    if (!partial.empty() && !stopped_by_caller) on_line(partial);
    response.body.clear();
  }
  return response;
}

}  // namespace hashmesh
