// One HTTP/1.1 connection over Boost.Beast: reads a request (bounded body and time), runs the
// handler, writes its response or streams a StreamChannel. The only daemon file with Beast, so
// that the slow-to-compile templates are built once.
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http.hpp>
#include <optional>

#include "common/log.h"
#include "common/mutex.h"
#include "daemon/api/http_internal.h"

namespace hashmesh::http_internal {

namespace beast = boost::beast;
namespace http = boost::beast::http;

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

std::shared_ptr<Connection> NewConnection(std::shared_ptr<Shared> shared, Local::socket socket,
                                          uint64_t id, bool counted) {
  return std::make_shared<Connection>(std::move(shared), std::move(socket), id, counted);
}

void StartConnection(const std::shared_ptr<Connection>& connection) {
  net::dispatch(connection->executor(), [connection] { connection->Start(); });
}

void CloseConnection(Connection& connection) { connection.Close(); }

}  // namespace hashmesh::http_internal
