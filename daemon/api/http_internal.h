// Internal to daemon/api: what HttpServer shares with its connections, and the listening
// sockets it binds. Included by the HTTP server's .cc files only (it brings in Asio).
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <atomic>
#include <boost/asio/generic/stream_protocol.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "common/mutex.h"
#include "common/status.h"
#include "daemon/api/http_server.h"

namespace hashmesh {

namespace net = boost::asio;
// Generic, so that one Connection type serves unix sockets and TCP alike.
using Local = net::generic::stream_protocol;
using ErrorCode = boost::system::error_code;

namespace http_internal {

class Connection;  // http_connection.cc

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

// A connection over `socket`, registered by the caller under Shared::mu. `counted`: it holds one
// of max_connections; if not, it is answered 503 and closed.
std::shared_ptr<Connection> NewConnection(std::shared_ptr<Shared> shared, Local::socket socket,
                                          uint64_t id, bool counted);
// Starts reading requests, on the connection's strand.
void StartConnection(const std::shared_ptr<Connection>& connection);
// Closes the socket; from Stop() once no thread runs the io_context.
void CloseConnection(Connection& connection);

// Binds the socket file without a moment of wider permissions. Returns the listening fd.
Result<int> BindUnixSocket(const std::string& path, mode_t mode, gid_t group);

// Binds and listens on HOST:PORT ("[::1]:9464" for IPv6). Returns the fd, its family and port.
struct TcpListener {
  int fd = -1;
  int family = AF_INET;
  uint16_t port = 0;
};
Result<TcpListener> BindTcp(const std::string& address);

}  // namespace http_internal
}  // namespace hashmesh
