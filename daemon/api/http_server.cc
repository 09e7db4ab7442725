// HttpServer over Boost.Beast on a unix socket or a TCP port. The only daemon file that includes
// Beast, so that the slow-to-compile templates are built once.
#include "daemon/api/http_server.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http.hpp>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <thread>

#include "common/json.h"
#include "common/log.h"
#include "common/mutex.h"
#include "proto/api.pb.h"

namespace hashmesh {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
// Generic, so that one Connection type serves unix sockets and TCP alike.
using Local = net::generic::stream_protocol;
using ErrorCode = boost::system::error_code;

// ---- StreamChannel ------------------------------------------------------------------------------

bool StreamChannel::Push(std::string line) {
  if (line.empty() || line.back() != '\n') line.push_back('\n');
  std::function<void()> wake;
  bool accepted = true;
  {
    MutexLock lock(mu_);
    if (closed_ || cancelled_) return false;
    if (lines_.size() >= capacity_) {
      // The reader cannot keep up: cut it off rather than buffer without bound.
      cancelled_ = true;
      lines_.clear();
      accepted = false;
    } else {
      lines_.push_back(std::move(line));
    }
    if (armed_) {
      armed_ = false;
      wake = wake_;
    }
  }
  if (wake) wake();
  return accepted;
}

void StreamChannel::Close() {
  std::function<void()> wake;
  {
    MutexLock lock(mu_);
    if (closed_ || cancelled_) return;
    closed_ = true;
    if (armed_) {
      armed_ = false;
      wake = wake_;
    }
  }
  if (wake) wake();
}

bool StreamChannel::done() const {
  MutexLock lock(mu_);
  return closed_ || cancelled_;
}

void StreamChannel::Attach(std::function<void()> wake) {
  MutexLock lock(mu_);
  if (!cancelled_) wake_ = std::move(wake);
}

StreamChannel::State StreamChannel::Take(std::vector<std::string>* out) {
  out->clear();
  MutexLock lock(mu_);
  if (cancelled_) return State::kCancelled;
  if (!lines_.empty()) {
    out->reserve(lines_.size());
    for (auto& line : lines_) out->push_back(std::move(line));
    lines_.clear();
    return State::kOpen;  // the caller comes back after writing these
  }
  if (closed_) return State::kClosed;
  armed_ = true;
  return State::kOpen;
}

void StreamChannel::Cancel() {
  std::function<void()> wake;
  {
    MutexLock lock(mu_);
    cancelled_ = true;
    armed_ = false;
    lines_.clear();
    wake.swap(wake_);  // destroyed outside the lock: it may hold the last reference to a server
  }
}

// ---- error bodies -------------------------------------------------------------------------------

HttpResponse JsonErrorResponse(int http_status, std::string_view code, std::string_view message) {
  api::ErrorResponse error;
  error.mutable_error()->set_code(std::string(code));
  error.mutable_error()->set_message(std::string(message));
  HttpResponse response;
  response.status = http_status;
  response.body = ToJson(error);
  return response;
}

HttpResponse ErrorResponseFor(const Status& status) {
  int http_status = 500;
  switch (status.code()) {
    case StatusCode::kOk:
      http_status = 200;
      break;
    case StatusCode::kInvalidArgument:
      http_status = 400;
      break;
    case StatusCode::kNotFound:
      http_status = 404;
      break;
    case StatusCode::kPermissionDenied:
      http_status = 403;
      break;
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
      http_status = 409;
      break;
    case StatusCode::kResourceExhausted:
      http_status = 429;
      break;
    case StatusCode::kUnavailable:
      http_status = 503;
      break;
    case StatusCode::kCorruption:
    case StatusCode::kIoError:
    case StatusCode::kInternal:
      http_status = 500;
      break;
  }
  return JsonErrorResponse(http_status, StatusCodeName(status.code()), status.message());
}

// ---- connections --------------------------------------------------------------------------------

namespace {

class Connection;

// State shared by the server and its connections. Connections and Responders hold it by
// shared_ptr so that it outlives whichever of them goes last.
struct Shared {
  HttpServerOptions options;
  Handler handler;
  std::atomic<int> open{0};  // counted (not rejected) connections
  std::atomic<bool> stopping{false};

