// The peer transport: TCP + TLS 1.3 with mutual self-signed Ed25519 certificates and ALPN
// "hashmesh/1", carrying length-prefixed frames. Who a peer is, is the sync layer's business.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/crypto.h"
#include "common/status.h"
#include "daemon/net/peer_link.h"

namespace hashmesh {

inline constexpr std::string_view kPeerAlpn = "hashmesh/1";

struct PeerTransportOptions {
  // TCP connect (with name resolution) + TLS handshake must finish within this, else the
  // connection is dropped. A deadline, not an inactivity timer: a peer that trickles a byte every
  // few seconds is dropped at the same time as one that sends nothing.
  std::chrono::seconds handshake_timeout{10};
  // Inbound connections still in their handshake, at most. Beyond, a new TCP connection is closed
  // at once: a flood of idle sockets costs a bounded number of TLS states until the deadline.
  int max_pending_handshakes = 256;
  // A frame header announcing more closes the connection before any of the body is read.
  size_t max_frame_bytes = 4 << 20;
  // Bytes queued by Send and not yet written to the socket. Beyond this Send fails
  // (ResourceExhausted) and the connection is closed: the peer reads too slowly.
  size_t max_queued_send_bytes = 32 << 20;
  // Nothing received for this long while we want to read: close. Time spent paused by
  // back-pressure does not count; time before Start() does.
  std::chrono::seconds idle_timeout{90};
};

// One established TLS connection to a peer, created by PeerTransport once the handshake has
// succeeded: the peer presented an Ed25519 certificate whose self-signature verifies, and both
// sides agreed on ALPN "hashmesh/1".
//
// Wire format: a frame is a 4-byte big-endian body length followed by the body (one serialised
// PeerMessage; parsing is the caller's job). A zero-length frame is legal and delivered as an
// empty string: an empty PeerMessage is valid protobuf, and judging it is the sync layer's job.
//
// Thread-safety: every method may be called from any thread. Callbacks run on the connection's
// strand, one at a time, never inline in a method call (except as noted for Start). The
// connection stays open until Close(), an error, the idle timeout or PeerTransport::Stop();
// dropping the last shared_ptr does not close it (the transport keeps it while it is open).
class PeerConnection final : public PeerLink,
                             public std::enable_shared_from_this<PeerConnection> {
 public:
  // on_frame: return true to keep reading; false pauses reading (back-pressure: the peer's
  // further data stays in the kernel and TCP window) until ResumeReading(). on_close: called
  // exactly once, when the connection closes for any reason, with the reason. No on_frame
  // follows it, and both handlers are destroyed after it, so they may hold the connection. An
  // exception from on_frame closes the connection (Internal).
  using Handlers = PeerLink::Handlers;

  struct Impl;  // private to peer_transport.cc
  // For PeerTransport only (Impl cannot be made elsewhere).
  explicit PeerConnection(std::unique_ptr<Impl> impl);
  ~PeerConnection();
  PeerConnection(const PeerConnection&) = delete;
  PeerConnection& operator=(const PeerConnection&) = delete;

  // Begins reading; call once (later calls are ignored). If the connection closed already,
  // on_close runs at once on the calling thread.
  void Start(Handlers handlers) override;
  // Queues one frame; the 4-byte length is added here. Errors: InvalidArgument when the frame is
  // larger than max_frame_bytes (the connection stays open), ResourceExhausted when the send
  // queue would exceed max_queued_send_bytes (the connection is then closed with that status),
  // Unavailable when the connection is closed. OK means queued, not delivered.
  Status Send(std::string frame) override;
  // Continues reading after on_frame returned false. Harmless when not paused.
  void ResumeReading() override;
  // Closes soon (on the strand); frames still queued are dropped. Idempotent. on_close gets
  // `why`, unless the connection was closing for another reason already.
  void Close(const Status& why) override;
  // Runs `task` on the connection's strand; dropped once the transport has stopped.
  void Post(std::function<void()> task) override;

  // Fixed once the handshake is done.
  const PublicKey& remote_key() const override;  // the Ed25519 key of the peer's certificate
  const std::string& remote_address() const override;  // "ip:port", "[v6]:port"
  bool outbound() const override;                      // we dialled it

  // Counters (relaxed atomics): decrypted bytes read and written, frames delivered and written.
  uint64_t bytes_in() const override;
  uint64_t bytes_out() const override;
  uint64_t frames_in() const override;
  uint64_t frames_out() const override;
  // Bytes (frames plus headers) accepted by Send and not yet written to the socket.
  size_t queued_send_bytes() const;

 private:
  std::unique_ptr<Impl> impl_;
};

// Listens for and dials peer connections on its own io_context and threads.
// Thread-safety: every method may be called from any thread, but Stop() (and the destructor)
// must not be called from a transport callback (it joins the threads that run them).
class PeerTransport {
 public:
  // node_seed: the node signing key's seed; its Ed25519 key is the TLS key. cert_pem: the node's
  // self-signed certificate (keys/ node.crt), which must be over that key. threads >= 1.
  // Errors: InvalidArgument (certificate not Ed25519 or not over the key), Internal (OpenSSL).
  static Result<std::unique_ptr<PeerTransport>> Create(const Seed& node_seed,
                                                       const std::string& cert_pem,
                                                       PeerTransportOptions options, int threads);
  ~PeerTransport();  // Stop()s
  PeerTransport(const PeerTransport&) = delete;
  PeerTransport& operator=(const PeerTransport&) = delete;

