// Tests for daemon/peer_transport: real TLS over 127.0.0.1 between two transports, and against
// `openssl s_client` / `s_server` as foreign peers; framing limits, back-pressure and deadlines.
#include "daemon/net/peer_transport.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "common/crypto.h"
#include "keys/tls_cert.h"

extern char** environ;

namespace hashmesh {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

constexpr auto kWait = seconds(5);  // generous: only reached when something is wrong

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary);
  out << contents;
}

// Polls `pred` (for state that nobody signals, like counters) until it holds or the timeout.
template <typename Pred>
bool Eventually(Pred pred, Clock::duration timeout = kWait) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return pred();
}

struct Node {
  SecretKey key;
  std::unique_ptr<PeerTransport> transport;
};

Node MakeNode(PeerTransportOptions options = {}) {
  SecretKey key = SecretKey::Generate();
  Result<std::string> cert = MakeSelfSignedCertificate(key, "node", 1700000000000);
  EXPECT_TRUE(cert.ok()) << cert.status().ToString();
  auto transport = PeerTransport::Create(key.seed(), *cert, options, /*threads=*/2);
  EXPECT_TRUE(transport.ok()) << transport.status().ToString();
  return Node{std::move(key), std::move(*transport)};
}

// Records what one connection delivers. Thread-safe; held by shared_ptr from the handlers.
class Sink : public std::enable_shared_from_this<Sink> {
 public:
  PeerConnection::Handlers Handlers() {
    auto self = shared_from_this();
    return {.on_frame =
                [self](std::string frame) {
                  std::lock_guard lock(self->mu_);
                  self->frames_.push_back(std::move(frame));
                  self->cv_.notify_all();
                  return !self->pause.load();
                },
            .on_close =
                [self](const Status& why) {
                  std::lock_guard lock(self->mu_);
                  ++self->closes_;
                  self->why_ = why;
                  self->cv_.notify_all();
                }};
  }

  bool WaitFrames(size_t n, Clock::duration timeout = kWait) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return frames_.size() >= n; });
  }
  bool WaitClosed(Clock::duration timeout = kWait) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return closes_ > 0; });
  }
  std::vector<std::string> frames() {
    std::lock_guard lock(mu_);
    return frames_;
  }
  int closes() {
    std::lock_guard lock(mu_);
    return closes_;
  }
  Status why() {
    std::lock_guard lock(mu_);
    return why_;
  }

  std::atomic<bool> pause{false};  // on_frame returns !pause

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> frames_;
  int closes_ = 0;
  Status why_;
};

// Inbound connections of one transport, and its handshake failures. The callbacks share its
// state by shared_ptr, so they stay safe if the transport outlives the Inbox.
class Inbox {
 public:
  explicit Inbox(PeerTransport& transport) {
    transport.SetHandshakeFailureObserver([s = s_](const std::string&, const Status& why) {
      std::lock_guard lock(s->mu);
      s->failures.push_back(why);
      s->cv.notify_all();
    });
  }

  std::function<void(std::shared_ptr<PeerConnection>)> OnAccept() {
    return [s = s_](std::shared_ptr<PeerConnection> c) {
      std::lock_guard lock(s->mu);
      s->accepted.push_back(std::move(c));
      s->cv.notify_all();
    };
  }

  std::shared_ptr<PeerConnection> Next(Clock::duration timeout = kWait) {
    std::unique_lock lock(s_->mu);
    if (!s_->cv.wait_for(lock, timeout, [&] { return s_->taken < s_->accepted.size(); })) {
      return nullptr;
    }
    return s_->accepted[s_->taken++];
  }
  // The next handshake failure, or OK if none comes within `timeout`.
  Status NextFailure(Clock::duration timeout = kWait) {
    std::unique_lock lock(s_->mu);
    if (!s_->cv.wait_for(lock, timeout, [&] { return s_->failures_taken < s_->failures.size(); })) {
      return Status::Ok();
    }
    return s_->failures[s_->failures_taken++];
  }
  size_t accepted() {
    std::lock_guard lock(s_->mu);
    return s_->accepted.size();
  }

 private:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::shared_ptr<PeerConnection>> accepted;
    size_t taken = 0;
    std::vector<Status> failures;
    size_t failures_taken = 0;
  };
  std::shared_ptr<State> s_ = std::make_shared<State>();
};

Result<std::shared_ptr<PeerConnection>> ConnectSync(PeerTransport& transport,
                                                    const std::string& address) {
  auto promise = std::make_shared<std::promise<Result<std::shared_ptr<PeerConnection>>>>();
  auto future = promise->get_future();
  transport.Connect(address, [promise](Result<std::shared_ptr<PeerConnection>> r) {
    promise->set_value(std::move(r));
  });
  if (future.wait_for(seconds(10)) != std::future_status::ready) {
    return Internal("Connect did not call back");
  }
  return future.get();
}

