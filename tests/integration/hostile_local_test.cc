// Hostile local clients against a real hashmeshd's unix sockets: a 1 GiB body, requests that never
// end, 10,000 connections, and the daemon running out of file descriptors. An honest client on
// the same socket must keep getting answers (perhaps 503) and full service once the flood ends.
#include <fcntl.h>
#include <signal.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "daemon/cli/api_client.h"
#include "tests/support/federation.h"
#include "tests/support/test_node.h"

namespace hashmesh::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// A connected unix stream socket (blocking unless `nonblocking`), or -1.
int Dial(const std::string& path, bool nonblocking = false) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) return -1;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// What a client that writes `total` bytes after `head` saw: the server's answer (whatever it
// wrote before closing) and how much of the body it got to write.
struct Upload {
  std::string answer;
  size_t written = 0;
  bool closed = false;  // the server closed before we wrote everything
};

// Writes `head`, then `total` bytes of body from `chunk` repeated (each framed by `frame` when
// chunked), as fast as the socket takes them, while reading whatever the server answers; stops
// when the server closes or `deadline` passes.
Upload Stream(const std::string& path, const std::string& head, size_t total, bool chunked,
              seconds limit = seconds(30)) {
  Upload up;
  int fd = Dial(path);
  if (fd < 0) return up;
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  std::string out = head;
  size_t out_at = 0;
  const std::string data(64 << 10, 'a');
  const auto deadline = Clock::now() + limit;
  bool reading = true;
  while (Clock::now() < deadline && reading) {
    if (out_at == out.size() && up.written < total) {
      const size_t n = std::min(data.size(), total - up.written);
      if (chunked) {
        char size_line[32];
        std::snprintf(size_line, sizeof size_line, "%zx\r\n", n);
        out = size_line + data.substr(0, n) + "\r\n";
      } else {
        out = data.substr(0, n);
      }
      out_at = 0;
      up.written += n;
    }
    pollfd p{fd, static_cast<short>(POLLIN | (out_at < out.size() ? POLLOUT : 0)), 0};
    if (poll(&p, 1, 100) <= 0) continue;
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[4096];
      ssize_t n = read(fd, buf, sizeof buf);
      if (n > 0) {
        up.answer.append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EAGAIN) {
        reading = false;
      }
    }
    if ((p.revents & POLLOUT) && out_at < out.size()) {
      ssize_t n = send(fd, out.data() + out_at, out.size() - out_at, MSG_NOSIGNAL);
      if (n > 0) out_at += static_cast<size_t>(n);
      if (n < 0 && errno != EAGAIN) up.closed = true;
    }
  }
  if (!reading) up.closed = up.closed || up.written < total || out_at < out.size();
  // What was framed but not sent does not count as written.
  up.written -= std::min(up.written, out.size() - out_at);
  close(fd);
  return up;
}

std::string StatusLine(const std::string& answer) { return answer.substr(0, answer.find("\r\n")); }

long VmHwmKib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// CPU seconds the process has used (user + system), from /proc/<pid>/stat.
double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string field;
  unsigned long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoul(field);
    if (i == 15) stime = std::stoul(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

size_t OpenFds(pid_t pid) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    ++n;
  }
  return n;
}

class HostileLocalTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(node_.Start().ok()); }

  // /v1/status from an honest client: its HTTP status, or 0 when it got no answer (the reason
  // is printed).
  int Honest(const std::string& socket) {
    auto r = HttpCall(socket, "GET", "/v1/status", "", seconds(5));
    if (!r.ok()) std::printf("honest client got no answer: %s\n", r.status().ToString().c_str());
    return r.ok() ? r->status : 0;
  }

  TempDir dir_;
  TestNode node_{dir_.path(), "local"};
};

