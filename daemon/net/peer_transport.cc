// PeerTransport and PeerConnection over Boost.Asio and OpenSSL: one io_context on N threads, a
// strand per connection, deadlines for handshakes and silence, framing and back-pressure.
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

#include "common/log.h"
#include "common/mutex.h"
#include "daemon/net/frame_decoder.h"
#include "daemon/net/peer_tls.h"

namespace hashmesh {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using ErrorCode = boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace {

// Plaintext read per call; TLS records are at most 16 KiB, so a larger buffer would sit unused.
constexpr size_t kReadChunk = 16 << 10;
// Small frames queued together go out in one write (and so in few TLS records).
constexpr size_t kWriteBatch = 256 << 10;

struct HostPort {
  std::string host;
  uint16_t port = 0;
};

// "host:port", "1.2.3.4:7000", "[::1]:7000".
Result<HostPort> ParseHostPort(std::string_view text, bool allow_port_zero) {
  std::string_view host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return InvalidArgument("expected [IPV6]:PORT, got \"" + std::string(text) + "\"");
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return InvalidArgument("expected HOST:PORT, got \"" + std::string(text) + "\"");
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return InvalidArgument("IPv6 addresses need brackets: [" + std::string(host) + "]:PORT");
    }
  }
  if (host.empty()) return InvalidArgument("empty host in \"" + std::string(text) + "\"");
  uint32_t port = 0;
  bool digits = !port_text.empty() && port_text.size() <= 5;
  for (char c : port_text) {
    if (c < '0' || c > '9') digits = false;
    port = port * 10 + static_cast<uint32_t>(c - '0');
  }
  if (!digits || port > 65535 || (port == 0 && !allow_port_zero)) {
    return InvalidArgument("bad port \"" + std::string(port_text) + "\" in \"" + std::string(text) +
                           "\"");
  }
  return HostPort{std::string(host), static_cast<uint16_t>(port)};
}

// IPv4-mapped IPv6 addresses (from a dual-stack listener) in IPv4 form, so that bans and logs
// see one spelling per host.
std::string AddressText(const net::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6()).to_string();
  }
  return address.to_string();
}

std::string EndpointText(const tcp::endpoint& endpoint) {
  std::string ip = AddressText(endpoint.address());
  std::string port = std::to_string(endpoint.port());
  return ip.find(':') == std::string::npos ? ip + ":" + port : "[" + ip + "]:" + port;
}

std::string Seconds(std::chrono::seconds s) { return std::to_string(s.count()) + " s"; }

bool IsTlsError(const ErrorCode& ec) { return ec.category() == net::error::get_ssl_category(); }

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

}  // namespace

// ---- PeerConnection::Impl -------------------------------------------------------------------

struct PeerConnection::Impl {
  enum class State { kHandshaking, kOpen, kClosed };

  Impl(std::shared_ptr<Core> c, tcp::socket socket, bool is_outbound, std::string address)
      : core(std::move(c)),
        outbound(is_outbound),
        remote_address(std::move(address)),
        stream(std::move(socket), *core->Tls()),
        executor(stream.get_executor()),
        timer(executor) {
    AttachPeerTlsNotes(stream.native_handle(), &tls_notes);
  }

  static Impl& Of(PeerConnection& c) { return *c.impl_; }
  std::shared_ptr<PeerConnection> Self() { return owner->shared_from_this(); }
  const PeerTransportOptions& options() const { return core->options; }

  // ---- handshake (strand) ----

  void StartServerHandshake() {
    if (state != State::kHandshaking) return;
    phase = "TLS handshake";
    ArmTimer(Clock::now() + options().handshake_timeout);
    stream.async_handshake(ssl::stream_base::server,
                           [self = Self()](ErrorCode ec) { Of(*self).OnHandshake(ec); });
  }

  void StartDial(const HostPort& target) {
    if (state != State::kHandshaking) return;
    ArmTimer(Clock::now() + options().handshake_timeout);
    ErrorCode ec;
    net::ip::address address = net::ip::make_address(target.host, ec);
    if (!ec) {
      phase = "TCP connect";
      stream.next_layer().async_connect(
          tcp::endpoint(address, target.port),
          [self = Self()](ErrorCode ec) { Of(*self).OnConnected(ec); });
      return;
    }
    phase = "name resolution";
    resolver.emplace(executor);
    // A weak reference: getaddrinfo cannot be interrupted, and its late completion must not keep
    // the connection (and the whole transport) alive after the deadline or Stop().
    std::weak_ptr<PeerConnection> weak = Self();
    resolver->async_resolve(target.host, std::to_string(target.port),
                            [weak](ErrorCode ec, tcp::resolver::results_type results) {
                              if (auto self = weak.lock())
                                Of(*self).OnResolved(ec, std::move(results));
                            });
  }