std::string Local(uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

// A frame whose contents say which one it is and how long it is, so order and integrity show.
std::string NumberedFrame(size_t index, size_t size) {
  std::string frame(size, '\0');
  for (size_t i = 0; i < size; ++i) frame[i] = static_cast<char>((index * 131 + i * 7) & 0xff);
  std::string tag = "#" + std::to_string(index) + "#";
  frame.replace(0, std::min(tag.size(), size), tag.substr(0, size));
  return frame;
}

// A blocking raw TCP client.
int RawConnect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  timeval tv{.tv_sec = 5, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

// True once the server has closed `fd` (EOF or reset).
bool ClosedByPeer(int fd) {
  char buf[256];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
    // TLS alert bytes may come first; keep reading.
  }
}

uint16_t FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// ---- two transports ---------------------------------------------------------------------------

class PeerTransportTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(InitCrypto()); }
};

TEST_F(PeerTransportTest, ConnectsBothWaysAndRoundTripsFramesInOrder) {
  Node a = MakeNode();
  Node b = MakeNode();
  Inbox a_in(*a.transport), b_in(*b.transport);
  ASSERT_TRUE(a.transport->Listen("127.0.0.1:0", a_in.OnAccept()).ok());
  ASSERT_TRUE(b.transport->Listen("127.0.0.1:0", b_in.OnAccept()).ok());
  ASSERT_NE(a.transport->port(), 0);

  for (bool a_dials : {true, false}) {
    SCOPED_TRACE(a_dials ? "a dials b" : "b dials a");
    Node& dialler = a_dials ? a : b;
    Node& listener = a_dials ? b : a;
    Inbox& inbox = a_dials ? b_in : a_in;
    auto out = ConnectSync(*dialler.transport, Local(listener.transport->port()));
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    std::shared_ptr<PeerConnection> in = inbox.Next();
    ASSERT_NE(in, nullptr);

    EXPECT_EQ((*out)->remote_key(), listener.key.public_key());
    EXPECT_EQ(in->remote_key(), dialler.key.public_key());
    EXPECT_TRUE((*out)->outbound());
    EXPECT_FALSE(in->outbound());
    EXPECT_EQ((*out)->remote_address(), Local(listener.transport->port()));
    EXPECT_EQ(in->remote_address().rfind("127.0.0.1:", 0), 0u) << in->remote_address();

    auto out_sink = std::make_shared<Sink>();
    auto in_sink = std::make_shared<Sink>();
    (*out)->Start(out_sink->Handlers());
    in->Start(in_sink->Handlers());

    // Small, empty, the largest allowed (4 MiB), then small again: order and contents kept.
    std::vector<std::string> sent = {"hello", "", NumberedFrame(2, 4 << 20), "x",
                                     NumberedFrame(4, 100000)};
    for (const auto& f : sent) ASSERT_TRUE((*out)->Send(f).ok());
    ASSERT_TRUE(in_sink->WaitFrames(sent.size()));
    EXPECT_TRUE(in_sink->frames() == sent);

    ASSERT_TRUE(in->Send("reply").ok());
    ASSERT_TRUE(out_sink->WaitFrames(1));
    EXPECT_EQ(out_sink->frames()[0], "reply");

    EXPECT_EQ(in->frames_in(), sent.size());
    EXPECT_TRUE(Eventually([&] { return (*out)->frames_out() == sent.size(); }));
    size_t wire = 0;
    for (const auto& f : sent) wire += 4 + f.size();
    EXPECT_EQ(in->bytes_in(), wire);
    EXPECT_EQ((*out)->bytes_out(), wire);
    EXPECT_EQ((*out)->queued_send_bytes(), 0u);

    (*out)->Close(Unavailable("test done"));
    ASSERT_TRUE(out_sink->WaitClosed());
    EXPECT_EQ(out_sink->why().message(), "test done");
    ASSERT_TRUE(in_sink->WaitClosed());
    EXPECT_EQ(in_sink->why().code(), StatusCode::kUnavailable) << in_sink->why().ToString();
    EXPECT_EQ(out_sink->closes(), 1);
    EXPECT_EQ(in_sink->closes(), 1);
    EXPECT_EQ((*out)->Send("late").code(), StatusCode::kUnavailable);
  }
}

