// Tests for HttpServer and the blocking client: a real server on a socket in a temporary
// directory, driven through HttpCall / HttpStreamLines and through raw socket bytes.
#include "daemon/api/http_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "daemon/cli/api_client.h"
#include "gtest/gtest.h"

namespace hashmesh {
namespace {

using namespace std::chrono_literals;

// "GET /v1/x body" for whatever was asked.
void Echo(HttpRequest&& req, Responder respond) {
  HttpResponse r;
  r.content_type = "text/plain";
  r.body = req.method + " " + req.target + " " + req.body;
  respond(std::move(r));
}

int ConnectRaw(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

void SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// Reads until EOF, an error, `until` appears, or `timeout`.
std::string ReadRaw(int fd, std::chrono::milliseconds timeout, std::string_view until = {}) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (!until.empty() && out.find(until) != std::string::npos) break;
  }
  return out;
}

std::string StatusLine(const std::string& raw) { return raw.substr(0, raw.find("\r\n")); }
std::string Body(const std::string& raw) {
  size_t p = raw.find("\r\n\r\n");
  return p == std::string::npos ? "" : raw.substr(p + 4);
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hm-http-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/query.sock";
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  HttpServerOptions Options() {
    HttpServerOptions o;
    o.socket_path = path_;
    o.mode = 0660;
    return o;
  }

  void StartServer(Handler handler, HttpServerOptions options) {
    auto server = HttpServer::Start(std::move(options), std::move(handler), /*threads=*/2);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }
  void StartServer(Handler handler) { StartServer(std::move(handler), Options()); }

  // "200 text/plain GET /v1/status " or the error.
  std::string Call(std::string_view method, std::string_view target, std::string_view body = "") {
    auto r = HttpCall(path_, method, target, body, 5s);
    if (!r.ok()) return r.status().ToString();
    return std::to_string(r->status) + " " + r->content_type + " " + r->body;
  }

  std::string dir_;
  std::string path_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, GetAndPostRoundTrip) {
  StartServer(Echo);
  EXPECT_EQ(Call("GET", "/v1/status"), "200 text/plain GET /v1/status ");
  EXPECT_EQ(Call("POST", "/v1/match?x=1", R"({"type":"md5"})"),
            R"(200 text/plain POST /v1/match?x=1 {"type":"md5"})");
}

TEST_F(HttpServerTest, KeepAliveAndPipelinedRequestsAnsweredInOrder) {
  StartServer(Echo);
  int fd = ConnectRaw(path_);
  ASSERT_GE(fd, 0);
  SendAll(fd,
          "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
          "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyz"
          "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::string raw = ReadRaw(fd, 5s);
  close(fd);
  size_t a = raw.find("GET /a ");
  size_t b = raw.find("POST /b xyz");
  size_t c = raw.find("GET /c ");
  ASSERT_NE(a, std::string::npos) << raw;
  ASSERT_NE(b, std::string::npos) << raw;
  ASSERT_NE(c, std::string::npos) << raw;
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
}

TEST_F(HttpServerTest, AsyncResponderFromAnotherThread) {
  std::vector<std::thread> workers;
  std::mutex mu;
  StartServer([&](HttpRequest&& req, Responder respond) {
    std::lock_guard lock(mu);
    workers.emplace_back([target = req.target, respond] {
      std::this_thread::sleep_for(50ms);
      respond(HttpResponse{201, "application/json", "{\"late\":\"" + target + "\"}", nullptr});
    });
  });
  EXPECT_EQ(Call("POST", "/v1/signals", "{}"), R"(201 application/json {"late":"/v1/signals"})");
  std::lock_guard lock(mu);
  for (auto& t : workers) t.join();
}

TEST_F(HttpServerTest, DroppedResponderAndThrowingHandlerGive500) {
  StartServer([](HttpRequest&& req, Responder respond) {
    if (req.target == "/throw") throw std::runtime_error("boom");
    // "/drop": never answers, and lets the responder go.
  });
  EXPECT_EQ(Call("GET", "/drop"), R"(500 application/json {"error":{"code":"internal","message":)"
                                  R"("the request was dropped without an answer"}})");
  EXPECT_EQ(Call("GET", "/throw"),
            R"(500 application/json {"error":{"code":"internal","message":"internal error"}})");
}

TEST_F(HttpServerTest, SecondAnswerIsIgnored) {
  StartServer([](HttpRequest&&, Responder respond) {
    respond(HttpResponse{200, "text/plain", "first", nullptr});
    respond(HttpResponse{500, "text/plain", "second", nullptr});
  });
  EXPECT_EQ(Call("GET", "/"), "200 text/plain first");
  EXPECT_EQ(Call("GET", "/"), "200 text/plain first");
}

TEST_F(HttpServerTest, ErrorResponseForMapsStatusCodes) {
  auto r = ErrorResponseFor(NotFound("no record abc"));
  EXPECT_EQ(std::to_string(r.status) + " " + r.body,
            R"(404 {"error":{"code":"not_found","message":"no record abc"}})");
  EXPECT_EQ(ErrorResponseFor(InvalidArgument("x")).status, 400);
  EXPECT_EQ(ErrorResponseFor(PermissionDenied("x")).status, 403);
  EXPECT_EQ(ErrorResponseFor(Unavailable("x")).status, 503);
  EXPECT_EQ(ErrorResponseFor(Internal("x")).status, 500);
}

TEST_F(HttpServerTest, ContentLengthOverLimitIs413BeforeTheBody) {
  std::atomic<int> calls{0};
  auto options = Options();
  options.max_body_bytes = 1000;
  StartServer(
      [&](HttpRequest&& req, Responder respond) {
        ++calls;
        Echo(std::move(req), std::move(respond));
      },
      options);
  int fd = ConnectRaw(path_);
  ASSERT_GE(fd, 0);
  // No body is sent at all: the answer must come from the header alone.
  SendAll(fd, "POST /v1/match HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n");
  std::string raw = ReadRaw(fd, 5s);
  close(fd);
  EXPECT_EQ(StatusLine(raw), "HTTP/1.1 413 Payload Too Large");
  EXPECT_EQ(
      Body(raw),
      R"({"error":{"code":"resource_exhausted","message":"request body larger than 1000 bytes"}})");
  // Through the client, which is still writing the body when the server answers and closes.
  auto r = HttpCall(path_, "POST", "/v1/match", std::string(200000, 'x'), 5s);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 413);
  // A body at the limit is fine.
  EXPECT_EQ(Call("POST", "/", std::string(1000, 'y')).substr(0, 3), "200");
  EXPECT_EQ(calls.load(), 1);
}

TEST_F(HttpServerTest, ChunkedBodyOverLimitIs413) {
  auto options = Options();
  options.max_body_bytes = 10;
  StartServer(Echo, options);
  int fd = ConnectRaw(path_);
  ASSERT_GE(fd, 0);
  SendAll(fd,
          "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
          "8\r\n01234567\r\n8\r\n89abcdef\r\n0\r\n\r\n");
  std::string raw = ReadRaw(fd, 5s);
  close(fd);
  EXPECT_EQ(StatusLine(raw), "HTTP/1.1 413 Payload Too Large");
}

TEST_F(HttpServerTest, GarbageIs400) {
  StartServer(Echo);
  int fd = ConnectRaw(path_);
  ASSERT_GE(fd, 0);
  SendAll(fd, std::string("\x01\x02\x03 nonsense\r\n\r\n", 16));
  std::string raw = ReadRaw(fd, 5s);
  close(fd);
  EXPECT_EQ(StatusLine(raw), "HTTP/1.1 400 Bad Request");
  EXPECT_NE(Body(raw).find(R"("code":"invalid_argument")"), std::string::npos) << raw;
}

TEST_F(HttpServerTest, HeaderOverLimitIs431) {
  auto options = Options();
  options.max_header_bytes = 1024;
  StartServer(Echo, options);
  int fd = ConnectRaw(path_);
  ASSERT_GE(fd, 0);
  SendAll(fd, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n");
  std::string raw = ReadRaw(fd, 5s);
  close(fd);
  EXPECT_EQ(StatusLine(raw), "HTTP/1.1 431 Request Header Fields Too Large");
}

TEST_F(HttpServerTest, UnterminatedRequestIs408) {
  auto options = Options();
  options.request_timeout = 1s;
  StartServer(Echo, options);
  int fd = ConnectRaw(path_);
  ASSERT_GE(fd, 0);
  SendAll(fd, "GET / HTTP/1.1\r\nHost: x\r\n");
  auto start = std::chrono::steady_clock::now();
  std::string raw = ReadRaw(fd, 5s);
  auto took = std::chrono::steady_clock::now() - start;
  close(fd);
  EXPECT_EQ(StatusLine(raw), "HTTP/1.1 408 Request Timeout");
  EXPECT_EQ(Body(raw),
            R"({"error":{"code":"request_timeout","message":"request not complete within 1 s"}})");
  EXPECT_GE(took, 900ms);
  EXPECT_LT(took, 4s);
}

TEST_F(HttpServerTest, IdleConnectionIsClosedSilently) {
  auto options = Options();
  options.idle_timeout = 1s;
  StartServer(Echo, options);
  int fd = ConnectRaw(path_);
  ASSERT_GE(fd, 0);
  auto start = std::chrono::steady_clock::now();
  std::string raw = ReadRaw(fd, 5s);
  auto took = std::chrono::steady_clock::now() - start;
  close(fd);
  EXPECT_EQ(raw, "");
  EXPECT_LT(took, 4s);
}

TEST_F(HttpServerTest, Expect100ContinueIsAnswered) {
  StartServer(Echo);
  int fd = ConnectRaw(path_);
  ASSERT_GE(fd, 0);
  SendAll(fd,
          "POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n"
          "Connection: close\r\n\r\n");
  EXPECT_EQ(ReadRaw(fd, 5s, "\r\n\r\n"), "HTTP/1.1 100 Continue\r\n\r\n");
  SendAll(fd, "hello");
  std::string raw = ReadRaw(fd, 5s);
  close(fd);
  EXPECT_EQ(StatusLine(raw), "HTTP/1.1 200 OK");
  EXPECT_EQ(Body(raw), "POST /e hello");
}

TEST_F(HttpServerTest, ConnectionsOverTheLimitGet503) {
  auto options = Options();
  options.max_connections = 1;
  StartServer(Echo, options);
  int fd = ConnectRaw(path_);  // holds the only slot
  ASSERT_GE(fd, 0);
  std::this_thread::sleep_for(100ms);  // let the server accept it
  EXPECT_EQ(Call("GET", "/"), R"(503 application/json {"error":{"code":"unavailable","message":)"
                              R"("too many connections to hashmeshd"}})");
  close(fd);
  // The slot is free again once the first connection is gone.
  bool ok = false;
  for (int i = 0; i < 50 && !ok; ++i) {
    ok = Call("GET", "/x") == "200 text/plain GET /x ";
    if (!ok) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(ok);
}

TEST_F(HttpServerTest, StaleSocketIsReplaced) {
  // A socket file nobody listens on, as a crashed daemon leaves behind.
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  close(fd);
  ASSERT_TRUE(std::filesystem::is_socket(path_));
  StartServer(Echo);
  EXPECT_EQ(Call("GET", "/s"), "200 text/plain GET /s ");
}

TEST_F(HttpServerTest, LiveSocketIsRefusedAndKeepsWorking) {
  StartServer(Echo);
  auto second = HttpServer::Start(Options(), Echo, 1);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().ToString(),
            "failed_precondition: socket " + path_ + " is in use by a running process");
  EXPECT_EQ(Call("GET", "/still"), "200 text/plain GET /still ");
}

TEST_F(HttpServerTest, NonSocketFileIsNotTouched) {
  { std::ofstream(path_) << "precious"; }
  auto server = HttpServer::Start(Options(), Echo, 1);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().ToString(),
            "failed_precondition: " + path_ + " exists and is not a socket; not removing it");
  EXPECT_TRUE(std::filesystem::is_regular_file(path_));
}

TEST_F(HttpServerTest, MissingDirectoryIsAClearError) {
  auto options = Options();
  options.socket_path = dir_ + "/nope/query.sock";
  auto server = HttpServer::Start(options, Echo, 1);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().ToString(), "failed_precondition: directory " + dir_ +
                                            "/nope for socket " + options.socket_path +
                                            " does not exist");
}