  void OnResolved(ErrorCode ec, tcp::resolver::results_type results) {
    if (state != State::kHandshaking) return;
    if (ec) return FailHandshake(Unavailable("cannot resolve: " + ec.message()));
    phase = "TCP connect";
    net::async_connect(
        stream.next_layer(), results,
        [self = Self()](ErrorCode ec, const tcp::endpoint&) { Of(*self).OnConnected(ec); });
  }

  void OnConnected(ErrorCode ec) {
    if (state != State::kHandshaking) return;
    if (ec) return FailHandshake(Unavailable(ec.message()));
    ErrorCode ignored;
    tcp::endpoint remote = stream.next_layer().remote_endpoint(ignored);
    if (!ignored) remote_address = EndpointText(remote);
    stream.next_layer().set_option(tcp::no_delay(true), ignored);
    phase = "TLS handshake";
    stream.async_handshake(ssl::stream_base::client,
                           [self = Self()](ErrorCode ec) { Of(*self).OnHandshake(ec); });
  }

  void OnHandshake(ErrorCode ec) {
    if (state != State::kHandshaking) return;
    if (ec) return FailHandshake(HandshakeError(ec));
    Result<PublicKey> key = EstablishedPeerKey(stream.native_handle());
    if (!key.ok()) return FailHandshake(key.status().WithContext("TLS handshake failed"));
    remote_key = *key;
    state = State::kOpen;
    ReleaseHandshakeSlot();
    read_buffer = std::make_unique<char[]>(kReadChunk);
    idle_deadline = Clock::now() + options().idle_timeout;
    ArmTimer(idle_deadline);
    LogDebug("peer connected")
        .KvString("addr", remote_address)
        .KvString("direction", outbound ? "out" : "in")
        .KvString("key", KeyToText(remote_key));
    std::shared_ptr<PeerConnection> self = Self();
    try {
      if (outbound) {
        auto done = std::move(connect_done);
        connect_done = nullptr;
        done(self);
      } else if (on_accept) {
        auto accepted = std::move(on_accept);
        on_accept = nullptr;  // it may hold what holds this connection
        accepted(self);
      }
    } catch (const std::exception& e) {
      CloseOnStrand(Internal(std::string("connection handler threw: ") + e.what()));
    } catch (...) {
      CloseOnStrand(Internal("connection handler threw"));
    }
  }

  Status HandshakeError(const ErrorCode& ec) const {
    std::string reason;
    if (!tls_notes.empty()) {
      reason = tls_notes;  // our own policy refused: the most precise account
    } else if (ec == net::error::eof || ec == ssl::error::stream_truncated) {
      reason = "peer closed the connection during the TLS handshake";
    } else {
      reason = ec.message();
    }
    reason = "TLS handshake failed: " + reason;
    if (!tls_notes.empty() || (IsTlsError(ec) && ec != ssl::error::stream_truncated)) {
      return PermissionDenied(reason);
    }
    return Unavailable(reason);
  }

  void FailHandshake(Status why) {
    if (outbound) {
      // A peer that is down is routine (the sync layer retries and says so); a TLS refusal
      // means misconfiguration or an impostor.
      if (why.code() == StatusCode::kPermissionDenied) {
        LogWarning("peer handshake refused")
            .KvString("addr", dial_target)
            .KvString("reason", why.message());
      } else {
        LogDebug("peer connect failed")
            .KvString("addr", dial_target)
            .KvString("reason", why.message());
      }
    } else {
      LogWarning("peer handshake refused")
          .KvString("addr", remote_address)
          .KvString("reason", why.message());
      std::function<void(const std::string&, const Status&)> observer;
      {
        MutexLock lock(core->mu);
        observer = core->failure_observer;
      }
      if (observer) {
        try {
          observer(remote_address, why);
        } catch (...) {
          LogError("handshake failure observer threw").KvString("addr", remote_address);
        }
      }
    }
    CloseOnStrand(std::move(why));
  }

  // ---- reading (strand) ----

  void BeginReading() {
    if (state != State::kOpen || read_started) return;
    read_started = true;
    idle_deadline = Clock::now() + options().idle_timeout;
    Drain();
  }

