// The node's dealings with the operating system and systemd.
#include "daemon/node_system.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "common/log.h"
#include "daemon/node_impl.h"

#ifdef HASHMESH_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

namespace hashmesh {

Result<int> LockDataDir(const std::string& dir) {
  const std::string path = dir + "/hashmeshd.lock";
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return IoError("cannot open " + path + ": " + std::strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = {};
    ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
    close(fd);
    return FailedPrecondition("data directory " + dir + " is in use by another hashmeshd" +
                              (n > 0 ? " (pid " + std::string(pid, strnlen(pid, n)) + ")" : ""));
  }
  std::string me = std::to_string(getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, me.data(), me.size(), 0) < 0) {
    LogWarning("cannot write pid to lock file").Kv("path", path);
  }
  return fd;
}

void Notify(const char* state) {
#ifdef HASHMESH_HAVE_SYSTEMD
  sd_notify(0, state);
#else
  (void)state;
#endif
}

std::chrono::microseconds WatchdogInterval() {
#ifdef HASHMESH_HAVE_SYSTEMD
  uint64_t usec = 0;
  if (sd_watchdog_enabled(/*unset_environment=*/0, &usec) > 0) {
    return std::chrono::microseconds(usec);
  }
#endif
  return std::chrono::microseconds(0);
}

// One GET /v1/status on the query socket, answered 200 within `timeout`. It goes through an API
// thread, FillStatus (store reads, the writer's lock) and the index: a hang in any of them
// stops the pings, and systemd restarts the daemon.
bool ProbeQuerySocket(const std::string& path, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    close(fd);
    return false;
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  static const char kRequest[] =
      "GET /v1/status HTTP/1.1\r\nHost: hashmeshd\r\nConnection: close\r\n\r\n";
  ok = ok && send(fd, kRequest, sizeof kRequest - 1, MSG_NOSIGNAL) ==
                 static_cast<ssize_t>(sizeof kRequest - 1);
  std::string head;
  while (ok && head.size() < 12) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      ok = false;
      break;
    }
    char buf[64];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      ok = false;
      break;
    }
    head.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return ok && head.starts_with("HTTP/1.1 200");
}

std::optional<gid_t> SocketGroup(const std::string& name) {
  if (name.empty()) return std::nullopt;
  std::vector<char> buf(16384);
  group g{};
  group* found = nullptr;
  if (getgrnam_r(name.c_str(), &g, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
    LogNotice("socket group does not exist; the query socket keeps the daemon's group")
        .Kv("socket_group", name);
    return std::nullopt;
  }
  return found->gr_gid;
}

void Node::Impl::WatchdogLoop(std::chrono::microseconds interval) {
  // Ping twice per interval, as sd_watchdog_enabled(3) advises; a probe may take up to a quarter.
  const auto period = std::chrono::duration_cast<std::chrono::milliseconds>(interval) / 2;
  const auto probe_timeout = std::max(period / 2, std::chrono::milliseconds(1));
  LogInfo("systemd watchdog enabled").Kv("interval_ms", period.count() * 2);
  const std::string socket = Config()->socket;
  for (;;) {
    {
      MutexLock lock(watchdog_mu);
      if (watchdog_stop) return;
    }
    const bool alive = ProbeQuerySocket(socket, probe_timeout);
    if (alive) {
      Notify("WATCHDOG=1");
    } else {
      LogWarning("watchdog probe of the query socket failed; not pinging systemd")
          .Kv("socket", socket);
    }
    MutexLock lock(watchdog_mu);
    watchdog_cv.WaitFor(watchdog_mu, period,
                        [this]() REQUIRES(watchdog_mu) { return watchdog_stop; });
  }
}

}  // namespace hashmesh
