// The HTTP server's listening sockets: a unix socket file with its mode and group, or TCP.
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "common/host_port.h"
#include "common/log.h"
#include "daemon/api/http_internal.h"

namespace hashmesh::http_internal {

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

Result<TcpListener> BindTcp(const std::string& address) {
  HM_ASSIGN_OR_RETURN(HostPort target, ParseHostPort(address, PortZero::kAllow));
  const std::string port = std::to_string(target.port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(target.host.c_str(), port.c_str(), &hints, &found);
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

}  // namespace hashmesh::http_internal