  Mutex mu;
  bool stopped GUARDED_BY(mu) = false;
  uint64_t next_id GUARDED_BY(mu) = 0;
  // Owns every connection until it closes, so that Stop() can close them all and destroy them
  // while the io_context still exists (a Responder only holds a weak_ptr).
  std::map<uint64_t, std::shared_ptr<Connection>> connections GUARDED_BY(mu);

  // Runs `f` (which posts to the io_context) unless the server stopped. Holding `mu` keeps Stop()
  // from destroying the io_context meanwhile. `f` must not run completion handlers inline.
  template <typename F>
  void IfRunning(F&& f) {
    MutexLock lock(mu);
    if (!stopped) f();
  }
};

const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<Shared> shared, Local::socket socket, uint64_t id, bool counted)
      : shared_(std::move(shared)),
        socket_(std::move(socket)),
        executor_(socket_.get_executor()),
        timer_(executor_),
        id_(id),
        counted_(counted) {}

  ~Connection() {
    if (channel_) channel_->Cancel();
  }

  const net::any_io_executor& executor() const { return executor_; }

  // On the strand.
  void Start() {
    if (state_ == State::kClosed) return;  // Stop() came between accept and start
    struct ucred cred {};
    socklen_t len = sizeof(cred);
    if (getsockopt(socket_.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
      peer_ = {cred.pid, cred.uid, cred.gid};
    }
    if (!counted_) {
      SendError(503, "unavailable", "too many connections to hashmeshd");
      return;
    }
    WaitForRequest();
  }

  // On the strand: the Responder's answer.
  void Deliver(HttpResponse response) {
    if (state_ != State::kHandling) return;  // closed while the handler worked
    if (response.stream) {
      StartStream(std::move(response));
    } else {
      WriteResponse(response.status, response.content_type, std::move(response.body));
    }
  }

  // On the strand: whether `channel` is this connection's live stream.
  bool Streams(const StreamChannel* channel) const {
    return channel != nullptr && channel_.get() == channel && state_ != State::kClosed;
  }

  // Closes the socket; on the strand, or from Stop() once no thread runs the io_context.
  void Close() {
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    ErrorCode ec;
    socket_.shutdown(Local::socket::shutdown_both, ec);
    socket_.close(ec);
    timer_.cancel();
    if (channel_) channel_->Cancel();
    if (counted_) shared_->open.fetch_sub(1);
    auto self = shared_from_this();  // the registry may hold the last reference
    MutexLock lock(shared_->mu);
    shared_->connections.erase(id_);
  }

 private:
  enum class State { kIdle, kReading, kHandling, kWriting, kStreaming, kClosed };

  void WaitForRequest() {
    if (buffer_.size() > 0) {  // a pipelined request is already here
      ReadRequest();
      return;
    }
    state_ = State::kIdle;
    ArmTimer(shared_->options.idle_timeout);
    socket_.async_wait(Local::socket::wait_read, [self = shared_from_this()](ErrorCode ec) {
      if (self->state_ != State::kIdle) return;
      if (ec) return self->Close();
      self->ReadRequest();
    });
  }

  void ReadRequest() {
    state_ = State::kReading;
    timed_out_ = false;
    ArmTimer(shared_->options.request_timeout);
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(shared_->options.max_header_bytes));
    // Checked against Content-Length as soon as the header is parsed, before any body is read,
    // and against the running total of a chunked body.
    parser_->body_limit(shared_->options.max_body_bytes);
    http::async_read_header(
        socket_, buffer_, *parser_,
        [self = shared_from_this()](ErrorCode ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(ErrorCode ec) {
    if (state_ != State::kReading) return;
    if (ec) return OnReadError(ec);
    auto& message = parser_->get();
    if (!parser_->is_done() && beast::iequals(message[http::field::expect], "100-continue")) {
      // curl waits a second for this before sending a body larger than 1 KiB.
      net::async_write(socket_, net::buffer(kContinue),
                       [self = shared_from_this()](ErrorCode ec, size_t) {
                         if (self->state_ != State::kReading) return;
                         if (ec) return self->Close();
                         self->ReadBody();
                       });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    if (parser_->is_done()) return HandleRequest();  // no body
    http::async_read(socket_, buffer_, *parser_, [self = shared_from_this()](ErrorCode ec, size_t) {
      if (self->state_ != State::kReading) return;
      if (ec) return self->OnReadError(ec);
      self->HandleRequest();
    });
  }

  void OnReadError(ErrorCode ec) {
    const auto& o = shared_->options;
    if (timed_out_) {
      return SendError(
          408, "request_timeout",
          "request not complete within " + std::to_string(o.request_timeout.count()) + " s");
    }
    if (ec == http::error::body_limit) {
      return SendError(413, "resource_exhausted",
                       "request body larger than " + std::to_string(o.max_body_bytes) + " bytes");
    }
    if (ec == http::error::header_limit) {
      return SendError(
          431, "resource_exhausted",
          "request header larger than " + std::to_string(o.max_header_bytes) + " bytes");
    }
    if (ec == http::error::end_of_stream || ec == http::error::partial_message) {
      return Close();  // the client hung up
    }
    if (ec.category() == http::make_error_code(http::error::bad_method).category()) {
      LogDebug("bad http request").Kv("socket", o.socket_path).Kv("error", ec.message());
      return SendError(400, "invalid_argument", "malformed HTTP request: " + ec.message());
    }
    Close();  // I/O error or shutdown
  }

  void HandleRequest() {
    state_ = State::kHandling;
    DisarmTimer();
    auto& message = parser_->get();
    keep_alive_ = message.keep_alive();
    is_head_ = message.method() == http::verb::head;
    HttpRequest request{std::string(message.method_string()), std::string(message.target()),
                        std::move(message.body()), peer_};
    parser_.reset();
    LogDebug("api request")
        .KvString("socket", shared_->options.socket_path)
        .KvString("method", request.method)
        .KvString("target", request.target)
        .Kv("bytes", request.body.size())
        .Kv("pid", peer_.pid)
        .Kv("uid", peer_.uid);
    Responder respond = MakeResponder();
    try {
      shared_->handler(std::move(request), respond);
    } catch (const std::exception& e) {
      LogError("api handler threw").Kv("socket", shared_->options.socket_path).Kv("what", e.what());
      respond(JsonErrorResponse(500, "internal", "internal error"));
    } catch (...) {
      LogError("api handler threw").Kv("socket", shared_->options.socket_path);
      respond(JsonErrorResponse(500, "internal", "internal error"));
    }
  }

  struct StreamGuard {
    std::shared_ptr<StreamChannel> channel;
    ~StreamGuard() {
      if (channel) channel->Cancel();
    }
  };

  struct ResponderState {
    std::shared_ptr<Shared> shared;
    std::weak_ptr<Connection> connection;
    std::atomic<bool> answered{false};

    void Answer(HttpResponse response) {
      if (answered.exchange(true)) return;
      // A stream that never reaches its connection (server stopping, client gone, the posted
      // handler destroyed unrun) is cancelled by the guard, so its producer stops pushing.
      auto guard = std::make_shared<StreamGuard>();
      guard->channel = response.stream;
      shared->IfRunning([&] {
        auto c = connection.lock();
        if (!c) return;
        net::post(c->executor(), [c, guard, r = std::move(response)]() mutable {
          c->Deliver(std::move(r));
          if (c->Streams(guard->channel.get())) guard->channel.reset();
        });
      });
    }
    ~ResponderState() {
      if (!answered.load()) {
        Answer(JsonErrorResponse(500, "internal", "the request was dropped without an answer"));
      }
    }
  };

  Responder MakeResponder() {
    auto state = std::make_shared<ResponderState>();
    state->shared = shared_;
    state->connection = weak_from_this();
    return [state](HttpResponse response) { state->Answer(std::move(response)); };
  }

  void SendError(int status, std::string_view code, const std::string& message) {
    keep_alive_ = false;
    is_head_ = false;
    WriteResponse(status, "application/json", JsonErrorResponse(status, code, message).body);
  }

  void WriteResponse(int status, const std::string& content_type, std::string body) {
    // Beast refuses (throws on) codes outside 100..999, and 1xx/204/304 with a body.
    if (status < 200 || status > 599) status = 500;
    res_ = {};
    res_.version(11);
    res_.result(static_cast<unsigned>(status));
    res_.set(http::field::server, "hashmeshd");
    res_.set(http::field::content_type, content_type);
    res_.keep_alive(keep_alive_);
    if (status == 204 || status == 304) {
      body.clear();
    } else {
      res_.content_length(body.size());
      if (!is_head_) res_.body() = std::move(body);
    }
    state_ = State::kWriting;
    ArmTimer(shared_->options.request_timeout);
    http::async_write(socket_, res_, [self = shared_from_this()](ErrorCode ec, size_t) {
      if (self->state_ != State::kWriting) return;
      if (ec || !self->keep_alive_) return self->Close();
      self->res_ = {};
      self->WaitForRequest();
    });
  }

  // ---- streams ----

  void StartStream(HttpResponse response) {
    channel_ = std::move(response.stream);
    keep_alive_ = false;
    int status = response.status < 200 || response.status > 599 ? 500 : response.status;
    stream_res_.emplace();
    stream_res_->version(11);
    stream_res_->result(static_cast<unsigned>(status));
    stream_res_->set(http::field::server, "hashmeshd");
    stream_res_->set(http::field::content_type, response.content_type);
    stream_res_->chunked(true);
    stream_res_->keep_alive(false);
    stream_serializer_.emplace(*stream_res_);
    state_ = State::kStreaming;
    writing_ = true;
    ArmTimer(shared_->options.request_timeout);
    std::weak_ptr<Connection> weak = weak_from_this();
    std::shared_ptr<Shared> shared = shared_;
    channel_->Attach([weak, shared] {
      shared->IfRunning([&] {
        auto c = weak.lock();
        if (!c) return;
        net::post(c->executor(), [c] { c->PumpStream(); });
      });
    });
    http::async_write_header(socket_, *stream_serializer_,
                             [self = shared_from_this()](ErrorCode ec, size_t) {
                               if (self->state_ != State::kStreaming) return;
                               self->writing_ = false;
                               if (ec) return self->Close();
                               self->WatchPeer();
                               self->PumpStream();
                             });
  }

  // A stream client sends nothing more; whatever arrives (usually EOF) means it is gone.
  void WatchPeer() {
    socket_.async_read_some(net::buffer(watch_buf_),
                            [self = shared_from_this()](ErrorCode, size_t) {
                              if (self->state_ == State::kStreaming) self->Close();
                            });
  }

  void PumpStream() {
    if (state_ != State::kStreaming || writing_) return;
    StreamChannel::State channel_state = channel_->Take(&lines_);
    if (channel_state == StreamChannel::State::kCancelled) return Close();
    if (!lines_.empty()) {
      chunk_.clear();
      for (const auto& line : lines_) chunk_ += line;
      lines_.clear();
      writing_ = true;
      ArmTimer(shared_->options.request_timeout);  // a client that stops reading is cut off
      net::async_write(socket_, http::make_chunk(net::buffer(chunk_)),
                       [self = shared_from_this()](ErrorCode ec, size_t) {
                         if (self->state_ != State::kStreaming) return;
                         self->writing_ = false;
                         if (ec) return self->Close();
                         self->PumpStream();
                       });
      return;
    }
    if (channel_state == StreamChannel::State::kClosed) {
      writing_ = true;
      ArmTimer(shared_->options.request_timeout);
      net::async_write(socket_, http::make_chunk_last(),
                       [self = shared_from_this()](ErrorCode, size_t) { self->Close(); });
      return;
    }
    DisarmTimer();  // waiting for the producer, which wakes us through the channel
  }

  // ---- timer ----

  void ArmTimer(std::chrono::steady_clock::duration d) {
    timer_.expires_after(d);
    timer_.async_wait([self = shared_from_this()](ErrorCode ec) { self->OnTimer(ec); });
  }
  // Moving the expiry to "never" also tells an already-queued completion that it is stale.
  void DisarmTimer() { timer_.expires_at(std::chrono::steady_clock::time_point::max()); }

  void OnTimer(ErrorCode ec) {
    if (ec || timer_.expiry() > std::chrono::steady_clock::now()) return;
    switch (state_) {
      case State::kReading: {
        timed_out_ = true;
        ErrorCode ignored;
        socket_.cancel(ignored);  // the read completes with operation_aborted -> 408
        break;
      }
      case State::kIdle:
      case State::kWriting:
      case State::kStreaming:
        Close();
        break;
      case State::kHandling:
      case State::kClosed:
        break;
    }
  }

  std::shared_ptr<Shared> shared_;
  Local::socket socket_;
  const net::any_io_executor executor_;  // a strand: every member below is used on it only
  net::steady_timer timer_;
  const uint64_t id_;
  const bool counted_;  // false: over the connection limit, answered 503
  PeerCredentials peer_;
  State state_ = State::kIdle;
  bool timed_out_ = false;
  bool keep_alive_ = true;
  bool is_head_ = false;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  std::shared_ptr<StreamChannel> channel_;
  std::optional<http::response<http::empty_body>> stream_res_;
  std::optional<http::response_serializer<http::empty_body>> stream_serializer_;
  bool writing_ = false;
  std::vector<std::string> lines_;
  std::string chunk_;
  char watch_buf_[256];
};

// Binds the socket file without a moment of wider permissions. Returns the listening fd.
Result<int> BindUnixSocket(const std::string& path, mode_t mode, gid_t group) {
  sockaddr_un addr{};
  if (path.empty()) return InvalidArgument("empty socket path");
  if (path.size() >= sizeof(addr.sun_path)) {
    return InvalidArgument("socket path too long (" + std::to_string(path.size()) +
                           " bytes, at most " + std::to_string(sizeof(addr.sun_path) - 1) +
                           "): " + path);
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());

  std::string parent = std::filesystem::path(path).parent_path().string();
  if (parent.empty()) parent = ".";
  struct stat st {};
  if (stat(parent.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return FailedPrecondition("directory " + parent + " for socket " + path + " does not exist");
  }

  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return FailedPrecondition(path + " exists and is not a socket; not removing it");
    }
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0) return IoError(std::string("socket: ") + std::strerror(errno));
    int rc = connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    int err = errno;
    close(probe);
    if (rc == 0 || err == EAGAIN) {  // EAGAIN: a live listener with a full backlog
      return FailedPrecondition("socket " + path + " is in use by a running process");
    }
    if (err != ECONNREFUSED) {
      return IoError("cannot check existing socket " + path + ": " + std::strerror(err));
    }
    // Left behind by a process that died: nobody listens there.
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      return IoError("cannot remove stale socket " + path + ": " + std::strerror(errno));
    }
    LogNotice("removed stale socket").KvString("path", path);
  } else if (errno != ENOENT) {
    return IoError("cannot stat " + path + ": " + std::strerror(errno));
  }

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return IoError(std::string("socket: ") + std::strerror(errno));
  // Linux creates the socket file with the socket inode's mode bits (minus the umask), so setting
  // them before bind leaves no window in which the file is more open than `mode`, without
  // touching the process-wide umask that other threads depend on.
  (void)fchmod(fd, mode & 0777);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    close(fd);
    if (err == EADDRINUSE) {
      return FailedPrecondition("socket " + path + " is in use by a running process");
    }
    return IoError("cannot bind " + path + ": " + std::strerror(err));
  }
  // Nobody can connect before listen(), so the group and mode are right before the first client.
  if (group != static_cast<gid_t>(-1) && chown(path.c_str(), static_cast<uid_t>(-1), group) != 0) {
    int err = errno;
    close(fd);
    unlink(path.c_str());
    return PermissionDenied("cannot give socket " + path + " to group " + std::to_string(group) +
                            ": " + std::strerror(err));
  }
  // The umask may have removed bits we want (e.g. group for the query socket).
  if (chmod(path.c_str(), mode & 0777) != 0 || listen(fd, SOMAXCONN) != 0) {
    int err = errno;
    close(fd);
    unlink(path.c_str());
    return IoError("cannot set up socket " + path + ": " + std::strerror(err));
  }
  return fd;
}

