// PeerConnection::Impl: one TLS connection's handshake, reads, writes and timers, all on its
// strand (see peer_connection.cc for the public methods). Internal to daemon/net.
#pragma once

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
#include "daemon/net/frame_decoder.h"
#include "daemon/net/peer_tls.h"
#include "daemon/net/peer_transport.h"
#include "daemon/net/peer_transport_internal.h"

namespace hashmesh {

struct PeerConnection::Impl {
  enum class State { kHandshaking, kOpen, kClosed };

  Impl(std::shared_ptr<transport_internal::Core> c, tcp::socket socket, bool is_outbound,
       std::string address)
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
    if (!ignored) remote_address = transport_internal::EndpointText(remote);
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
    read_buffer = std::make_unique<char[]>(transport_internal::kReadChunk);
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
    if (!tls_notes.empty() ||
        (transport_internal::IsTlsError(ec) && ec != ssl::error::stream_truncated)) {
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
    stream.async_read_some(net::buffer(read_buffer.get(), transport_internal::kReadChunk),
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
    if (transport_internal::IsTlsError(ec)) return InvalidArgument("TLS error: " + ec.message());
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
      while (!queue.empty() &&
             write_buffer.size() + queue.front().size() <= transport_internal::kWriteBatch) {
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
    if (write_buffer.capacity() > 2 * transport_internal::kWriteBatch) {
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
      return FailHandshake(Unavailable(phase + " not complete within " +
                                       transport_internal::Seconds(options().handshake_timeout)));
    }
    if (read_started && paused) {
      // Silence is our own doing while paused; the clock restarts on ResumeReading.
      ArmTimer(now + options().idle_timeout);
      return;
    }
    if (now >= idle_deadline) {
      return CloseOnStrand(Unavailable("nothing received for " +
                                       transport_internal::Seconds(options().idle_timeout)));
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

  const std::shared_ptr<transport_internal::Core>
      core;  // first: destroyed last, the socket needs its io_context
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

}  // namespace hashmesh
