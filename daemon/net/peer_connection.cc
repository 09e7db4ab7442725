// PeerConnection's public methods: they lock the connection's state and post work to its strand.
#include "daemon/net/peer_connection_impl.h"

namespace hashmesh {

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

void PeerConnection::Post(std::function<void()> task) {
  impl_->core->Post(impl_->executor, std::move(task));
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

}  // namespace hashmesh
