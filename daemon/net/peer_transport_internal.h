// Internal to daemon/net: the state PeerTransport shares with its PeerConnections (io_context,
// TLS context, open connections) and the address helpers both use. Included by net's .cc only.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "daemon/net/peer_transport.h"

namespace hashmesh {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using ErrorCode = boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace transport_internal {

// Plaintext read per call; TLS records are at most 16 KiB, so a larger buffer would sit unused.
constexpr size_t kReadChunk = 16 << 10;
// Small frames queued together go out in one write (and so in few TLS records).
constexpr size_t kWriteBatch = 256 << 10;

// IPv4-mapped IPv6 addresses (from a dual-stack listener) in IPv4 form, so that bans and logs
// see one spelling per host.
std::string AddressText(const net::ip::address& address);
std::string EndpointText(const tcp::endpoint& endpoint);
std::string Seconds(std::chrono::seconds s);
bool IsTlsError(const ErrorCode& ec);

// State shared by the transport and its connections. Connections hold it by shared_ptr, so that
// the io_context outlives every socket even when a caller keeps a connection past the transport.
struct Core {
  Core(SSL_CTX* native, PeerTransportOptions o)
      : options(o), tls(std::make_shared<ssl::context>(native)) {}

  // The TLS context new connections use (it owns its SSL_CTX); replaced when the node key
  // rotates. Replaced ones are kept until the transport goes, for connections made with them.
  std::shared_ptr<ssl::context> Tls() {
    MutexLock lock(mu);
    return tls;
  }

  const PeerTransportOptions options;
  net::io_context ioc;

  std::atomic<int> pending_handshakes{0};  // inbound, counted at accept

  Mutex mu;
  std::shared_ptr<ssl::context> tls GUARDED_BY(mu);
  std::vector<std::shared_ptr<ssl::context>> retired GUARDED_BY(mu);
  bool stopped GUARDED_BY(mu) = false;
  uint64_t next_id GUARDED_BY(mu) = 0;
  // Every connection from the start of its handshake until it closes, so that Stop() can close
  // them all while the io_context still exists.
  std::map<uint64_t, std::shared_ptr<PeerConnection>> connections GUARDED_BY(mu);
  std::function<bool(const std::string&)> accept_filter GUARDED_BY(mu);
  std::function<void(const std::string&, const Status&)> failure_observer GUARDED_BY(mu);

  // Posts `f` unless the transport stopped. Holding `mu` while posting means nothing lands in
  // the io_context after Stop() has drained it (it sets `stopped` first).
  template <typename F>
  bool Post(const net::any_io_executor& executor, F&& f) {
    MutexLock lock(mu);
    if (stopped) return false;
    net::post(executor, std::forward<F>(f));
    return true;
  }
};

}  // namespace transport_internal
}  // namespace hashmesh