TEST_F(PeerTransportTest, OversizedFrameIsRefusedOnSendAndTheConnectionStays) {
  PeerTransportOptions options;
  options.max_frame_bytes = 1000;
  Node a = MakeNode(options);
  Node b = MakeNode(options);
  Inbox inbox(*b.transport);
  ASSERT_TRUE(b.transport->Listen("127.0.0.1:0", inbox.OnAccept()).ok());
  auto out = ConnectSync(*a.transport, Local(b.transport->port()));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  auto in = inbox.Next();
  ASSERT_NE(in, nullptr);
  auto sink = std::make_shared<Sink>();
  in->Start(sink->Handlers());
  (*out)->Start(std::make_shared<Sink>()->Handlers());

  Status s = (*out)->Send(std::string(1001, 'x'));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("1000-byte limit"), std::string::npos) << s.message();
  ASSERT_TRUE((*out)->Send(std::string(1000, 'y')).ok());
  ASSERT_TRUE(sink->WaitFrames(1));
  EXPECT_EQ(sink->frames()[0].size(), 1000u);
}

TEST_F(PeerTransportTest, OversizedHeaderClosesTheReceiverBeforeTheBody) {
  PeerTransportOptions small;
  small.max_frame_bytes = 1 << 20;
  Node receiver = MakeNode(small);
  Node sender = MakeNode();  // allows 4 MiB
  Inbox inbox(*receiver.transport);
  ASSERT_TRUE(receiver.transport->Listen("127.0.0.1:0", inbox.OnAccept()).ok());
  auto out = ConnectSync(*sender.transport, Local(receiver.transport->port()));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  auto in = inbox.Next();
  ASSERT_NE(in, nullptr);
  auto in_sink = std::make_shared<Sink>();
  auto out_sink = std::make_shared<Sink>();
  in->Start(in_sink->Handlers());
  (*out)->Start(out_sink->Handlers());

  ASSERT_TRUE((*out)->Send(std::string(2 << 20, 'z')).ok());
  ASSERT_TRUE(in_sink->WaitClosed());
  EXPECT_EQ(in_sink->why().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(in_sink->why().message(),
            "frame header announces 2097152 bytes, more than the 1048576-byte limit");
  EXPECT_TRUE(in_sink->frames().empty());
  // Closed right after the header: at most one read's worth of the body came in.
  EXPECT_LT(in->bytes_in(), 4u + (16u << 10));
  ASSERT_TRUE(out_sink->WaitClosed());
}

TEST_F(PeerTransportTest, PausedReadingLeavesDataWithTheSenderUntilResumed) {
  Node a = MakeNode();
  Node b = MakeNode();
  Inbox inbox(*b.transport);
  ASSERT_TRUE(b.transport->Listen("127.0.0.1:0", inbox.OnAccept()).ok());
  auto out = ConnectSync(*a.transport, Local(b.transport->port()));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  auto in = inbox.Next();
  ASSERT_NE(in, nullptr);
  auto sink = std::make_shared<Sink>();
  sink->pause = true;  // the first frame pauses reading
  in->Start(sink->Handlers());
  (*out)->Start(std::make_shared<Sink>()->Handlers());

  // 24 MiB: more than loopback socket buffers can hold, less than the 32 MiB send queue.
  constexpr size_t kFrames = 384;
  constexpr size_t kSize = 64 << 10;
  for (size_t i = 0; i < kFrames; ++i) {
    ASSERT_TRUE((*out)->Send(NumberedFrame(i, kSize)).ok()) << i;
  }
  ASSERT_TRUE(sink->WaitFrames(1));
  std::this_thread::sleep_for(milliseconds(300));
  uint64_t bytes_in = in->bytes_in();
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(in->frames_in(), 1u);
  EXPECT_EQ(in->bytes_in(), bytes_in);  // nothing more read while paused
  // The first frame plus at most one read beyond it: the rest waits in kernel buffers and in
  // the sender's queue, not in the receiver.
  EXPECT_LE(bytes_in, 4 + kSize + (16 << 10));
  EXPECT_GT((*out)->queued_send_bytes(), 0u);
  EXPECT_LT((*out)->bytes_out(), kFrames * (4 + kSize));

  sink->pause = false;
  in->ResumeReading();
  ASSERT_TRUE(sink->WaitFrames(kFrames, seconds(10)));
  std::vector<std::string> frames = sink->frames();
  for (size_t i = 0; i < kFrames; ++i) {
    ASSERT_EQ(frames[i], NumberedFrame(i, kSize)) << i;
  }
  EXPECT_TRUE(Eventually([&] { return (*out)->queued_send_bytes() == 0; }));
}

TEST_F(PeerTransportTest, SendQueueOverflowClosesASlowPeer) {
  PeerTransportOptions options;
  options.max_frame_bytes = 64 << 10;
  options.max_queued_send_bytes = 256 << 10;
  Node a = MakeNode(options);
  Node b = MakeNode();
  Inbox inbox(*b.transport);
  ASSERT_TRUE(b.transport->Listen("127.0.0.1:0", inbox.OnAccept()).ok());
  auto out = ConnectSync(*a.transport, Local(b.transport->port()));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  auto in = inbox.Next();
  ASSERT_NE(in, nullptr);
  auto in_sink = std::make_shared<Sink>();
  in_sink->pause = true;
  in->Start(in_sink->Handlers());
  auto out_sink = std::make_shared<Sink>();
  (*out)->Start(out_sink->Handlers());

  Status s;
  for (int i = 0; i < 8000 && s.ok(); ++i) s = (*out)->Send(std::string(64 << 10, 'q'));
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
  ASSERT_TRUE(out_sink->WaitClosed());
  EXPECT_EQ(out_sink->why().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(out_sink->why().message().find("peer reads too slowly"), std::string::npos);
  EXPECT_EQ((*out)->Send("more").code(), StatusCode::kUnavailable);
}

TEST_F(PeerTransportTest, IdleConnectionIsClosedButAPausedOneIsNot) {
  PeerTransportOptions options;
  options.idle_timeout = seconds(1);
  Node server = MakeNode(options);
  Node client = MakeNode();
  Inbox inbox(*server.transport);
  ASSERT_TRUE(server.transport->Listen("127.0.0.1:0", inbox.OnAccept()).ok());

  auto quiet = ConnectSync(*client.transport, Local(server.transport->port()));
  ASSERT_TRUE(quiet.ok());
  auto quiet_in = inbox.Next();
  auto paused = ConnectSync(*client.transport, Local(server.transport->port()));
  ASSERT_TRUE(paused.ok());
  auto paused_in = inbox.Next();
  ASSERT_TRUE(quiet_in && paused_in);
  auto quiet_sink = std::make_shared<Sink>();
  auto paused_sink = std::make_shared<Sink>();
  paused_sink->pause = true;
  quiet_in->Start(quiet_sink->Handlers());
  paused_in->Start(paused_sink->Handlers());
  ASSERT_TRUE((*paused)->Send("pause here").ok());
  ASSERT_TRUE(paused_sink->WaitFrames(1));

  auto start = Clock::now();
  ASSERT_TRUE(quiet_sink->WaitClosed(seconds(3)));
  EXPECT_GE(Clock::now() - start, milliseconds(800));
  EXPECT_EQ(quiet_sink->why().ToString(), "unavailable: nothing received for 1 s");
  std::this_thread::sleep_for(milliseconds(1200));
  EXPECT_EQ(paused_sink->closes(), 0) << paused_sink->why().ToString();
}

TEST_F(PeerTransportTest, SlowHandshakesAreCutAtTheDeadlineWithoutBlockingOthers) {
  PeerTransportOptions options;
  options.handshake_timeout = seconds(1);
  Node server = MakeNode(options);
  Node client = MakeNode();
  Inbox inbox(*server.transport);
  ASSERT_TRUE(server.transport->Listen("127.0.0.1:0", inbox.OnAccept()).ok());
  uint16_t port = server.transport->port();

  auto start = Clock::now();
  int silent = RawConnect(port);
  ASSERT_GE(silent, 0);
  // A trickler sends the start of a ClientHello, a byte at a time.
  std::thread trickler([port] {
    int fd = RawConnect(port);
    const char hello[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00};
    for (char c : hello) {
      if (send(fd, &c, 1, MSG_NOSIGNAL) != 1) break;
      std::this_thread::sleep_for(milliseconds(300));
    }
    close(fd);
  });

  // An honest peer meanwhile gets through at once.
  auto honest = ConnectSync(*client.transport, Local(port));
  ASSERT_TRUE(honest.ok()) << honest.status().ToString();
  EXPECT_LT(Clock::now() - start, milliseconds(800));
  auto honest_in = inbox.Next();
  ASSERT_NE(honest_in, nullptr);
  auto sink = std::make_shared<Sink>();
  honest_in->Start(sink->Handlers());
  ASSERT_TRUE((*honest)->Send("still here").ok());
  ASSERT_TRUE(sink->WaitFrames(1));

  EXPECT_TRUE(ClosedByPeer(silent));
  auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, milliseconds(900));
  EXPECT_LT(elapsed, milliseconds(3000));
  close(silent);
  trickler.join();
  for (int i = 0; i < 2; ++i) {
    Status why = inbox.NextFailure();
    EXPECT_EQ(why.ToString(), "unavailable: TLS handshake not complete within 1 s");
  }
  EXPECT_EQ(inbox.accepted(), 1u);
}

TEST_F(PeerTransportTest, HandshakesInProgressAreBounded) {
  PeerTransportOptions options;
  options.max_pending_handshakes = 2;
  Node server = MakeNode(options);
  Node client = MakeNode();
  Inbox inbox(*server.transport);
  ASSERT_TRUE(server.transport->Listen("127.0.0.1:0", inbox.OnAccept()).ok());
  uint16_t port = server.transport->port();

  int silent1 = RawConnect(port);
  int silent2 = RawConnect(port);
  ASSERT_TRUE(silent1 >= 0 && silent2 >= 0);
  // The third is over the limit: closed at once, long before the 10 s handshake deadline.
  std::this_thread::sleep_for(milliseconds(100));
  auto start = Clock::now();
  int third = RawConnect(port);
  ASSERT_GE(third, 0);
  EXPECT_TRUE(ClosedByPeer(third));
  EXPECT_LT(Clock::now() - start, seconds(2));
  close(third);

  // Slots free up when those handshakes end, here by their clients hanging up.
  close(silent1);
  close(silent2);
  for (int i = 0; i < 2; ++i) EXPECT_FALSE(inbox.NextFailure().ok());
  auto honest = ConnectSync(*client.transport, Local(port));
  EXPECT_TRUE(honest.ok()) << honest.status().ToString();
}

TEST_F(PeerTransportTest, PlainTextClientIsRefused) {
  Node server = MakeNode();
  Inbox inbox(*server.transport);
  ASSERT_TRUE(server.transport->Listen("127.0.0.1:0", inbox.OnAccept()).ok());
  int fd = RawConnect(server.transport->port());
  ASSERT_GE(fd, 0);
  const std::string request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  EXPECT_TRUE(ClosedByPeer(fd));
  close(fd);
  Status why = inbox.NextFailure();
  EXPECT_EQ(why.code(), StatusCode::kPermissionDenied) << why.ToString();
  EXPECT_EQ(why.message().rfind("TLS handshake failed: ", 0), 0u) << why.message();
}

TEST_F(PeerTransportTest, AcceptFilterClosesBeforeTls) {
  std::mutex mu;  // declared first: the filter uses them until the transport stops
  std::vector<std::string> seen;
  Node server = MakeNode();
  Node client = MakeNode();
  Inbox inbox(*server.transport);
  server.transport->SetAcceptFilter([&](const std::string& ip) {
    std::lock_guard lock(mu);
    seen.push_back(ip);
    return false;
  });
  ASSERT_TRUE(server.transport->Listen("127.0.0.1:0", inbox.OnAccept()).ok());
  auto r = ConnectSync(*client.transport, Local(server.transport->port()));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find("connect to 127.0.0.1:"), std::string::npos);
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(seen, std::vector<std::string>{"127.0.0.1"});
  }
  EXPECT_EQ(inbox.accepted(), 0u);
}