TEST_F(HttpServerTest, SocketModeBitsAndRemovalOnStop) {
  mode_t old_umask = umask(0022);  // would otherwise strip the group write bit
  StartServer(Echo);
  struct stat st {};
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  server_->Stop();
  EXPECT_FALSE(std::filesystem::exists(path_));

  auto options = Options();
  options.mode = 0600;
  StartServer(Echo, options);
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  umask(old_umask);
}

TEST_F(HttpServerTest, PeerCredentialsAreTheCaller) {
  std::mutex mu;
  PeerCredentials seen;
  StartServer([&](HttpRequest&& req, Responder respond) {
    {
      std::lock_guard lock(mu);
      seen = req.peer;
    }
    Echo(std::move(req), std::move(respond));
  });
  ASSERT_EQ(Call("GET", "/").substr(0, 3), "200");
  std::lock_guard lock(mu);
  EXPECT_EQ(seen.pid, getpid());
  EXPECT_EQ(seen.uid, getuid());
  EXPECT_EQ(seen.gid, getgid());
}

TEST_F(HttpServerTest, StreamDeliversPushedLinesAndEnds) {
  auto channel = std::make_shared<StreamChannel>();
  StartServer([&](HttpRequest&&, Responder respond) {
    respond(HttpResponse{200, "application/x-ndjson", "", channel});
  });
  std::thread producer([channel] {
    std::this_thread::sleep_for(50ms);
    channel->Push(R"({"seq":1})");
    channel->Push("{\"seq\":2}\n");
    std::this_thread::sleep_for(50ms);
    channel->Push(R"({"seq":3})");
    channel->Close();
    EXPECT_FALSE(channel->Push("late"));
  });
  std::string got;
  auto r = HttpStreamLines(
      path_, "/v1/stream",
      [&](std::string_view line) {
        got += std::string(line) + "|";
        return true;
      },
      5s);
  producer.join();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->content_type, "application/x-ndjson");
  EXPECT_EQ(got, R"({"seq":1}|{"seq":2}|{"seq":3}|)");
}

