// A node's sync core without TLS, for tests: a store, the writer (with the real acceptance
// check), the ingest pipeline and a sync context over fakes of the trust store, our identity and
// the session host; peers are TestMembers whose sessions run over MemoryLinks. State renders as
// strings: a feed as "alice#1 manifest | alice#2 signal pdq:..", frames as "Want alice 1..3".
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/hex.h"
#include "daemon/storage/store.h"
#include "daemon/storage/writer.h"
#include "daemon/sync/feed_reader.h"
#include "daemon/sync/ingest_pipeline.h"
#include "daemon/sync/peer_session.h"
#include "tests/support/test_dir.h"
#include "tests/support/test_member.h"
#include "tests/support/test_trust.h"
#include "tests/sync/memory_link.h"

namespace hashmesh::testing {

class FakeIdentity final : public LocalIdentity {
 public:
  LocalPeerKeys keys;
  LocalPeerKeys PeerKeys() const override { return keys; }
};

// Records what sessions ask of their host; admits unless told otherwise.
class RecordingHost final : public SessionHost {
 public:
  Status Admit(PeerSession*) override { return admit; }
  bool IsBanned(const PublicKey& key) const override {
    std::lock_guard lock(mu);
    return banned.count(key) > 0;
  }
  void Ban(const PublicKey& key, const std::string&, const std::string& why) override {
    std::lock_guard lock(mu);
    banned.insert(key);
    bans.push_back(why);
  }
  void OnPeerHeads(uint64_t own_seq) override {
    std::lock_guard lock(mu);
    own_seqs.push_back(own_seq);
  }
  void OnSessionClosed(PeerSession*) override {
    std::lock_guard lock(mu);
    ++closed;
  }
  std::vector<std::string> Bans() const {
    std::lock_guard lock(mu);
    return bans;
  }