TEST_F(PeerTransportTest, ConnectErrorsNameTheAddressAndTheReason) {
  Node client = MakeNode();
  uint16_t port = FreePort();  // nobody listens there
  auto refused = ConnectSync(*client.transport, Local(port));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().ToString(),
            "unavailable: connect to " + Local(port) + ": Connection refused");

  auto bad = ConnectSync(*client.transport, "no-port-here");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument) << bad.status().ToString();
  EXPECT_EQ(ConnectSync(*client.transport, "::1:7000").status().code(),
            StatusCode::kInvalidArgument);

  // A listener that completes TCP but never speaks TLS: the deadline applies to dialling too.
  PeerTransportOptions options;
  options.handshake_timeout = seconds(1);
  Node impatient = MakeNode(options);
  int mute = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(mute, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(mute, 8), 0);
  socklen_t len = sizeof(addr);
  getsockname(mute, reinterpret_cast<sockaddr*>(&addr), &len);
  std::string mute_address = Local(ntohs(addr.sin_port));
  auto timed_out = ConnectSync(*impatient.transport, mute_address);
  EXPECT_EQ(timed_out.status().ToString(),
            "unavailable: connect to " + mute_address + ": TLS handshake not complete within 1 s");

  // Stop() answers a pending Connect.
  std::promise<Status> promise;
  client.transport->Connect(mute_address, [&](Result<std::shared_ptr<PeerConnection>> r) {
    promise.set_value(r.status());
  });
  std::this_thread::sleep_for(milliseconds(100));
  client.transport->Stop();
  auto future = promise.get_future();
  ASSERT_EQ(future.wait_for(seconds(1)), std::future_status::ready);
  EXPECT_EQ(future.get().ToString(),
            "unavailable: connect to " + mute_address + ": peer transport stopped");
  close(mute);
}

