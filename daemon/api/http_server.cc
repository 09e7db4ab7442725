// HttpServer: accepts on a unix socket or a TCP port (with a reserve descriptor to shed load when
// out of them), runs the Asio threads, and stops. Connections: http_connection.cc.
#include "daemon/api/http_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/basic_socket_acceptor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <optional>
#include <thread>

#include "common/json.h"
#include "common/log.h"
#include "daemon/api/http_internal.h"
#include "proto/api.pb.h"

namespace hashmesh {

using http_internal::BindTcp;
using http_internal::BindUnixSocket;
using http_internal::CloseConnection;
using http_internal::Connection;
using http_internal::NewConnection;
using http_internal::Shared;
using http_internal::StartConnection;
using http_internal::TcpListener;

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
      connection = NewConnection(shared, std::move(socket), id, counted);
      shared->connections.emplace(id, connection);
    }
    StartConnection(connection);
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
  for (auto& [id, connection] : connections) CloseConnection(*connection);
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