TEST_F(HttpServerTest, StreamEndsForProducerWhenClientLeaves) {
  auto channel = std::make_shared<StreamChannel>();
  StartServer([&](HttpRequest&&, Responder respond) {
    respond(HttpResponse{200, "application/x-ndjson", "", channel});
  });
  std::thread producer([channel] {
    for (int i = 0; i < 500 && channel->Push("{}"); ++i) std::this_thread::sleep_for(10ms);
  });
  int lines = 0;
  auto r = HttpStreamLines(
      path_, "/v1/stream", [&](std::string_view) { return ++lines < 2; }, 5s);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  producer.join();  // ends early because Push turned false
  EXPECT_TRUE(channel->done());
  EXPECT_EQ(lines, 2);
}

TEST_F(HttpServerTest, SlowStreamClientIsCutOff) {
  auto channel = std::make_shared<StreamChannel>(/*capacity=*/8);
  StartServer([&](HttpRequest&&, Responder respond) {
    respond(HttpResponse{200, "application/x-ndjson", "", channel});
  });
  int fd = ConnectRaw(path_);
  ASSERT_GE(fd, 0);
  SendAll(fd, "GET /v1/stream HTTP/1.1\r\nHost: x\r\n\r\n");
  // The client never reads: socket buffers fill, then the bounded queue, then it is cut off.
  std::string line(64 << 10, 'x');
  int pushed = 0;
  while (pushed < 10000 && channel->Push(line)) ++pushed;
  EXPECT_LT(pushed, 10000);
  EXPECT_TRUE(channel->done());
  close(fd);
}