TEST_F(PeerTransportTest, StopClosesEveryConnectionOnce) {
  Node a = MakeNode();
  Node b = MakeNode();
  Inbox inbox(*b.transport);
  ASSERT_TRUE(b.transport->Listen("127.0.0.1:0", inbox.OnAccept()).ok());
  auto out = ConnectSync(*a.transport, Local(b.transport->port()));
  ASSERT_TRUE(out.ok());
  auto in = inbox.Next();
  ASSERT_NE(in, nullptr);
  auto out_sink = std::make_shared<Sink>();
  auto in_sink = std::make_shared<Sink>();
  (*out)->Start(out_sink->Handlers());
  in->Start(in_sink->Handlers());

  b.transport.reset();  // ~PeerTransport stops it; `in` outlives it
  EXPECT_EQ(in_sink->closes(), 1);
  EXPECT_EQ(in_sink->why().ToString(), "unavailable: peer transport stopped");
  EXPECT_EQ(in->Send("after").code(), StatusCode::kUnavailable);
  in->ResumeReading();
  in->Close(Internal("ignored"));
  ASSERT_TRUE(out_sink->WaitClosed());
  EXPECT_EQ(out_sink->why().code(), StatusCode::kUnavailable) << out_sink->why().ToString();
  EXPECT_EQ(in_sink->closes(), 1);
}

