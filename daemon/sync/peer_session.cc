// The sync protocol state machine for one peer connection.
#include "daemon/sync/peer_session.h"

#include <atomic>

#include "common/log.h"
#include "common/manifest.h"
#include "proto/wire.pb.h"

namespace hashmesh {
namespace {

constexpr uint32_t kProtocolVersion = 1;

}  // namespace

bool BlamesSender(const IngestOutcome& outcome, bool author_is_sender) {
  switch (outcome.result) {
    case IngestResult::kBadSignature: return true;
    case IngestResult::kNotAllowed: return author_is_sender;
    case IngestResult::kCommitted:
    case IngestResult::kDuplicate:
    case IngestResult::kFork:  // the author's fault, proven and flooded; not the relay's
    case IngestResult::kGap:
    case IngestResult::kInvalidChain:
    case IngestResult::kUntrusted:
    case IngestResult::kStoreError: break;
  }
  return false;
}

PeerSession::PeerSession(std::shared_ptr<PeerLink> connection, const SyncContext* ctx,
                         SessionHost* host, SessionTimers timers)
    : connection_(std::move(connection)), ctx_(ctx), host_(host), timers_(timers) {}

void PeerSession::Start() {
  pb::PeerMessage hello;
  hello.mutable_hello()->set_protocol_version(kProtocolVersion);
  hello.mutable_hello()->mutable_manifest()->ParseFromString(ctx_->identity->PeerKeys().manifest);
  hello.mutable_hello()->set_node_name(ctx_->node_name);
  Send(hello);
  auto self = shared_from_this();
  connection_->Start({
      .on_frame = [self](std::string frame) { return self->OnFrame(std::move(frame)); },
      .on_close = [self](const Status& why) { self->OnClose(why); },
  });
}

void PeerSession::Send(const pb::PeerMessage& message) {
  Status s = connection_->Send(message.SerializeAsString());
  if (!s.ok() && s.code() != StatusCode::kUnavailable) {
    LogWarning("peer send failed")
        .Kv("peer", connection_->remote_address())
        .Kv("error", s.message());
  }
}

void PeerSession::Misbehaved(const std::string& why) {
  LogWarning("peer misbehaved; closing and banning")
      .Kv("peer", connection_->remote_address())
      .Kv("key", KeyToText(connection_->remote_key()))
      .Kv("why", why);
  host_->Ban(connection_->remote_key(), connection_->remote_address(), why);
  connection_->Close(PermissionDenied("misbehaviour: " + why));
}

bool PeerSession::OnFrame(std::string frame) {
  pb::PeerMessage message;
  if (!message.ParseFromString(frame)) {
    Misbehaved("frame is not a PeerMessage");
    return false;
  }
  {
    MutexLock lock(mu_);
    last_seen_ = std::chrono::system_clock::now();
  }
  if (!admitted() && message.msg_case() != pb::PeerMessage::kHello) {
    Misbehaved("first message is not Hello");
    return false;
  }
  Status s;
  switch (message.msg_case()) {
    case pb::PeerMessage::kHello:
      s = HandleHello(message.hello());
      break;
    case pb::PeerMessage::kHeads:
      s = HandleHeads(message.heads());
      break;
    case pb::PeerMessage::kWant:
      s = HandleWant(message.want());
      break;
    case pb::PeerMessage::kRecords:
      s = HandleRecords(message.records());
      break;
    case pb::PeerMessage::kEquivocation:
      s = HandleEquivocation(message.equivocation());
      break;
    case pb::PeerMessage::kManifests:
      break;  // manifests travel in feeds; nothing to do
    case pb::PeerMessage::kPing: {
      pb::PeerMessage pong;
      pong.mutable_pong()->set_nonce(message.ping().nonce());
      Send(pong);
      break;
    }
    case pb::PeerMessage::kPong:
      break;
    case pb::PeerMessage::MSG_NOT_SET:
      s = InvalidArgument("empty or unknown message kind");
      break;
  }
  if (!s.ok()) {
    if ((s.code() == StatusCode::kPermissionDenied || s.code() == StatusCode::kAlreadyExists) &&
        !admitted()) {
      // Not admitted (untrusted, stale key, a second session with the same peer): refuse
      // without banning; trust may change.
      LogWarning("peer refused").Kv("peer", connection_->remote_address()).Kv("why", s.message());
      connection_->Close(s);
    } else {
      Misbehaved(s.message());
    }
    return false;
  }
  MutexLock lock(mu_);
  if (in_flight_ >= kMaxInFlight) {
    paused_ = true;  // back-pressure: resumed by RecordWritten when the writer catches up
    return false;
  }
  return true;
}

void PeerSession::OnClose(const Status& why) {
  LogInfo("peer session closed").Kv("peer", connection_->remote_address()).Kv("why", why.message());
  {
    MutexLock lock(mu_);
    close_reason_ = why.message();
  }
  host_->OnSessionClosed(this);
}

Status PeerSession::HandleHello(const pb::Hello& hello) {
  if (admitted()) return InvalidArgument("second Hello");
  if (hello.protocol_version() != kProtocolVersion) {
    return PermissionDenied("protocol version " + std::to_string(hello.protocol_version()) +
                            " is not supported");
  }
  auto info = VerifySignedManifest(hello.manifest());
  if (!info.ok()) return InvalidArgument("Hello manifest: " + info.status().message());
  if (info->revoked() || !info->signing_key)
    return PermissionDenied("peer's member key is revoked");
  if (*info->signing_key != connection_->remote_key()) {
    return PermissionDenied("Hello manifest does not certify the TLS certificate's key");
  }
  auto trust = ctx_->trust->Trust();
  const TrustMember* member = trust->FindByKey(info->member_key);
  if (member == nullptr) {
    return PermissionDenied("member " + KeyToText(info->member_key) + " is not in our trust store");
  }
  if (host_->IsBanned(connection_->remote_key())) {
    return PermissionDenied("peer key is banned");
  }
  // A manifest older than the newest we hold in its feed names a superseded key.
  if (auto latest = ctx_->feeds->LatestManifest(info->member_key)) {
    if (latest->revoked()) return PermissionDenied("peer's member key is revoked");
    if (info->seq < latest->seq) return PermissionDenied("Hello manifest is superseded");
  }
  if (info->member_key == ctx_->member &&
      connection_->remote_key() == ctx_->identity->PeerKeys().node_key) {
    return PermissionDenied("connected to ourselves");
  }
  HM_RETURN_IF_ERROR(host_->Admit(this));
  {
    MutexLock lock(mu_);
    admitted_ = true;
    member_ = info->member_key;
    name_ = member->name;
  }
  LogInfo("peer admitted")
      .Kv("peer", connection_->remote_address())
      .Kv("member", member->name)
      .Kv("node", hello.node_name())
      .Kv("outbound", connection_->outbound());
  SendHeads();
  // Fork proofs are flooded once, when found: a peer that was away then learns them now.
  if (auto proofs = ctx_->feeds->Equivocations(); proofs.ok()) {
    for (const auto& proof : *proofs) SendEquivocation(proof);
  }
  return Status::Ok();
}

void PeerSession::SendHeads() {
  if (!admitted()) return;
  auto heads = ctx_->feeds->Heads();
  if (!heads.ok()) return;
  pb::PeerMessage message;
  for (const auto& h : *heads) {
    pb::Head* head = message.mutable_heads()->add_heads();
    head->set_author(std::string(AsStringView(h.author)));
    head->set_seq(h.seq);
    head->set_id(std::string(AsStringView(h.id)));
  }
  message.mutable_heads();  // an empty Heads is still a Heads
  {
    MutexLock lock(mu_);
    last_heads_ = std::chrono::steady_clock::now();
  }
  Send(message);
}

Status PeerSession::HandleHeads(const pb::Heads& heads) {
  auto trust = ctx_->trust->Trust();
  uint64_t own_at_peer = 0;
  {
    MutexLock lock(mu_);
    for (const auto& h : heads.heads()) {
      HM_ASSIGN_OR_RETURN(PublicKey author, Bytes32(h.author(), "Heads author"));
      if (h.seq() > 0xFFFFFFFFull) return InvalidArgument("Heads seq out of range");
      if (author == ctx_->member) own_at_peer = h.seq();
      if (trust->FindByKey(author) == nullptr) continue;  // not ours to follow
      uint64_t& known = peer_heads_[author];
      known = std::max(known, h.seq());
      const uint64_t next = ctx_->pipeline->NextWanted(author);
      if (h.seq() > 0 && h.seq() < next && h.id().size() == 32 &&
          ForkedAt(author, h.seq(), h.id())) {
        // The peer's head is not our record at that seq: the author forked. The peer's record
        // makes the writer store the proof, wherever each side's head is.
        pb::PeerMessage want;
        want.mutable_want()->set_author(h.author());
        want.mutable_want()->set_from(h.seq());
        want.mutable_want()->set_to(h.seq());
        Send(want);
      }
      wanted_to_[author] = std::min(wanted_to_[author], next - 1);  // re-ask what never came
      MaybeWant(author);
    }
  }
  // Outside our lock: the manager takes its own and may call back into sessions.
  host_->OnPeerHeads(own_at_peer);
  return Status::Ok();
}

bool PeerSession::ForkedAt(const PublicKey& author, uint64_t seq, std::string_view peer_id) const {
  auto head = ctx_->feeds->Head(author);
  if (!head.ok() || !head->has_value() || (*head)->seq < seq) return false;  // only queued
  RecordId ours = (*head)->id;
  if ((*head)->seq > seq) {
    // A peer that is behind us (or on the other branch) reports a seq below our head.
    auto stored = ctx_->feeds->RecordIdAt(author, seq);
    if (!stored) return false;
    ours = *stored;
  }
  if (peer_id == AsStringView(ours)) return false;
  // A fork proven at or below `seq` already says all there is to say: don't ask again.
  auto fork = ctx_->feeds->ForkSeq(author);
  return !(fork.ok() && fork->has_value() && **fork <= seq);
}

void PeerSession::MaybeWant(const PublicKey& author) {
  const uint64_t theirs = peer_heads_[author];
  const uint64_t next = ctx_->pipeline->NextWanted(author);
  uint64_t& asked = wanted_to_[author];
  if (asked < next - 1) asked = next - 1;
  // Keep about one chunk in flight ahead of what we have, so catch-up streams without stalls.
  while (asked < theirs && asked < next - 1 + kWantChunk) {
    const uint64_t from = asked + 1;
    const uint64_t to = std::min(theirs, asked + kWantChunk);
    pb::PeerMessage want;
    want.mutable_want()->set_author(std::string(AsStringView(author)));
    want.mutable_want()->set_from(from);
    want.mutable_want()->set_to(to);
    Send(want);
    asked = to;
  }
}

Status PeerSession::HandleWant(const pb::Want& want) {
  HM_ASSIGN_OR_RETURN(PublicKey author, Bytes32(want.author(), "Want author"));
  if (want.from() == 0 || want.to() < want.from()) return InvalidArgument("Want range is empty");
  if (want.to() - want.from() >= kMaxWantSpan) return InvalidArgument("Want range over 10000");
  if (ctx_->trust->Trust()->FindByKey(author) == nullptr) return Status::Ok();  // trusted only
  uint64_t seq = want.from();
  while (seq <= want.to()) {
    auto page = ctx_->feeds->ReadFeed(author, seq, std::min<uint64_t>(1000, want.to() - seq + 1));
    if (!page.ok() || page->empty()) break;
    pb::PeerMessage message;
    size_t bytes = 0;
    size_t sent = 0;
    for (auto& bytes_of_record : *page) {
      if (bytes > 0 && bytes + bytes_of_record.size() > kRecordsFrameBytes) break;
      bytes += bytes_of_record.size();
      message.mutable_records()->add_records()->ParseFromString(bytes_of_record);
      ++sent;
    }
    seq += sent;
    Send(message);
    MutexLock lock(mu_);
    counters_.records_out += sent;
    uint64_t& known = peer_heads_[author];
    known = std::max(known, seq - 1);
  }
  return Status::Ok();
}

Status PeerSession::HandleRecords(const pb::Records& records) {
  auto trust = ctx_->trust->Trust();
  std::vector<PublicKey> authors;  // to ask for more of, once each
  for (const auto& signed_record : records.records()) {
    auto parsed = ParseRecord(signed_record);
    if (!parsed.ok()) return InvalidArgument("malformed record: " + parsed.status().message());
    const PublicKey author = parsed->author;
    MutexLock lock(mu_);
    if (trust->FindByKey(author) == nullptr) {
      ++counters_.rejected;  // not ours to store or relay; not the peer's fault
      continue;
    }
    uint64_t& known = peer_heads_[author];
    known = std::max(known, parsed->seq());
    if (std::find(authors.begin(), authors.end(), author) == authors.end()) {
      authors.push_back(author);
    }
    ++in_flight_;
    auto self = shared_from_this();
    // A held record (ahead of a gap) stops counting as in flight: the pipeline bounds the hold,
    // and pausing for it could leave the records that fill the gap unread behind the pause.
    // Whichever of the hold and the completion comes first takes it off.
    auto counted = std::make_shared<std::atomic<bool>>(true);
    auto offered =
        ctx_->pipeline->Offer(std::move(*parsed), [self, author,
                                                    counted](const IngestOutcome& outcome) {
          // On the writer thread: take the count off now, handle the outcome on our strand.
          const bool in_flight = counted->exchange(false);
          self->connection_->Post([self, author, outcome, in_flight] {
            self->RecordWritten(author, outcome, in_flight);
          });
        });
    if (offered == IngestPipeline::Offered::kDuplicate ||
        offered == IngestPipeline::Offered::kFull ||
        (offered == IngestPipeline::Offered::kHeld && counted->exchange(false))) {
      --in_flight_;
    }
  }
  MutexLock lock(mu_);
  for (const auto& author : authors) MaybeWant(author);
  return Status::Ok();
}

void PeerSession::RecordWritten(const PublicKey& author, const IngestOutcome& outcome,
                                bool in_flight) {
  bool resume = false;
  {
    MutexLock lock(mu_);
    if (in_flight) --in_flight_;
    if (outcome.committed()) {
      ++counters_.records_in;
    } else if (outcome.result != IngestResult::kDuplicate &&
               outcome.result != IngestResult::kFork) {
      ++counters_.rejected;
    }
    if (paused_ && in_flight_ < kMaxInFlight / 4) {
      paused_ = false;
      resume = true;
    }
    if (outcome.committed()) MaybeWant(author);
  }
  if (BlamesSender(outcome, author == member())) {
    Misbehaved("sent an invalid record: " + outcome.reason);
  }
  if (resume) connection_->ResumeReading();
}

Status PeerSession::HandleEquivocation(const pb::Equivocation& proof) {
  for (const auto* r : {&proof.first(), &proof.second()}) {
    auto parsed = ParseRecord(*r);
    if (!parsed.ok()) return InvalidArgument("malformed equivocation proof");
    if (ctx_->trust->Trust()->FindByKey(parsed->author) == nullptr) return Status::Ok();
    // The one we lack (or the second at a taken seq) makes the writer store the proof.
    ctx_->pipeline->Offer(std::move(*parsed), nullptr);
  }
  return Status::Ok();
}

void PeerSession::PushRecords(std::shared_ptr<const std::vector<ParsedRecord>> records) {
  connection_->Post([self = shared_from_this(), records = std::move(records)] {
    self->SendRecords(*records);
  });
}

void PeerSession::PushEquivocation(std::string proof) {
  connection_->Post([self = shared_from_this(), proof = std::move(proof)] {
    self->SendEquivocation(proof);
  });
}

void PeerSession::SendRecords(const std::vector<ParsedRecord>& records) {
  pb::PeerMessage message;
  {
    MutexLock lock(mu_);
    if (!admitted_) return;
    for (const auto& r : records) {
      uint64_t& known = peer_heads_[r.author];
      if (known >= r.seq()) continue;
      known = r.seq();
      *message.mutable_records()->add_records() = r.signed_record;
    }
    if (message.records().records_size() == 0) return;
    counters_.records_out += message.records().records_size();
  }
  Send(message);
}

void PeerSession::SendEquivocation(const std::string& proof) {
  if (!admitted()) return;
  pb::PeerMessage message;
  if (!message.mutable_equivocation()->ParseFromString(proof)) return;
  Send(message);
}

void PeerSession::Tick(std::chrono::steady_clock::time_point now) {
  bool heads = false, ping = false;
  {
    MutexLock lock(mu_);
    if (!admitted_) {
      if (now - started_ > timers_.hello_timeout) {
        connection_->Close(Unavailable("no Hello within the handshake timeout"));
      }
      return;
    }
    heads = now - last_heads_ >= timers_.heads_interval;
    ping = now - last_ping_ >= timers_.ping_interval;
    if (ping) last_ping_ = now;
  }
  if (heads) SendHeads();
  if (ping) {
    pb::PeerMessage message;
    message.mutable_ping()->set_nonce(static_cast<uint64_t>(now.time_since_epoch().count()));
    Send(message);
  }
}

bool PeerSession::admitted() const {
  MutexLock lock(mu_);
  return admitted_;
}

PublicKey PeerSession::member() const {
  MutexLock lock(mu_);
  return member_;
}

PeerInfo PeerSession::Info() const {
  MutexLock lock(mu_);
  PeerInfo info;
  if (admitted_) info.member = member_;
  info.name = name_;
  info.address = connection_->remote_address();
  info.state = admitted_ ? "connected" : "handshaking";
  info.outbound = connection_->outbound();
  info.node_key = connection_->remote_key();
  if (last_seen_.time_since_epoch().count() > 0) {
    info.last_seen_ms = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(last_seen_.time_since_epoch())
            .count());
  }
  info.records_in = counters_.records_in;
  info.records_out = counters_.records_out;
  info.bytes_in = connection_->bytes_in();
  info.bytes_out = connection_->bytes_out();
  info.frames_in = connection_->frames_in();
  info.frames_out = connection_->frames_out();
  return info;
}

}  // namespace hashmesh