  void Resume() {
    if (state != State::kOpen || !read_started || !paused) return;
    paused = false;
    idle_deadline = Clock::now() + options().idle_timeout;
    Drain();
  }

  // Delivers the complete frames in read_buffer, then reads more unless paused or closed.
  void Drain() {
    while (state == State::kOpen && !paused) {
      std::optional<std::string> frame;
      auto used = decoder.Consume(
          std::string_view(read_buffer.get() + read_pos, read_end - read_pos), &frame);
      if (!used.ok()) return CloseOnStrand(used.status());
      read_pos += *used;
      if (!frame) break;
      if (!Deliver(std::move(*frame))) paused = true;
    }
    if (state == State::kOpen && !paused && !reading) ReadMore();
  }

  bool Deliver(std::string frame) {
    frames_in.fetch_add(1, std::memory_order_relaxed);
    if (!handlers.on_frame) return true;
    try {
      return handlers.on_frame(std::move(frame));
    } catch (const std::exception& e) {
      CloseOnStrand(Internal(std::string("frame handler threw: ") + e.what()));
    } catch (...) {
      CloseOnStrand(Internal("frame handler threw"));
    }
    return false;
  }

  void ReadMore() {
    read_pos = read_end = 0;
    reading = true;
    stream.async_read_some(net::buffer(read_buffer.get(), kReadChunk),
                           [self = Self()](ErrorCode ec, size_t n) { Of(*self).OnRead(ec, n); });
  }

  void OnRead(ErrorCode ec, size_t n) {
    reading = false;
    if (state != State::kOpen) return;
    if (ec) return CloseOnStrand(ReadError(ec));
    bytes_in.fetch_add(n, std::memory_order_relaxed);
    idle_deadline = Clock::now() + options().idle_timeout;
    read_end = n;
    Drain();
  }

  Status ReadError(const ErrorCode& ec) const {
    if (ec == net::error::eof || ec == ssl::error::stream_truncated) {
      if (decoder.mid_frame()) {
        return Unavailable("peer closed the connection in the middle of a frame (" +
                           decoder.Progress() + ")");
      }
      return Unavailable("peer closed the connection");
    }
    // Bytes that are not valid TLS records: the peer (or something on the path) misbehaves.
    if (IsTlsError(ec)) return InvalidArgument("TLS error: " + ec.message());
    return Unavailable("read failed: " + ec.message());
  }

  // ---- writing (strand) ----

  void WriteMore() {
    if (state != State::kOpen) return;
    {
      MutexLock lock(mu);
      if (queue.empty()) {
        write_scheduled = false;
        return;
      }
      write_buffer = std::move(queue.front());
      queue.pop_front();
      write_frames = 1;
      while (!queue.empty() && write_buffer.size() + queue.front().size() <= kWriteBatch) {
        write_buffer += queue.front();
        queue.pop_front();
        ++write_frames;
      }
    }
    net::async_write(stream, net::buffer(write_buffer),
                     [self = Self()](ErrorCode ec, size_t n) { Of(*self).OnWrite(ec, n); });
  }

  void OnWrite(ErrorCode ec, size_t n) {
    if (state != State::kOpen) return;
    if (ec) return CloseOnStrand(Unavailable("write failed: " + ec.message()));
    bytes_out.fetch_add(n, std::memory_order_relaxed);
    frames_out.fetch_add(write_frames, std::memory_order_relaxed);
    {
      MutexLock lock(mu);
      queued_bytes -= write_buffer.size();
    }
    if (write_buffer.capacity() > 2 * kWriteBatch) {
      write_buffer = std::string();  // do not keep a 4 MiB buffer around for small frames
    } else {
      write_buffer.clear();
    }
    WriteMore();
  }

  // ---- timer (strand) ----

  void ArmTimer(Clock::time_point when) {
    timer.expires_at(when);
    timer.async_wait([self = Self()](ErrorCode ec) { Of(*self).OnTimer(ec); });
  }

  void OnTimer(ErrorCode ec) {
    if (ec || state == State::kClosed) return;
    Clock::time_point now = Clock::now();
    // Re-armed after this wait had already completed: a newer wait is pending.
    if (timer.expiry() > now) return;
    if (state == State::kHandshaking) {
      return FailHandshake(
          Unavailable(phase + " not complete within " + Seconds(options().handshake_timeout)));
    }
    if (read_started && paused) {
      // Silence is our own doing while paused; the clock restarts on ResumeReading.
      ArmTimer(now + options().idle_timeout);
      return;
    }
    if (now >= idle_deadline) {
      return CloseOnStrand(Unavailable("nothing received for " + Seconds(options().idle_timeout)));
    }
    ArmTimer(idle_deadline);
  }