TEST_F(PeerTransportTest, CreateAndListenCheckTheirArguments) {
  SecretKey key = SecretKey::Generate();
  SecretKey other = SecretKey::Generate();
  Result<std::string> other_cert = MakeSelfSignedCertificate(other, "other", 1700000000000);
  ASSERT_TRUE(other_cert.ok());
  auto wrong = PeerTransport::Create(key.seed(), *other_cert, {}, 1);
  EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidArgument) << wrong.status().ToString();
  auto garbage = PeerTransport::Create(key.seed(), "not a cert", {}, 1);
  EXPECT_EQ(garbage.status().code(), StatusCode::kInvalidArgument);

  Node node = MakeNode();
  Inbox inbox(*node.transport);
  EXPECT_EQ(node.transport->Listen("localhost:0", inbox.OnAccept()).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(node.transport->Listen("127.0.0.1:99999", inbox.OnAccept()).code(),
            StatusCode::kInvalidArgument);
  ASSERT_TRUE(node.transport->Listen("127.0.0.1:0", inbox.OnAccept()).ok());
  EXPECT_EQ(node.transport->Listen("127.0.0.1:0", inbox.OnAccept()).code(),
            StatusCode::kFailedPrecondition);
  Node second = MakeNode();
  Status taken = second.transport->Listen(Local(node.transport->port()), inbox.OnAccept());
  EXPECT_EQ(taken.code(), StatusCode::kIoError) << taken.ToString();
}

// ---- foreign TLS peers: openssl s_client and s_server -----------------------------------------

class ForeignPeerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string tmpl = ::testing::TempDir() + "peer_transport_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = new std::string(tmpl);
    // Ed25519, self-signed (acceptable at the TLS layer); RSA and ECDSA (refused); an Ed25519
    // certificate signed by another key, so its self-signature fails (refused).
    ASSERT_TRUE(
        Sh("openssl genpkey -algorithm ed25519 -out ed.key && "
           "openssl req -x509 -new -key ed.key -subj /CN=foreign -days 2 -out ed.crt && "
           "openssl req -x509 -newkey rsa:2048 -nodes -keyout rsa.key -out rsa.crt "
           "  -subj /CN=rsa -days 2 && "
           "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
           "  -keyout ec.key -out ec.crt -subj /CN=ec -days 2 && "
           "openssl genpkey -algorithm ed25519 -out ca.key && "
           "openssl req -x509 -new -key ca.key -subj /CN=ca -days 2 -out ca.crt && "
           "openssl genpkey -algorithm ed25519 -out leaf.key && "
           "openssl req -new -key leaf.key -subj /CN=leaf -out leaf.csr && "
           "openssl x509 -req -in leaf.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
           "  -days 2 -out leaf.crt"));
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }

  void SetUp() override {
    ASSERT_TRUE(InitCrypto());
    server_.emplace(MakeNode());
    inbox_ = std::make_unique<Inbox>(*server_->transport);
    ASSERT_TRUE(server_->transport->Listen("127.0.0.1:0", inbox_->OnAccept()).ok());
  }

  // Runs `command` in the temporary directory; output goes to last.log there.
  static bool Sh(const std::string& command) {
    std::string full = "cd '" + *dir_ + "' && (" + command + ") >last.log 2>&1";
    int rc = std::system(full.c_str());
    if (rc != 0) ADD_FAILURE() << command << "\n" << ReadFile(*dir_ + "/last.log");
    return rc == 0;
  }
  static std::string Path(const std::string& file) { return *dir_ + "/" + file; }

  // One s_client session against our server: handshake, send stdin_bytes, close at EOF. Its own
  // exit status does not matter (with TLS 1.3 a client learns of a refused certificate only
  // after its side of the handshake is done); the server's view is what is checked.
  void SClient(const std::string& args, const std::string& stdin_bytes = "") {
    WriteFile(Path("stdin.bin"), stdin_bytes);
    std::string command = "cd '" + *dir_ + "' && timeout 10 openssl s_client -connect " +
                          Local(server_->transport->port()) + " " + args +
                          " <stdin.bin >s_client.log 2>&1";
    std::system(command.c_str());
  }

  void ExpectRefused(const std::string& args, const std::string& reason) {
    SCOPED_TRACE(args);
    SClient(args);
    Status why = inbox_->NextFailure();
    EXPECT_EQ(why.code(), StatusCode::kPermissionDenied) << why.ToString();
    EXPECT_NE(why.message().find(reason), std::string::npos) << why.message() << "\n"
                                                             << ReadFile(Path("s_client.log"));
    EXPECT_EQ(inbox_->accepted(), 0u);
  }

  static std::string* dir_;
  std::optional<Node> server_;  // Node has no default constructor
  std::unique_ptr<Inbox> inbox_;
};

std::string* ForeignPeerTest::dir_ = nullptr;

TEST_F(ForeignPeerTest, ValidEd25519ClientIsAcceptedWithItsKey) {
  SClient("-alpn hashmesh/1 -cert ed.crt -key ed.key");
  std::shared_ptr<PeerConnection> in = inbox_->Next();
  ASSERT_NE(in, nullptr) << ReadFile(Path("s_client.log"));
  Result<PublicKey> key = CertificatePublicKey(ReadFile(Path("ed.crt")));
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(in->remote_key(), *key);
  EXPECT_FALSE(in->outbound());
  // What s_client saw: TLS 1.3 and our ALPN.
  std::string log = ReadFile(Path("s_client.log"));
  EXPECT_NE(log.find("TLSv1.3"), std::string::npos) << log;
  EXPECT_NE(log.find("ALPN protocol: hashmesh/1"), std::string::npos) << log;
}

TEST_F(ForeignPeerTest, RefusesTls12) {
  ExpectRefused("-tls1_2 -alpn hashmesh/1 -cert ed.crt -key ed.key", "unsupported protocol");
}

TEST_F(ForeignPeerTest, RefusesWrongAlpn) {
  ExpectRefused("-alpn other/1 -cert ed.crt -key ed.key",
                "client offered ALPN other/1, not hashmesh/1");
}

TEST_F(ForeignPeerTest, RefusesMissingAlpn) {
  ExpectRefused("-cert ed.crt -key ed.key", "client offered no ALPN");
}

TEST_F(ForeignPeerTest, RefusesClientWithoutCertificate) {
  ExpectRefused("-alpn hashmesh/1", "peer did not return a certificate");
}

TEST_F(ForeignPeerTest, RefusesRsaAndEcdsaCertificates) {
  ExpectRefused("-alpn hashmesh/1 -cert rsa.crt -key rsa.key",
                "peer certificate refused: certificate key is not Ed25519 (RSA)");
  ExpectRefused("-alpn hashmesh/1 -cert ec.crt -key ec.key",
                "peer certificate refused: certificate key is not Ed25519 (ECDSA)");
}

TEST_F(ForeignPeerTest, RefusesCertificateWhoseSelfSignatureFails) {
  ExpectRefused("-alpn hashmesh/1 -cert leaf.crt -key leaf.key",
                "peer certificate refused: certificate self-signature does not verify");
}

