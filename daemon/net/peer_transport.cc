// PeerTransport over Boost.Asio and OpenSSL: one io_context on N threads, the TLS context, the
// listener (with its handshake limit) and the dialer, and Stop. Connections: peer_connection.cc.
#include "daemon/net/peer_transport.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <thread>
#include <vector>

#include "common/host_port.h"
#include "common/log.h"
#include "common/mutex.h"
#include "daemon/net/peer_connection_impl.h"
#include "daemon/net/peer_tls.h"
#include "daemon/net/peer_transport_internal.h"

namespace hashmesh {

using transport_internal::AddressText;
using transport_internal::Core;
using transport_internal::EndpointText;

namespace {

// Builds a connection around `socket` and registers it; nullptr when stopped or out of memory.
std::shared_ptr<PeerConnection> NewConnection(const std::shared_ptr<Core>& core, tcp::socket socket,
                                              bool outbound, std::string address) {
  std::shared_ptr<PeerConnection> connection;
  try {
    connection = std::make_shared<PeerConnection>(std::make_unique<PeerConnection::Impl>(
        core, std::move(socket), outbound, std::move(address)));
  } catch (const std::exception& e) {  // SSL_new failed, or bad_alloc
    LogError("cannot create peer connection").KvString("what", e.what());
    return nullptr;
  }
  return connection;
}

}  // namespace

struct PeerTransport::Impl {
  explicit Impl(std::shared_ptr<Core> c)
      : core(std::move(c)), acceptor(core->ioc), accept_retry(core->ioc) {}

  // Registers and returns its id, or false when stopped.
  bool Register(const std::shared_ptr<PeerConnection>& connection,
                PeerConnection::Impl& connection_impl) {
    MutexLock lock(core->mu);
    if (core->stopped) return false;
    connection_impl.id = core->next_id++;
    core->connections.emplace(connection_impl.id, connection);
    return true;
  }

  void Accept() {
    acceptor.async_accept(net::make_strand(core->ioc), [this](ErrorCode ec, tcp::socket socket) {
      OnAccept(ec, std::move(socket));
    });
  }

  void OnAccept(ErrorCode ec, tcp::socket socket) {
    if (stopping.load()) return;
    if (ec) {
      if (ec == net::error::operation_aborted) return;
      // E.g. EMFILE: pause rather than spin on an error that persists, and say so once a
      // minute, not ten times a second.
      ++accept_failures;
      const auto now = std::chrono::steady_clock::now();
      if (now - last_accept_warning >= std::chrono::minutes(1)) {
        LogWarning("peer accept failed")
            .KvString("error", ec.message())
            .Kv("failures_since_last_warning", accept_failures);
        last_accept_warning = now;
        accept_failures = 0;
      }
      accept_retry.expires_after(std::chrono::milliseconds(100));
      accept_retry.async_wait([this](ErrorCode ec) {
        if (!ec && !stopping.load()) Accept();
      });
      return;
    }
    HandleAccepted(std::move(socket));
    Accept();
  }

  void HandleAccepted(tcp::socket socket) {
    ErrorCode ec;
    tcp::endpoint remote = socket.remote_endpoint(ec);
    if (ec) return;  // already gone
    std::string address = EndpointText(remote);
    std::function<bool(const std::string&)> filter;
    {
      MutexLock lock(core->mu);
      filter = core->accept_filter;
    }
    bool allowed = true;
    if (filter) {
      try {
        allowed = filter(AddressText(remote.address()));
      } catch (...) {
        LogError("accept filter threw").KvString("addr", address);
        allowed = false;
      }
    }
    if (!allowed) {
      // Debug, not warning: whoever put the address on the list has logged why, and a banned
      // peer that redials every few seconds would flood the log.
      LogDebug("peer refused by accept filter").KvString("addr", address);
      socket.close(ec);
      return;
    }
    if (core->pending_handshakes.load() >= core->options.max_pending_handshakes) {
      LogWarning("peer refused: too many handshakes in progress")
          .KvString("addr", address)
          .Kv("limit", core->options.max_pending_handshakes);
      socket.close(ec);
      return;
    }
    socket.set_option(tcp::no_delay(true), ec);
    std::shared_ptr<PeerConnection> connection =
        NewConnection(core, std::move(socket), /*outbound=*/false, address);
    if (!connection) return;
    PeerConnection::Impl& impl = PeerConnection::Impl::Of(*connection);
    impl.on_accept = on_accept;
    // Accepts complete one at a time and only they add to the count, so the check above holds.
    core->pending_handshakes.fetch_add(1);
    impl.holds_handshake_slot = true;
    if (!Register(connection, impl)) {
      impl.ReleaseHandshakeSlot();
      return;
    }
    // The socket was accepted onto the connection's strand; the handshake starts there.
    net::dispatch(impl.executor,
                  [connection] { PeerConnection::Impl::Of(*connection).StartServerHandshake(); });
  }