// Binds and listens on HOST:PORT ("[::1]:9464" for IPv6). Returns the fd, its family and port.
struct TcpListener {
  int fd = -1;
  int family = AF_INET;
  uint16_t port = 0;
};

Result<TcpListener> BindTcp(const std::string& address) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) return InvalidArgument("'" + address + "' is not HOST:PORT");
  std::string host = address.substr(0, colon);
  std::string port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
  if (rc != 0) return InvalidArgument("cannot resolve " + address + ": " + gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(found, &freeaddrinfo);
  std::string last_error = "no address";
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
      last_error = std::strerror(errno);
      close(fd);
      continue;
    }
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    TcpListener out{fd, ai->ai_family, 0};
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len) == 0) {
      out.port = ntohs(bound.ss_family == AF_INET6
                           ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                           : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    }
    return out;
  }
  return IoError("cannot listen on " + address + ": " + last_error);
}

}  // namespace

// ---- server -------------------------------------------------------------------------------------

struct HttpServer::Impl {
  std::shared_ptr<Shared> shared = std::make_shared<Shared>();
  // Declared after `shared` and before what runs on it, so that it is destroyed first among its
  // users and last among the objects that pending handlers may reference.
  net::io_context ioc;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  net::basic_socket_acceptor<Local> acceptor{ioc};
  net::steady_timer accept_retry{ioc};
  // A descriptor held in reserve for when the process runs out (EMFILE): giving it up lets us
  // take a waiting client off the backlog and answer it 503, instead of leaving every client
  // hanging there until descriptors come back. Touched by the one pending accept only.
  int reserve_fd = -1;
  uint64_t shed = 0;  // connections answered 503 for want of descriptors, since the last log
  std::chrono::steady_clock::time_point last_accept_log{};
  std::vector<std::thread> threads;
  dev_t socket_dev = 0;
  ino_t socket_ino = 0;
  uint16_t tcp_port = 0;
  Mutex stop_mu;
  bool stopped GUARDED_BY(stop_mu) = false;