TEST_F(ForeignPeerTest, HugeLengthHeaderClosesOnlyThatConnection) {
  // A healthy connection first, which must survive.
  Node other = MakeNode();
  auto healthy = ConnectSync(*other.transport, Local(server_->transport->port()));
  ASSERT_TRUE(healthy.ok()) << healthy.status().ToString();
  auto healthy_in = inbox_->Next();
  ASSERT_NE(healthy_in, nullptr);
  auto healthy_sink = std::make_shared<Sink>();
  healthy_in->Start(healthy_sink->Handlers());

  // 0x80000000 = 2 GiB, then garbage.
  std::thread client([this] {
    SClient("-alpn hashmesh/1 -cert ed.crt -key ed.key",
            std::string("\x80\x00\x00\x00", 4) + "garbage garbage garbage");
  });
  std::shared_ptr<PeerConnection> bad = inbox_->Next();
  ASSERT_NE(bad, nullptr);
  auto bad_sink = std::make_shared<Sink>();
  bad->Start(bad_sink->Handlers());
  ASSERT_TRUE(bad_sink->WaitClosed());
  client.join();
  EXPECT_EQ(bad_sink->why().ToString(),
            "invalid_argument: frame header announces 2147483648 bytes, more than the "
            "4194304-byte limit");
  EXPECT_TRUE(bad_sink->frames().empty());

  ASSERT_TRUE((*healthy)->Send("still fine").ok());
  ASSERT_TRUE(healthy_sink->WaitFrames(1));
  EXPECT_EQ(healthy_sink->frames()[0], "still fine");
  EXPECT_EQ(healthy_sink->closes(), 0);
}

TEST_F(ForeignPeerTest, TruncatedFrameClosesWithReason) {
  std::thread client([this] {
    // One whole 3-byte frame, then a header for 16 bytes with only 3 of them before EOF.
    SClient("-alpn hashmesh/1 -cert ed.crt -key ed.key", std::string("\x00\x00\x00\x03"
                                                                     "abc"
                                                                     "\x00\x00\x00\x10"
                                                                     "xyz",
                                                                     14));
  });
  std::shared_ptr<PeerConnection> in = inbox_->Next();
  ASSERT_NE(in, nullptr);
  auto sink = std::make_shared<Sink>();
  in->Start(sink->Handlers());
  ASSERT_TRUE(sink->WaitClosed());
  client.join();
  EXPECT_EQ(sink->frames(), std::vector<std::string>{"abc"});
  EXPECT_EQ(sink->why().ToString(),
            "unavailable: peer closed the connection in the middle of a frame (3 of 16 body "
            "bytes)");
}

// Our client against s_server: the server's certificate and ALPN choice are checked too.
class ForeignServerTest : public ForeignPeerTest {
 protected:
  // Starts s_server on a free port and waits until it listens.
  void StartServer(const std::string& args) {
    port_ = FreePort();
    fs::remove(Path("s_server.log"));
    std::string command = "cd '" + *dir_ +
                          "' && exec openssl s_server -accept 127.0.0.1:" + std::to_string(port_) +
                          " -naccept 1 " + args + " >s_server.log 2>&1";
    const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
    // s_server quits at EOF on its stdin, so it gets a pipe that stays open until TearDown.
    int fds[2];
    ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
    stdin_ = fds[1];
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[0], 0);
    int rc = posix_spawn(&pid_, "/bin/sh", &actions, nullptr, const_cast<char**>(argv), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[0]);
    ASSERT_EQ(rc, 0);
    ASSERT_TRUE(Eventually([&] {
      return ReadFile(Path("s_server.log")).find("ACCEPT") != std::string::npos;
    })) << ReadFile(Path("s_server.log"));
  }
  void TearDown() override {
    if (stdin_ >= 0) close(stdin_);
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }

  pid_t pid_ = -1;
  int stdin_ = -1;
  uint16_t port_ = 0;
};

TEST_F(ForeignServerTest, RefusesServerWithRsaCertificate) {
  StartServer("-cert rsa.crt -key rsa.key -alpn hashmesh/1");
  auto r = ConnectSync(*server_->transport, Local(port_));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().ToString(),
            "permission_denied: connect to " + Local(port_) +
                ": TLS handshake failed: peer certificate refused: certificate key is not "
                "Ed25519 (RSA)");
}

TEST_F(ForeignServerTest, RefusesServerThatSelectsNoAlpn) {
  StartServer("-cert ed.crt -key ed.key");  // no -alpn: it ignores ours
  auto r = ConnectSync(*server_->transport, Local(port_));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().ToString(),
            "permission_denied: connect to " + Local(port_) +
                ": TLS handshake failed: no ALPN agreed (hashmesh/1 required)");
}

TEST_F(ForeignServerTest, ReportsTheAlertOfAServerWithAnotherAlpn) {
  StartServer("-cert ed.crt -key ed.key -alpn other/1");
  auto r = ConnectSync(*server_->transport, Local(port_));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().ToString(),
            "permission_denied: connect to " + Local(port_) +
                ": TLS handshake failed: tlsv1 alert no application protocol");
}

}  // namespace
}  // namespace hashmesh