  void Run() {
    // No exception is expected from a handler; if one comes anyway (bad_alloc), log and go on
    // rather than take the daemon down from a network thread.
    for (;;) {
      try {
        core->ioc.run();
        return;
      } catch (const std::exception& e) {
        LogError("peer network thread caught an exception").KvString("what", e.what());
      }
    }
  }

  const std::shared_ptr<Core> core;  // first: destroyed after everything that uses its io_context
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  tcp::acceptor acceptor;
  net::steady_timer accept_retry;
  // Accept failures (the acceptor's handler only): counted, and warned of at most once a minute.
  uint64_t accept_failures = 0;
  std::chrono::steady_clock::time_point last_accept_warning{};
  std::function<void(std::shared_ptr<PeerConnection>)> on_accept;  // set before the first accept
  std::atomic<uint16_t> port{0};
  std::atomic<bool> stopping{false};
  std::vector<std::thread> threads;

  Mutex stop_mu;  // serialises Listen and Stop
  bool listening GUARDED_BY(stop_mu) = false;
  bool stopped GUARDED_BY(stop_mu) = false;
};

PeerTransport::PeerTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

PeerTransport::~PeerTransport() { Stop(); }

Result<std::unique_ptr<PeerTransport>> PeerTransport::Create(const Seed& node_seed,
                                                             const std::string& cert_pem,
                                                             PeerTransportOptions options,
                                                             int threads) {
  if (options.max_frame_bytes > UINT32_MAX) {
    return InvalidArgument("max_frame_bytes must fit the 4-byte frame header");
  }
  if (options.max_queued_send_bytes < options.max_frame_bytes + 4) {
    return InvalidArgument("max_queued_send_bytes must hold at least one largest frame");
  }
  if (options.handshake_timeout.count() <= 0 || options.idle_timeout.count() <= 0) {
    return InvalidArgument("handshake_timeout and idle_timeout must be positive");
  }
  if (options.max_pending_handshakes < 1) {
    return InvalidArgument("max_pending_handshakes must be at least 1");
  }
  PublicKey local_key;
  HM_ASSIGN_OR_RETURN(SSL_CTX * native, NewPeerTlsContext(node_seed, cert_pem, &local_key));
  auto core = std::make_shared<Core>(native, options);  // owns `native` from here on
  auto impl = std::make_unique<Impl>(std::move(core));
  impl->work.emplace(impl->core->ioc.get_executor());
  int n = std::max(threads, 1);
  try {
    for (int i = 0; i < n; ++i) {
      Impl* raw = impl.get();
      impl->threads.emplace_back([raw] { raw->Run(); });
    }
  } catch (const std::system_error& e) {
    auto transport = std::unique_ptr<PeerTransport>(new PeerTransport(std::move(impl)));
    transport->Stop();
    return Internal(std::string("cannot start peer network threads: ") + e.what());
  }
  return std::unique_ptr<PeerTransport>(new PeerTransport(std::move(impl)));
}

Status PeerTransport::SetIdentity(const Seed& node_seed, const std::string& cert_pem) {
  PublicKey local_key;
  HM_ASSIGN_OR_RETURN(SSL_CTX * native, NewPeerTlsContext(node_seed, cert_pem, &local_key));
  auto fresh = std::make_shared<ssl::context>(native);
  Core& core = *impl_->core;
  MutexLock lock(core.mu);
  core.retired.push_back(std::move(core.tls));
  core.tls = std::move(fresh);
  return Status::Ok();
}

Status PeerTransport::Listen(const std::string& host_port,
                             std::function<void(std::shared_ptr<PeerConnection>)> on_accept) {
  Impl& impl = *impl_;
  MutexLock lock(impl.stop_mu);
  if (impl.stopped) return Unavailable("peer transport stopped");
  if (impl.listening) return FailedPrecondition("peer transport is listening already");
  HM_ASSIGN_OR_RETURN(HostPort target, ParseHostPort(host_port, PortZero::kAllow));
  ErrorCode ec;
  net::ip::address address = net::ip::make_address(target.host, ec);
  if (ec) return InvalidArgument("listen address must be an IP address: " + host_port);
  tcp::endpoint endpoint(address, target.port);
  impl.acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl.acceptor.bind(endpoint, ec);
  if (!ec) impl.acceptor.listen(net::socket_base::max_listen_connections, ec);
  tcp::endpoint local;
  if (!ec) local = impl.acceptor.local_endpoint(ec);
  if (ec) {
    ErrorCode ignored;
    impl.acceptor.close(ignored);
    return IoError("cannot listen on " + host_port + ": " + ec.message());
  }
  impl.port.store(local.port());
  impl.on_accept = std::move(on_accept);
  impl.listening = true;
  impl.Accept();
  LogInfo("peer transport listening").KvString("addr", EndpointText(local));
  return Status::Ok();
}

uint16_t PeerTransport::port() const { return impl_->port.load(); }

void PeerTransport::Connect(const std::string& host_port,
                            std::function<void(Result<std::shared_ptr<PeerConnection>>)> done) {
  Result<HostPort> target = ParseHostPort(host_port);
  if (!target.ok()) return done(target.status().WithContext("connect to " + host_port));
  const std::shared_ptr<Core>& core = impl_->core;
  std::shared_ptr<PeerConnection> connection;
  try {
    connection = NewConnection(core, tcp::socket(net::make_strand(core->ioc)),
                               /*outbound=*/true, host_port);
  } catch (const std::exception& e) {
    LogError("cannot create peer socket").KvString("what", e.what());
  }
  if (!connection) return done(Internal("connect to " + host_port + ": out of resources"));
  PeerConnection::Impl& impl = PeerConnection::Impl::Of(*connection);
  impl.dial_target = host_port;
  if (!impl_->Register(connection, impl)) {
    return done(Unavailable("connect to " + host_port + ": peer transport stopped"));
  }
  // From here on `done` belongs to the connection: the handshake or Stop() calls it.
  impl.connect_done = std::move(done);
  // Not posted only if Stop() came in between; it then closes the connection and calls `done`.
  core->Post(impl.executor, [connection, hp = std::move(target).value()] {
    PeerConnection::Impl::Of(*connection).StartDial(hp);
  });
}

void PeerTransport::SetAcceptFilter(std::function<bool(const std::string& remote_ip)> filter) {
  MutexLock lock(impl_->core->mu);
  impl_->core->accept_filter = std::move(filter);
}

void PeerTransport::SetHandshakeFailureObserver(
    std::function<void(const std::string& remote_address, const Status& why)> observer) {
  MutexLock lock(impl_->core->mu);
  impl_->core->failure_observer = std::move(observer);
}

void PeerTransport::Stop() {
  Impl& impl = *impl_;
  {
    MutexLock lock(impl.stop_mu);
    if (impl.stopped) return;
    impl.stopped = true;
  }
  impl.stopping.store(true);
  {
    // From here on nothing is posted (Core::Post) and nothing registered.
    MutexLock lock(impl.core->mu);
    impl.core->stopped = true;
  }
  impl.work.reset();
  impl.core->ioc.stop();
  for (auto& t : impl.threads) t.join();
  impl.threads.clear();

  // No thread runs the io_context now, so its objects can be touched from here.
  ErrorCode ec;
  impl.acceptor.close(ec);
  impl.accept_retry.cancel();
  std::map<uint64_t, std::shared_ptr<PeerConnection>> connections;
  std::function<bool(const std::string&)> filter;
  std::function<void(const std::string&, const Status&)> observer;
  {
    MutexLock lock(impl.core->mu);
    connections.swap(impl.core->connections);
    // Dropped with the lock released: the callbacks may hold what holds connections, and a
    // connection the caller keeps holds the core.
    filter.swap(impl.core->accept_filter);
    observer.swap(impl.core->failure_observer);
  }
  impl.on_accept = nullptr;
  for (auto& [id, connection] : connections) {
    PeerConnection::Impl::Of(*connection).CloseOnStrand(Unavailable("peer transport stopped"));
  }
  // Run the cancelled operations' handlers so that they release their connections while the
  // io_context lives.
  impl.core->ioc.restart();
  impl.core->ioc.poll();
  connections.clear();
  LogDebug("peer transport stopped");
}

}  // namespace hashmesh