// A body announced (Content-Length) or streamed (chunked) as 1 GiB, on the query and the admin
// socket: answered 413 and closed after the server read at most its 1 MiB limit (plus what the
// socket buffers hold), not 1 GiB. Meanwhile, two requests that never end get 408 after the
// documented 10 s request timeout.
TEST_F(HostileLocalTest, HugeBodiesAre413AndUnterminatedRequestsTimeOut) {
  const auto started = Clock::now();
  auto unterminated = [&](std::string request) {
    return std::async(std::launch::async, [this, request, started] {
      Upload up = Stream(node_.socket(), request, 0, false, seconds(30));
      const double after = std::chrono::duration<double>(Clock::now() - started).count();
      return std::make_pair(up, after);
    });
  };
  auto no_header_end = unterminated("GET /v1/status HTTP/1.1\r\nHost: x\r\n");
  auto short_body =
      unterminated("POST /v1/match HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"type\":");

  constexpr size_t kGiB = size_t{1} << 30;
  constexpr size_t kReadBound = 16 << 20;  // 1 MiB limit + socket buffers, generously
  const long hwm_before = VmHwmKib(node_.pid());
  struct Case {
    std::string socket, target;
    bool chunked;
  };
  for (const Case& c :
       {Case{node_.socket(), "/v1/match", false}, Case{node_.socket(), "/v1/match", true},
        Case{node_.admin_socket(), "/v1/signals", false},
        Case{node_.admin_socket(), "/v1/signals", true}}) {
    const std::string head = "POST " + c.target + " HTTP/1.1\r\nHost: x\r\n" +
                             (c.chunked ? std::string("Transfer-Encoding: chunked\r\n")
                                        : "Content-Length: " + std::to_string(kGiB) + "\r\n") +
                             "Content-Type: application/json\r\n\r\n";
    const auto t0 = Clock::now();
    Upload up = Stream(c.socket, head, kGiB, c.chunked);
    const double took = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("1 GiB %s body to %s: '%s' after %zu KiB written, %.2f s\n",
                c.chunked ? "chunked" : "Content-Length", c.target.c_str(),
                StatusLine(up.answer).c_str(), up.written >> 10, took);
    EXPECT_EQ(StatusLine(up.answer), "HTTP/1.1 413 Payload Too Large") << c.target;
    EXPECT_TRUE(up.closed) << c.target;
    EXPECT_LT(up.written, kReadBound) << c.target;
    EXPECT_EQ(Honest(c.socket), 200);
  }
  const long hwm_after = VmHwmKib(node_.pid());
  std::printf("daemon VmHWM %ld MiB before, %ld MiB after\n", hwm_before >> 10, hwm_after >> 10);
  EXPECT_LT(hwm_after - hwm_before, 64 << 10) << "KiB";

  for (auto* f : {&no_header_end, &short_body}) {
    auto [up, after] = f->get();
    std::printf("unterminated request: '%s' after %.1f s\n", StatusLine(up.answer).c_str(), after);
    EXPECT_EQ(StatusLine(up.answer), "HTTP/1.1 408 Request Timeout");
    EXPECT_LT(after, 20.0) << "the request timeout is 10 s";
  }
}

// 10,000 local connections that send nothing: the first max_connections (1024) are served, the
// rest answered 503 and closed; an honest client gets 503 meanwhile, and 200 as soon as they go.
TEST_F(HostileLocalTest, TenThousandConnections) {
  rlimit lim{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
  const rlim_t old_soft = lim.rlim_cur;
  lim.rlim_cur = lim.rlim_max;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);
  std::printf("test process RLIMIT_NOFILE raised from %lu to %lu\n",
              static_cast<unsigned long>(old_soft), static_cast<unsigned long>(lim.rlim_cur));
  const int wanted = static_cast<int>(std::min<rlim_t>(10000, lim.rlim_cur - 200));

  std::vector<int> fds;
  int refused = 0;
  const auto t0 = Clock::now();
  while (static_cast<int>(fds.size()) < wanted && Clock::now() - t0 < seconds(30)) {
    int fd = Dial(node_.socket(), /*nonblocking=*/true);
    if (fd >= 0) {
      fds.push_back(fd);
    } else {
      ++refused;  // backlog full for a moment (EAGAIN): the server is behind
      std::this_thread::sleep_for(milliseconds(1));
    }
  }
  std::printf("opened %zu connections in %.1f s (%d connects refused and retried)\n", fds.size(),
              std::chrono::duration<double>(Clock::now() - t0).count(), refused);
  EXPECT_EQ(static_cast<int>(fds.size()), wanted);
  // The honest client arrives while the backlog is full (the daemon paused, more connections
  // queued until the kernel refuses them): it waits for room instead of failing at once.
  ASSERT_EQ(kill(node_.pid(), SIGSTOP), 0);
  int queued = 0;
  while (fds.size() + 100 < lim.rlim_cur) {  // keep descriptors for the honest client
    int fd = Dial(node_.socket(), /*nonblocking=*/true);
    if (fd < 0) break;
    fds.push_back(fd);
    ++queued;
  }
  auto honest = std::async(std::launch::async, [&] { return Honest(node_.socket()); });
  std::this_thread::sleep_for(milliseconds(300));
  ASSERT_EQ(kill(node_.pid(), SIGCONT), 0);
  const int during = honest.get();
  std::printf("%d more queued while the daemon was paused\n", queued);
  EXPECT_TRUE(during == 200 || during == 503) << during;
  EXPECT_EQ(Honest(node_.admin_socket()), 200) << "the admin socket has its own limit";
  for (int fd : fds) close(fd);
  EXPECT_TRUE(WaitFor([&] { return Honest(node_.socket()) == 200; }, 10));
  std::printf("honest client during: %d, after closing: %d\n", during, Honest(node_.socket()));
  EXPECT_TRUE(node_.running());
}

