// HostilePeer and SignedFeed: a PeerTransport client driven by a test.
#include "tests/integration/hostile_peer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <future>

#include "common/clock.h"
#include "common/hex.h"
#include "keys/key_dir.h"
#include "tests/support/test_member.h"

namespace hashmesh::testing {

using std::chrono::seconds;

HostilePeer::HostilePeer(const std::string& keys_dir) {
  InitCrypto();
  auto identity = LoadNodeIdentity(keys_dir);
  EXPECT_TRUE(identity.ok()) << identity.status().ToString();
  manifest_ = identity->manifest_bytes;
  auto transport = PeerTransport::Create(identity->node_key.seed(), identity->certificate_pem,
                                         PeerTransportOptions{}, /*threads=*/1);
  EXPECT_TRUE(transport.ok()) << transport.status().ToString();
  transport_ = std::move(*transport);
}

HostilePeer::~HostilePeer() { transport_->Stop(); }

Status HostilePeer::Connect(const std::string& address) {
  Close();
  auto promise = std::make_shared<std::promise<Result<std::shared_ptr<PeerConnection>>>>();
  transport_->Connect(address, [promise](Result<std::shared_ptr<PeerConnection>> r) {
    promise->set_value(std::move(r));
  });
  auto result = promise->get_future().get();
  if (!result.ok()) return result.status();
  auto state = std::make_shared<State>();
  {
    std::lock_guard lock(mu_);
    connection_ = *result;
    state_ = state;
    state->serve = serve_;
  }
  std::weak_ptr<PeerConnection> weak = *result;
  (*result)->Start({.on_frame =
                        [state, weak](std::string frame) {
                          pb::PeerMessage message;
                          if (!message.ParseFromString(frame)) return true;
                          std::lock_guard lock(state->mu);
                          if (message.has_want() && state->serve) {
                            // Served here so that a test need not poll for Wants meanwhile.
                            const auto& feed = *state->serve;
                            const uint64_t to =
                                std::min<uint64_t>(message.want().to(), feed.size());
                            pb::PeerMessage records;
                            for (uint64_t seq = message.want().from(); seq <= to; ++seq) {
                              *records.mutable_records()->add_records() =
                                  feed[seq - 1].signed_record;
                            }
                            ++state->wants_served;
                            if (auto c = weak.lock()) (void)c->Send(records.SerializeAsString());
                            return true;
                          }
                          state->inbox.push_back(std::move(message));
                          state->cv.notify_all();
                          return true;
                        },
                    .on_close =
                        [state](const Status& why) {
                          std::lock_guard lock(state->mu);
                          state->closed = why;
                          state->cv.notify_all();
                        }});
  return Status::Ok();
}

void HostilePeer::Close() {
  std::shared_ptr<PeerConnection> connection;
  {
    std::lock_guard lock(mu_);
    connection.swap(connection_);
  }
  if (connection) connection->Close(Unavailable("closed by the test"));
}

void HostilePeer::Send(const pb::PeerMessage& message) { SendRaw(message.SerializeAsString()); }

void HostilePeer::SendRaw(std::string frame) {
  std::lock_guard lock(mu_);
  if (connection_) (void)connection_->Send(std::move(frame));
}

void HostilePeer::SendHello(std::optional<std::string> manifest) {
  pb::PeerMessage hello;
  hello.mutable_hello()->set_protocol_version(1);
  hello.mutable_hello()->mutable_manifest()->ParseFromString(manifest.value_or(manifest_));
  hello.mutable_hello()->set_node_name("mallory-client");
  Send(hello);
}

void HostilePeer::SendRecords(const std::vector<ParsedRecord>& records) {
  pb::PeerMessage message;
  for (const auto& r : records) *message.mutable_records()->add_records() = r.signed_record;
  Send(message);
}

void HostilePeer::ServeWants(std::shared_ptr<const std::vector<ParsedRecord>> feed) {
  std::shared_ptr<State> state;
  {
    std::lock_guard lock(mu_);
    serve_ = feed;
    state = state_;
  }
  if (!state) return;
  std::lock_guard lock(state->mu);
  state->serve = std::move(feed);
}

size_t HostilePeer::queued_send_bytes() {
  std::lock_guard lock(mu_);
  return connection_ ? connection_->queued_send_bytes() : 0;
}

uint64_t HostilePeer::wants_served() {
  auto state = Current();
  if (!state) return 0;
  std::lock_guard lock(state->mu);
  return state->wants_served;
}

bool HostilePeer::Receive(pb::PeerMessage::MsgCase kind, pb::PeerMessage* out,
                          std::chrono::milliseconds timeout) {
  auto state = Current();
  std::unique_lock lock(state->mu);
  for (;;) {
    while (!state->inbox.empty()) {
      pb::PeerMessage m = std::move(state->inbox.front());
      state->inbox.pop_front();
      if (m.msg_case() != kind) continue;
      if (out != nullptr) *out = std::move(m);
      return true;
    }
    if (state->closed) return false;
    if (state->cv.wait_for(lock, timeout) == std::cv_status::timeout) return false;
  }
}

bool HostilePeer::Alive() {
  pb::PeerMessage ping;
  uint64_t nonce;
  {
    std::lock_guard lock(mu_);
    nonce = ++nonce_;
  }
  ping.mutable_ping()->set_nonce(nonce);
  Send(ping);
  pb::PeerMessage pong;
  while (Receive(pb::PeerMessage::kPong, &pong)) {
    if (pong.pong().nonce() == nonce) return true;
  }
  return false;
}

std::optional<Status> HostilePeer::WaitClosed() {
  auto state = Current();
  std::unique_lock lock(state->mu);
  state->cv.wait_for(lock, seconds(10), [&] { return state->closed.has_value(); });
  return state->closed;
}

std::shared_ptr<HostilePeer::State> HostilePeer::Current() {
  std::lock_guard lock(mu_);
  return state_;
}

pb::RecordBody PdqSignalBody(uint32_t seed) {
  pb::RecordBody body;
  body.mutable_signal()->set_type(pb::SIGNAL_TYPE_PDQ);
  body.mutable_signal()->set_value(RandomPdqHex(seed));
  body.mutable_signal()->add_labels("test/x");
  return body;
}

std::vector<ParsedRecord> SignedFeed(const std::string& keys_dir, const std::string& member_id,
                                     const std::string& manifest, int count, uint32_t seed) {
  std::vector<ParsedRecord> feed;
  feed.reserve(static_cast<size_t>(std::max(count, 0)));
  auto key = ReadSecretKeyFile(keys_dir + "/node.key");
  auto member = KeyFromText(member_id);
  EXPECT_TRUE(key.ok() && member.ok());
  if (!key.ok() || !member.ok()) return feed;
  for (int i = 1; i <= count; ++i) {
    pb::RecordBody body = PdqSignalBody(seed + i);
    if (i == 1) body.mutable_manifest()->ParseFromString(manifest);
    std::optional<RecordId> prev;
    if (!feed.empty()) prev = feed.back().id;
    auto r = BuildRecord(body, *key, *member, i, prev, /*manifest_seq=*/1, NowMs());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) break;
    feed.push_back(std::move(*r));
  }
  return feed;
}

}  // namespace hashmesh::testing