  void Accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](ErrorCode ec, Local::socket socket) {
      OnAccept(ec, std::move(socket));
    });
  }

  void OnAccept(ErrorCode ec, Local::socket socket) {
    if (shared->stopping.load()) return;
    if (ec) {
      if (ec == net::error::operation_aborted) return;
      const bool out_of_fds = ec == net::error::no_descriptors ||
                              ec == boost::system::errc::too_many_files_open_in_system;
      if (out_of_fds && ShedOne()) return Accept();  // more may be waiting
      // Logged once a minute at most: this may go on for as long as the clients keep the fds.
      const auto now = std::chrono::steady_clock::now();
      if (now - last_accept_log >= std::chrono::minutes(1)) {
        last_accept_log = now;
        LogWarning("accept failed")
            .KvString("socket", shared->options.socket_path)
            .KvString("error", ec.message())
            .Kv("shed", shed);
        shed = 0;
      }
      // Pause rather than spin on an error that persists.
      accept_retry.expires_after(std::chrono::milliseconds(100));
      accept_retry.async_wait([this](ErrorCode ec) {
        if (!ec && !shared->stopping.load()) Accept();
      });
      return;
    }
    if (reserve_fd < 0) reserve_fd = OpenReserve();
    bool counted = shared->open.load() < shared->options.max_connections;
    if (counted) shared->open.fetch_add(1);
    std::shared_ptr<Connection> connection;
    {
      MutexLock lock(shared->mu);
      uint64_t id = shared->next_id++;
      connection = std::make_shared<Connection>(shared, std::move(socket), id, counted);
      shared->connections.emplace(id, connection);
    }
    net::dispatch(connection->executor(), [connection] { connection->Start(); });
    Accept();
  }

  static int OpenReserve() { return open("/dev/null", O_RDONLY | O_CLOEXEC); }

  // Out of descriptors: frees the reserve, accepts one waiting client, answers it 503 without
  // waiting for anything and closes it, then takes the reserve back. False if there was no
  // reserve or nobody to accept.
  bool ShedOne() {
    if (reserve_fd < 0) reserve_fd = OpenReserve();
    if (reserve_fd < 0) return false;
    close(reserve_fd);
    int fd = accept4(acceptor.native_handle(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd >= 0) {
      static const std::string kBusy = [] {
        const std::string body =
            JsonErrorResponse(503, "unavailable", "hashmeshd is out of file descriptors").body;
        return "HTTP/1.1 503 Service Unavailable\r\nServer: hashmeshd\r\n"
               "Content-Type: application/json\r\nConnection: close\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n" + body;
      }();
      (void)send(fd, kBusy.data(), kBusy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      close(fd);
      ++shed;
    }
    reserve_fd = OpenReserve();
    return fd >= 0;
  }

  void Run() {
    // No exception is expected from a handler; if one comes anyway (bad_alloc), log and go on
    // rather than take the daemon down from a server thread.
    for (;;) {
      try {
        ioc.run();
        return;
      } catch (const std::exception& e) {
        LogError("http server thread caught an exception").KvString("what", e.what());
      }
    }
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

const std::string& HttpServer::socket_path() const { return impl_->shared->options.socket_path; }

uint16_t HttpServer::tcp_port() const { return impl_->tcp_port; }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(HttpServerOptions options, Handler handler,
                                                      int threads) {
  if (!handler) return InvalidArgument("no handler");
  if (options.max_connections < 1) return InvalidArgument("max_connections must be at least 1");
  auto impl = std::make_unique<Impl>();
  const bool tcp = !options.tcp_address.empty();
  int fd = -1;
  int family = AF_UNIX;
  if (tcp) {
    HM_ASSIGN_OR_RETURN(TcpListener listener, BindTcp(options.tcp_address));
    fd = listener.fd;
    family = listener.family;
    impl->tcp_port = listener.port;
    options.socket_path.clear();  // Stop() must not unlink anything
  } else {
    HM_ASSIGN_OR_RETURN(fd, BindUnixSocket(options.socket_path, options.mode, options.group));
    struct stat st {};
    if (stat(options.socket_path.c_str(), &st) == 0) {
      impl->socket_dev = st.st_dev;
      impl->socket_ino = st.st_ino;
    }
  }
  const std::string where = tcp ? options.tcp_address : options.socket_path;
  ErrorCode ec;
  impl->acceptor.assign(Local(family, SOCK_STREAM), fd, ec);
  if (ec) {
    close(fd);
    if (!tcp) unlink(options.socket_path.c_str());
    return IoError("cannot listen on " + where + ": " + ec.message());
  }
  impl->shared->options = std::move(options);
  impl->shared->handler = std::move(handler);
  impl->work.emplace(impl->ioc.get_executor());
  impl->reserve_fd = Impl::OpenReserve();
  impl->Accept();
  int n = std::max(threads, 1);
  for (int i = 0; i < n; ++i) {
    Impl* raw = impl.get();
    impl->threads.emplace_back([raw] { raw->Run(); });
  }
  if (tcp) {
    LogInfo("http listening").KvString("address", where).Kv("port", impl->tcp_port).Kv("threads", n);
  } else {
    LogInfo("api socket listening").KvString("path", where).Kv("threads", n);
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

void HttpServer::Stop() {
  Impl& impl = *impl_;
  {
    MutexLock lock(impl.stop_mu);
    if (impl.stopped) return;
    impl.stopped = true;
  }
  impl.shared->stopping.store(true);
  {
    // From here on Responders and stream wake-ups post nothing.
    MutexLock lock(impl.shared->mu);
    impl.shared->stopped = true;
  }
  impl.work.reset();
  impl.ioc.stop();
  for (auto& t : impl.threads) t.join();
  impl.threads.clear();

  // No thread runs the io_context now, so its objects can be touched from here.
  ErrorCode ec;
  impl.acceptor.close(ec);
  impl.accept_retry.cancel();
  if (impl.reserve_fd >= 0) close(impl.reserve_fd);
  impl.reserve_fd = -1;
  std::map<uint64_t, std::shared_ptr<Connection>> connections;
  {
    MutexLock lock(impl.shared->mu);
    connections.swap(impl.shared->connections);
  }
  for (auto& [id, connection] : connections) connection->Close();
  // Let the cancelled operations finish so that connections die while the io_context lives.
  impl.ioc.restart();
  impl.ioc.poll();
  connections.clear();

  const std::string& path = impl.shared->options.socket_path;
  if (path.empty()) {
    LogInfo("http closed").KvString("address", impl.shared->options.tcp_address);
    return;
  }
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0 && st.st_dev == impl.socket_dev &&
      st.st_ino == impl.socket_ino) {
    unlink(path.c_str());  // only our own: a newer daemon may have replaced it
  }
  LogInfo("api socket closed").KvString("path", path);
}

}  // namespace hashmesh