  // After a key rotation: connections made from now on (both ways) present this key and
  // certificate; open ones keep theirs. Errors as for Create.
  Status SetIdentity(const Seed& node_seed, const std::string& cert_pem);

  // Listens on HOST:PORT (IPv6 as "[::]:7000"; port 0 picks a free one, see port()). on_accept
  // gets each inbound connection whose TLS handshake succeeded, on that connection's strand; it
  // should call Start() on it (until then the idle timeout runs). Slow handshakes never delay
  // other accepts. Call at most once. Errors: InvalidArgument (bad address), IoError (bind,
  // listen), FailedPrecondition (already listening), Unavailable (stopped).
  Status Listen(const std::string& host_port,
                std::function<void(std::shared_ptr<PeerConnection>)> on_accept);
  // The bound port once Listen succeeded, else 0.
  uint16_t port() const;

  // Resolves HOST:PORT, connects and shakes hands within handshake_timeout. `done` is called
  // exactly once with the connection or an error naming the address and the reason (refused,
  // timeout, TLS alert, wrong ALPN, certificate not Ed25519, ...): Unavailable for network
  // failures and timeouts, PermissionDenied when the TLS handshake or its checks fail,
  // InvalidArgument for a malformed address. It runs on the connection's strand; a malformed
  // address or a stopped transport is reported at once on the calling thread, and an attempt cut
  // short by Stop() on Stop's thread.
  void Connect(const std::string& host_port,
               std::function<void(Result<std::shared_ptr<PeerConnection>>)> done);

  // Consulted right after each TCP accept, before any TLS work, with the remote IP ("1.2.3.4",
  // "::1"; IPv4-mapped addresses in IPv4 form), e.g. for bans: false closes the socket at once.
  // Runs on a network thread: must be fast and must not call back into the transport.
  void SetAcceptFilter(std::function<bool(const std::string& remote_ip)> filter);
  // Told about every failed inbound handshake, with the remote "ip:port" and the reason (also
  // logged as a warning), e.g. to ban addresses that keep failing. Same rules as the filter.
  void SetHandshakeFailureObserver(
      std::function<void(const std::string& remote_address, const Status& why)> observer);

  // Closes the listener and every connection (on_close gets Unavailable; a pending Connect's
  // done gets Unavailable) and joins the threads; those last callbacks run on this thread.
  // Then drops on_accept, the accept filter and the failure observer. Idempotent. Connections
  // the caller still holds stay valid objects, closed.
  void Stop();

  struct Impl;

 private:
  explicit PeerTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hashmesh