TEST_F(HttpServerTest, StopCancelsStreamsAndLateResponderIsHarmless) {
  auto channel = std::make_shared<StreamChannel>();
  std::promise<Responder> held;
  bool first = true;
  StartServer([&](HttpRequest&& req, Responder respond) {
    if (req.target == "/v1/stream") {
      respond(HttpResponse{200, "application/x-ndjson", "", channel});
    } else if (first) {
      first = false;
      held.set_value(respond);
    }
  });
  std::promise<void> got_line;
  std::thread streamer([&] {
    bool first_line = true;
    (void)HttpStreamLines(
        path_, "/v1/stream",
        [&](std::string_view) {
          if (std::exchange(first_line, false)) got_line.set_value();
          return true;
        },
        5s);
  });
  std::thread caller([&] { (void)HttpCall(path_, "GET", "/held", "", 5s); });
  Responder late = held.get_future().get();
  // The stream is live only once the client has read from it (a Push before the request reached
  // the server would just queue).
  ASSERT_TRUE(channel->Push("{}"));
  got_line.get_future().wait();
  server_->Stop();
  EXPECT_FALSE(channel->Push("{}"));
  late(HttpResponse{});  // after Stop: a no-op, not a crash
  streamer.join();
  caller.join();
  EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST_F(HttpServerTest, ClientReportsUnreachableDaemon) {
  auto r = HttpCall(path_, "GET", "/v1/status", "", 1s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().ToString(),
            "unavailable: cannot connect to hashmeshd at " + path_ +
                ": No such file or directory (is the daemon running? use --socket or "
                "$HASHMESH_SOCKET)");
  auto admin = HttpCall(path_, "POST", "/v1/signals", "{}", 1s, kAdminSocketHint);
  ASSERT_FALSE(admin.ok());
  EXPECT_NE(admin.status().message().find("use --admin-socket or $HASHMESH_ADMIN_SOCKET"),
            std::string::npos);
}

// A listening socket with a backlog of one that nobody accepts on yet, filled with connections:
// a new client's non-blocking connect is refused at once with EAGAIN.
class FullBacklog {
 public:
  explicit FullBacklog(const std::string& path) {
    listener_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    EXPECT_EQ(bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(listener_, 1), 0);
    for (;;) {
      int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        EXPECT_EQ(errno, EAGAIN);
        close(fd);
        break;
      }
      fillers_.push_back(fd);
    }
  }
  ~FullBacklog() {
    for (int fd : fillers_) close(fd);
    close(listener_);
  }

  // Accepts everything waiting: the fillers (closed first, so they read as EOF) are dropped, a
  // client that sends a request gets `answer`.
  void Drain(const std::string& answer) {
    for (int fd : fillers_) close(fd);
    fillers_.clear();
    for (;;) {
      pollfd p{listener_, POLLIN, 0};
      if (poll(&p, 1, 2000) <= 0) return;
      int fd = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      const std::string request = ReadRaw(fd, 2s, "\r\n\r\n");
      if (!request.empty()) SendAll(fd, answer);
      close(fd);
      if (!request.empty()) return;
    }
  }

 private:
  int listener_ = -1;
  std::vector<int> fillers_;
};