  // ---- closing ----

  // On the strand, or from Stop() once no thread runs the io_context. Runs on_close (or, while
  // dialling, `done`) with `why`, once.
  void CloseOnStrand(Status why) {
    if (state == State::kClosed) return;
    State was = state;
    state = State::kClosed;
    ReleaseHandshakeSlot();
    ErrorCode ignored;
    stream.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
    stream.next_layer().close(ignored);
    timer.cancel();
    if (resolver) resolver->cancel();
    // Taken out, so that the handlers (which often hold this connection) are released once
    // on_close has run: no callback follows it.
    Handlers taken;
    std::deque<std::string> dropped;  // freed outside the lock
    {
      MutexLock lock(mu);
      closed = true;
      close_status = why;
      if (started) taken = std::move(handlers);
      dropped.swap(queue);
      queued_bytes = 0;
    }
    on_accept = nullptr;
    std::shared_ptr<PeerConnection> keep = Self();  // the registry may hold the last reference
    {
      MutexLock lock(core->mu);
      core->connections.erase(id);
    }
    if (was == State::kOpen) {
      LogDebug("peer connection closed")
          .KvString("addr", remote_address)
          .KvString("reason", why.ToString())
          .Kv("bytes_in", bytes_in.load())
          .Kv("bytes_out", bytes_out.load());
    }
    if (was == State::kHandshaking && connect_done) {
      auto done = std::move(connect_done);
      connect_done = nullptr;
      try {
        done(why.WithContext("connect to " + dial_target));
      } catch (...) {
        LogError("connect callback threw").KvString("addr", dial_target);
      }
      return;
    }
    CallOnClose(taken, why);
  }

  void ReleaseHandshakeSlot() {
    if (holds_handshake_slot) core->pending_handshakes.fetch_sub(1);
    holds_handshake_slot = false;
  }

  void CallOnClose(const Handlers& h, const Status& why) {
    if (!h.on_close) return;
    try {
      h.on_close(why);
    } catch (...) {
      LogError("close handler threw").KvString("addr", remote_address);
    }
  }

  // ---- members ----

  const std::shared_ptr<Core> core;  // first: destroyed last, the socket needs its io_context
  PeerConnection* owner = nullptr;
  uint64_t id = 0;
  const bool outbound;
  std::string dial_target;     // outbound: the address as given to Connect
  std::string remote_address;  // "ip:port"; final before the connection is handed out
  PublicKey remote_key{};      // final before the connection is handed out
  std::string tls_notes;       // why our TLS policy refused, written during the handshake
  ssl::stream<tcp::socket> stream;
  const net::any_io_executor executor;  // the strand; everything below up to `mu` lives on it
  net::steady_timer timer;
  std::optional<tcp::resolver> resolver;
  std::function<void(Result<std::shared_ptr<PeerConnection>>)> connect_done;  // outbound
  std::function<void(std::shared_ptr<PeerConnection>)> on_accept;             // inbound

  State state = State::kHandshaking;
  bool holds_handshake_slot = false;  // counted in core->pending_handshakes
  std::string phase = "TCP connect";  // for the handshake timeout message
  Clock::time_point idle_deadline;
  bool read_started = false;  // BeginReading ran
  bool paused = false;        // on_frame returned false
  bool reading = false;       // a read is outstanding
  std::unique_ptr<char[]> read_buffer;
  size_t read_pos = 0;  // unconsumed bytes are [read_pos, read_end)
  size_t read_end = 0;
  FrameDecoder decoder{options().max_frame_bytes};
  std::string write_buffer;  // being written
  uint64_t write_frames = 0;

  Mutex mu;
  bool started GUARDED_BY(mu) = false;
  // Set under mu with `started`; then used on the strand only, until CloseOnStrand takes them.
  Handlers handlers;
  bool close_requested GUARDED_BY(mu) = false;
  bool closed GUARDED_BY(mu) = false;
  Status close_status GUARDED_BY(mu);
  std::deque<std::string> queue GUARDED_BY(mu);  // frames with their headers
  size_t queued_bytes GUARDED_BY(mu) = 0;        // queue plus write_buffer
  bool write_scheduled GUARDED_BY(mu) = false;   // a WriteMore is posted or a write runs