// The daemon out of file descriptors (its limit lowered to just above what it has open): accept()
// fails with EMFILE. It must neither spin nor crash, must answer the connections waiting in the
// backlog (503) rather than leave clients hanging, and serve again once descriptors are free.
TEST_F(HostileLocalTest, OutOfFileDescriptors) {
  const pid_t pid = node_.pid();
  const size_t open_now = OpenFds(pid);
  rlimit old{};
  ASSERT_EQ(prlimit(pid, RLIMIT_NOFILE, nullptr, &old), 0) << std::strerror(errno);
  rlimit lim{open_now + 40, old.rlim_max};
  ASSERT_EQ(prlimit(pid, RLIMIT_NOFILE, &lim, nullptr), 0) << std::strerror(errno);

  std::vector<int> fds;
  for (int i = 0; i < 400; ++i) {
    int fd = Dial(node_.socket(), /*nonblocking=*/true);
    if (fd >= 0) fds.push_back(fd);
  }
  std::this_thread::sleep_for(milliseconds(500));
  const double cpu0 = CpuSeconds(pid);
  const auto t0 = Clock::now();
  // An honest client now gets an answer (503), not a hang in the backlog.
  const int during = Honest(node_.socket());
  std::this_thread::sleep_for(seconds(2));
  const double cpu = CpuSeconds(pid) - cpu0;
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf(
      "out of fds: %zu connections held, honest client got %d, daemon used %.2f s CPU in "
      "%.1f s\n",
      fds.size(), during, cpu, wall);
  EXPECT_EQ(during, 503);
  EXPECT_LT(cpu, 0.5 * wall) << "accept() spins on EMFILE";
  EXPECT_NE(node_.log().find("accept failed"), std::string::npos) << node_.log();

  for (int fd : fds) close(fd);
  (void)prlimit(pid, RLIMIT_NOFILE, &old, nullptr);
  EXPECT_TRUE(WaitFor([&] { return Honest(node_.socket()) == 200; }, 5));
  EXPECT_TRUE(node_.running());
}

// Started with the common soft limit of 1,024 descriptors (below its 2 x 1,024 local connections),
// the daemon raises its soft limit to the hard one.
TEST(HostileLocalLimitsTest, DaemonRaisesItsOpenFileLimit) {
  rlimit mine{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &mine), 0);
  if (mine.rlim_max <= 1024) GTEST_SKIP() << "hard limit " << mine.rlim_max;
  TempDir dir;
  TestNode node(dir.path(), "limits");
  rlimit low{1024, mine.rlim_max};
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  Status started = node.Start();  // the daemon inherits the low soft limit
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &mine), 0);
  ASSERT_TRUE(started.ok()) << started.ToString();
  rlimit theirs{};
  ASSERT_EQ(prlimit(node.pid(), RLIMIT_NOFILE, nullptr, &theirs), 0);
  EXPECT_EQ(theirs.rlim_cur, mine.rlim_max);
  EXPECT_NE(node.log().find("raised open file limit"), std::string::npos) << node.log();
}

}  // namespace
}  // namespace hashmesh::testing