// In a burst of clients the daemon's backlog can be full for a moment: the client waits for room,
// as a blocking connect would, rather than fail at once.
TEST_F(HttpServerTest, ClientWaitsWhileTheListenBacklogIsFull) {
  FullBacklog backlog(path_);
  std::thread server([&] {
    std::this_thread::sleep_for(300ms);
    backlog.Drain("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
  });
  const auto t0 = std::chrono::steady_clock::now();
  auto r = HttpCall(path_, "GET", "/v1/status", "", 5s);
  const auto waited = std::chrono::steady_clock::now() - t0;
  server.join();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ok");
  EXPECT_GE(waited, 250ms) << "answered before the backlog had room";
}

TEST_F(HttpServerTest, ClientGivesUpWhenTheBacklogStaysFull) {
  FullBacklog backlog(path_);
  auto r = HttpCall(path_, "GET", "/v1/status", "", 300ms);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("listen backlog stayed full"), std::string::npos)
      << r.status().ToString();
}

TEST_F(HttpServerTest, ClientTimesOutWhenNoAnswerComes) {
  std::promise<Responder> held;
  StartServer([&](HttpRequest&&, Responder respond) { held.set_value(respond); });
  auto r = HttpCall(path_, "GET", "/slow", "", 300ms);
  Responder unanswered = held.get_future().get();  // answered 500 when it goes, to nobody
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().ToString(),
            "io_error: no answer from hashmeshd at " + path_ + " within 0.3 s");
}

}  // namespace
}  // namespace hashmesh