  Status admit;
  mutable std::mutex mu;
  std::set<PublicKey> banned;
  std::vector<std::string> bans;
  std::vector<uint64_t> own_seqs;
  int closed = 0;
};

class SyncFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitCrypto());
    dir_ = testing::FreshTestDir("sync_test");
    store_ = std::move(*Store::Open({.dir = dir_.string()}));
    names_ = {{us_.id(), "us"}, {alice_.id(), "alice"}, {bob_.id(), "bob"}, {carol_.id(), "carol"}};
    TrustStore trust;
    for (const auto* m : {&us_, &alice_, &bob_}) {
      ASSERT_TRUE(trust.Add({names_[m->id()], m->id(), {Role::kPlatform}, ""}).ok());
    }
    trust_.Set(std::move(trust));
    identity_.keys = {us_.signing_key().public_key(), us_.manifest()};
    OwnFeedIdentity own{us_.id(), &us_.signing_key(), us_.manifest_seq(), us_.manifest(), {}};
    writer_ = std::make_unique<Writer>(store_.get(), own, &trust_, WriterOptions{});
    writer_->AddCommitListener([this](const std::vector<ParsedRecord>& rs) {
      std::lock_guard lock(committed_mu_);
      committed_ += rs.size();
    });
    ASSERT_TRUE(writer_->Start().ok());
    pipeline_ = std::make_unique<IngestPipeline>(store_.get(), writer_.get());
    feeds_ = std::make_unique<StoreFeedReader>(store_.get());
    ctx_ = {.feeds = feeds_.get(),
            .pipeline = pipeline_.get(),
            .trust = &trust_,
            .identity = &identity_,
            .member = us_.id(),
            .node_name = "us-node"};
  }

  void TearDown() override {
    // Closing the links releases their sessions (the handlers hold them).
    for (auto& link : links_) {
      link->Close(Unavailable("test over"));
      link->RunPending();
    }
    writer_->Stop();
    for (auto& link : links_) link->RunPending();
    links_.clear();
    pipeline_.reset();
    writer_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // A link from `peer`'s node (its TLS key is its signing key).
  std::shared_ptr<MemoryLink> LinkFrom(const TestMember& peer, bool outbound = false,
                                       const std::string& address = "10.0.0.2:7000") {
    auto link =
        std::make_shared<MemoryLink>(peer.signing_key().public_key(), address, outbound);
    links_.push_back(link);
    return link;
  }
  std::shared_ptr<PeerSession> StartSession(std::shared_ptr<MemoryLink> link) {
    auto session = std::make_shared<PeerSession>(link, &ctx_, &host_, timers_);
    session->Start();
    return session;
  }

  static pb::PeerMessage Hello(const TestMember& peer, const std::string& node = "node") {
    pb::PeerMessage m;
    m.mutable_hello()->set_protocol_version(1);
    m.mutable_hello()->mutable_manifest()->ParseFromString(peer.manifest());
    m.mutable_hello()->set_node_name(node);
    return m;
  }
  // Heads naming `peer`'s feed up to `seq` (the id of its record there).
  static pb::PeerMessage Heads(const std::vector<std::pair<const TestMember*, uint64_t>>& heads) {
    pb::PeerMessage m;
    m.mutable_heads();
    for (const auto& [member, seq] : heads) {
      pb::Head* h = m.mutable_heads()->add_heads();
      h->set_author(std::string(AsStringView(member->id())));
      h->set_seq(seq);
      if (seq > 0) h->set_id(std::string(AsStringView(member->feed()[seq - 1].id)));
    }
    return m;
  }
  static pb::PeerMessage Records(const std::vector<ParsedRecord>& records) {
    pb::PeerMessage m;
    m.mutable_records();
    for (const auto& r : records) *m.mutable_records()->add_records() = r.signed_record;
    return m;
  }
  static pb::PeerMessage Want(const TestMember& author, uint64_t from, uint64_t to) {
    pb::PeerMessage m;
    m.mutable_want()->set_author(std::string(AsStringView(author.id())));
    m.mutable_want()->set_from(from);
    m.mutable_want()->set_to(to);
    return m;
  }

  // Appends `member`'s manifest (if its feed is empty) and then `signals` signals.
  static void GrowFeed(TestMember& member, int signals) {
    if (member.feed().empty()) member.AppendManifest();
    for (int i = 0; i < signals; ++i) {
      member.AppendSignal(RandomPdqHex(static_cast<uint32_t>(member.feed().size())));
    }
  }

  std::string Name(std::string_view key_bytes) const {
    if (key_bytes.size() != 32) return "?";
    PublicKey key;
    std::copy(key_bytes.begin(), key_bytes.end(), key.begin());
    auto it = names_.find(key);
    return it != names_.end() ? it->second : ToHex(key).substr(0, 8);
  }
  // "alice#2 signal pdq:5feb5c5a2c1e"
  std::string Render(const ParsedRecord& r) const {
    const std::string debug = r.DebugString();
    return Name(AsStringView(r.author)) + debug.substr(debug.find('#'));
  }
  std::string Render(const pb::PeerMessage& m) const {
    switch (m.msg_case()) {
      case pb::PeerMessage::kHello:
        return "Hello v" + std::to_string(m.hello().protocol_version()) +
               " node=" + m.hello().node_name();
      case pb::PeerMessage::kHeads: {
        std::string s = "Heads";
        for (const auto& h : m.heads().heads()) {
          s += " " + Name(h.author()) + "#" + std::to_string(h.seq());
        }
        return s;
      }
      case pb::PeerMessage::kWant:
        return "Want " + Name(m.want().author()) + " " + std::to_string(m.want().from()) + ".." +
               std::to_string(m.want().to());
      case pb::PeerMessage::kRecords: {
        std::string s = "Records";
        const char* sep = " ";
        for (const auto& r : m.records().records()) {
          auto parsed = ParseRecord(r);
          s += sep + (parsed.ok() ? Render(*parsed) : "unparsable");
          sep = " | ";
        }
        return s;
      }
      case pb::PeerMessage::kEquivocation: {
        auto first = ParseRecord(m.equivocation().first());
        return "Equivocation " + (first.ok() ? Render(*first) : "unparsable");
      }
      case pb::PeerMessage::kPing: return "Ping";
      case pb::PeerMessage::kPong: return "Pong " + std::to_string(m.pong().nonce());
      default: return "?";
    }
  }
  // What the session sent since last asked, one frame a line.
  std::string Sent(MemoryLink& link) const {
    std::string s;
    for (const auto& m : link.TakeSent()) s += (s.empty() ? "" : "\n") + Render(m);
    return s;
  }
  // The stored feed of `author`: "alice#1 manifest | alice#2 signal pdq:..".
  std::string Feed(const TestMember& author) const {
    auto page = store_->ReadFeed(author.id(), 1, 1000);
    std::string s;
    if (!page.ok()) return page.status().ToString();
    for (const auto& bytes : *page) {
      auto r = ParseRecordBytes(bytes);
      s += (s.empty() ? "" : " | ") + (r.ok() ? Render(*r) : "unparsable");
    }
    return s;
  }
  // Runs `link`'s strand until `done` holds (the writer works on its own thread), for 5 s at most.
  bool RunUntil(MemoryLink& link, const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
      link.RunPending();
      if (done()) return true;
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  // Waits until the writer has handled `n` more items than at the last call.
  uint64_t WriterHandled() const {
    const WriterStats s = writer_->stats();
    return s.records + s.rejected + s.duplicates;
  }

  TestMember us_, alice_, bob_, carol_;
  std::map<PublicKey, std::string> names_;
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Writer> writer_;
  std::unique_ptr<IngestPipeline> pipeline_;
  std::unique_ptr<StoreFeedReader> feeds_;
  FakeTrust trust_;
  FakeIdentity identity_;
  RecordingHost host_;
  SessionTimers timers_;
  SyncContext ctx_;
  std::mutex committed_mu_;
  size_t committed_ = 0;
  std::vector<std::shared_ptr<MemoryLink>> links_;
};

}  // namespace hashmesh::testing