  std::atomic<uint64_t> bytes_in{0};
  std::atomic<uint64_t> bytes_out{0};
  std::atomic<uint64_t> frames_in{0};
  std::atomic<uint64_t> frames_out{0};
};

// ---- PeerConnection ---------------------------------------------------------------------------

PeerConnection::PeerConnection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  impl_->owner = this;
}

PeerConnection::~PeerConnection() = default;

void PeerConnection::Start(Handlers handlers) {
  bool closed = false;
  Status why;
  {
    MutexLock lock(impl_->mu);
    if (impl_->started) return;
    impl_->started = true;
    closed = impl_->closed;
    if (closed) {
      why = impl_->close_status;
    } else {
      impl_->handlers = std::move(handlers);
    }
  }
  // Closed before Start: CloseOnStrand saw started == false and left on_close to us.
  if (closed) return impl_->CallOnClose(handlers, why);
  impl_->core->Post(impl_->executor,
                    [self = shared_from_this()] { Impl::Of(*self).BeginReading(); });
}

Status PeerConnection::Send(std::string frame) {
  const PeerTransportOptions& options = impl_->options();
  if (frame.size() > options.max_frame_bytes) {
    return InvalidArgument("frame of " + std::to_string(frame.size()) + " bytes is over the " +
                           std::to_string(options.max_frame_bytes) + "-byte limit");
  }
  std::string wire;
  wire.reserve(4 + frame.size());
  uint32_t n = static_cast<uint32_t>(frame.size());
  wire.push_back(static_cast<char>(n >> 24));
  wire.push_back(static_cast<char>(n >> 16));
  wire.push_back(static_cast<char>(n >> 8));
  wire.push_back(static_cast<char>(n));
  wire += frame;
  bool queued = false;
  bool kick = false;
  {
    MutexLock lock(impl_->mu);
    if (impl_->closed || impl_->close_requested) {
      return Unavailable("connection to " + impl_->remote_address + " is closed" +
                         (impl_->closed ? ": " + impl_->close_status.message() : ""));
    }
    if (impl_->queued_bytes + wire.size() <= options.max_queued_send_bytes) {
      impl_->queued_bytes += wire.size();
      impl_->queue.push_back(std::move(wire));
      queued = true;
      kick = !impl_->write_scheduled;
      impl_->write_scheduled = true;
    }
  }
  if (!queued) {
    Status why =
        ResourceExhausted("send queue over " + std::to_string(options.max_queued_send_bytes) +
                          " bytes: peer reads too slowly");
    LogWarning("peer too slow").KvString("addr", impl_->remote_address);
    Close(why);
    return why;
  }
  if (kick) {
    impl_->core->Post(impl_->executor,
                      [self = shared_from_this()] { Impl::Of(*self).WriteMore(); });
  }
  return Status::Ok();
}

void PeerConnection::ResumeReading() {
  impl_->core->Post(impl_->executor, [self = shared_from_this()] { Impl::Of(*self).Resume(); });
}

void PeerConnection::Close(const Status& why) {
  {
    MutexLock lock(impl_->mu);
    if (impl_->closed || impl_->close_requested) return;
    impl_->close_requested = true;
  }
  impl_->core->Post(impl_->executor,
                    [self = shared_from_this(), why] { Impl::Of(*self).CloseOnStrand(why); });
}

const PublicKey& PeerConnection::remote_key() const { return impl_->remote_key; }
const std::string& PeerConnection::remote_address() const { return impl_->remote_address; }
bool PeerConnection::outbound() const { return impl_->outbound; }
uint64_t PeerConnection::bytes_in() const {
  return impl_->bytes_in.load(std::memory_order_relaxed);
}
uint64_t PeerConnection::bytes_out() const {
  return impl_->bytes_out.load(std::memory_order_relaxed);
}
uint64_t PeerConnection::frames_in() const {
  return impl_->frames_in.load(std::memory_order_relaxed);
}
uint64_t PeerConnection::frames_out() const {
  return impl_->frames_out.load(std::memory_order_relaxed);
}
size_t PeerConnection::queued_send_bytes() const {
  MutexLock lock(impl_->mu);
  return impl_->queued_bytes;
}

// ---- PeerTransport ----------------------------------------------------------------------------

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

  Mutex stop_mu;      // serialises Listen and Stop
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
  HM_ASSIGN_OR_RETURN(HostPort target, ParseHostPort(host_port, /*allow_port_zero=*/true));
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
  Result<HostPort> target = ParseHostPort(host_port, /*allow_port_zero=*/false);
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
