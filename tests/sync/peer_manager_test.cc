// The peer manager's admission (duplicates, cloned keys), bans, trust changes and live gossip,
// with sessions over in-memory links (the manager is not started: no transport, no threads).
#include "daemon/sync/peer_manager.h"

#include <gtest/gtest.h>

#include "proto/api.pb.h"
#include "tests/sync/sync_fixture.h"

namespace hashmesh::testing {
namespace {

class PeerManagerTest : public SyncFixture {
 protected:
  void SetUp() override {
    SyncFixture::SetUp();
    PeerManagerOptions options;
    options.ban_duration = std::chrono::seconds(600);
    manager_ = std::make_unique<PeerManager>(ctx_, options, us_.signing_key().seed(), "");
  }
  void TearDown() override {
    for (auto& link : links_) {
      link->Close(Unavailable("test over"));
      link->RunPending();
    }
    manager_.reset();
    SyncFixture::TearDown();
  }

  // A session with `peer` through the manager; Hello delivered.
  std::shared_ptr<MemoryLink> Connect(const TestMember& peer, bool outbound = false,
                                      const std::string& address = "10.0.0.2:7000") {
    auto link = LinkFrom(peer, outbound, address);
    manager_->AddSession(link, "");
    link->Deliver(Hello(peer));
    link->RunPending();
    return link;
  }
  // "alice banned | bob connected", as GET /v1/peers shows them (sorted).
  std::string Peers() const {
    std::set<std::string> shown;
    for (const PeerInfo& p : manager_->Peers()) {
      std::string who = p.name;
      for (const auto* m : {&us_, &alice_, &bob_, &carol_}) {
        // A ban names the node key.
        if (p.member == m->signing_key().public_key()) who = names_.at(m->id());
      }
      shown.insert(who + " " + p.state);
    }
    std::string s;
    for (const auto& line : shown) s += (s.empty() ? "" : " | ") + line;
    return s;
  }

  std::unique_ptr<PeerManager> manager_;
};

TEST_F(PeerManagerTest, AdmitsTrustedPeers) {
  auto a = Connect(alice_);
  auto b = Connect(bob_, /*outbound=*/false, "10.0.0.3:7000");
  EXPECT_EQ(manager_->admitted_sessions(), 2u);
  EXPECT_EQ(Peers(), "alice connected | bob connected");
}

TEST_F(PeerManagerTest, MisbehaviourBansTheKeyForItsNextSessions) {
  auto first = Connect(alice_);
  first->Deliver(Want(us_, 0, 0));  // an empty range
  first->RunPending();
  EXPECT_EQ(first->close_reason(), "permission_denied: misbehaviour: Want range is empty");
  EXPECT_EQ(manager_->bans_total(), 1u);
  EXPECT_TRUE(manager_->IsBanned(alice_.signing_key().public_key()));
  EXPECT_EQ(manager_->admitted_sessions(), 0u);
  EXPECT_EQ(Peers(), "alice banned");

  // From another address too: the key is banned, and refusing it is no second ban.
  auto again = Connect(alice_, /*outbound=*/false, "10.0.0.9:7000");
  EXPECT_EQ(again->close_reason(), "permission_denied: peer key is banned");
  EXPECT_EQ(manager_->bans_total(), 1u);
  EXPECT_FALSE(manager_->IsBanned(bob_.signing_key().public_key()));
}

TEST_F(PeerManagerTest, MutualDialsKeepTheSessionDialledByTheSmallerNodeKey) {
  auto inbound = Connect(alice_, /*outbound=*/false);
  auto outbound = Connect(alice_, /*outbound=*/true);
  inbound->RunPending();  // a replaced session is closed on its own strand
  const bool alice_dials_the_keeper = alice_.signing_key().public_key() < identity_.keys.node_key;
  MemoryLink& kept = alice_dials_the_keeper ? *inbound : *outbound;
  MemoryLink& dropped = alice_dials_the_keeper ? *outbound : *inbound;
  EXPECT_FALSE(kept.closed());
  EXPECT_EQ(dropped.close_reason(),
            alice_dials_the_keeper
                ? "already_exists: duplicate session: already connected to this peer"
                : "already_exists: duplicate session: replaced by the other one");
  EXPECT_EQ(manager_->admitted_sessions(), 1u);
  EXPECT_EQ(manager_->bans_total(), 0u);
}

TEST_F(PeerManagerTest, TwoMachinesSharingANodeKeyAreBothHeard) {
  auto one = Connect(alice_, /*outbound=*/false, "10.0.0.2:7000");
  auto two = Connect(alice_, /*outbound=*/false, "10.0.0.7:7000");
  EXPECT_FALSE(one->closed());
  EXPECT_FALSE(two->closed());
  EXPECT_EQ(manager_->admitted_sessions(), 2u);
}

TEST_F(PeerManagerTest, MemberRemovedFromTrustIsDisconnected) {
  auto a = Connect(alice_);
  auto b = Connect(bob_, /*outbound=*/false, "10.0.0.3:7000");
  TrustStore trust;
  ASSERT_TRUE(trust.Add({"us", us_.id(), {Role::kPlatform}, ""}).ok());
  ASSERT_TRUE(trust.Add({"bob", bob_.id(), {Role::kPlatform}, ""}).ok());
  trust_.Set(std::move(trust));
  manager_->OnTrustChanged();
  a->RunPending();
  b->RunPending();
  EXPECT_EQ(a->close_reason(), "permission_denied: member removed from the trust store");
  EXPECT_FALSE(b->closed());
  EXPECT_EQ(Peers(), "bob connected");
}

TEST_F(PeerManagerTest, CommitsArePushedOnEachSessionsStrand) {
  auto a = Connect(alice_);
  auto b = Connect(bob_, /*outbound=*/false, "10.0.0.3:7000");
  a->TakeSent();
  b->TakeSent();
  carol_.AppendManifest();  // anyone's records: the manager relays what the writer committed
  const ParsedRecord manifest = us_.AppendManifest();
  manager_->OnCommit({manifest});
  EXPECT_EQ(Sent(*a), "");
  EXPECT_EQ(Sent(*b), "");
  a->RunPending();
  b->RunPending();
  EXPECT_EQ(Sent(*a), "Records us#1 manifest");
  EXPECT_EQ(Sent(*b), "Records us#1 manifest");
}

TEST_F(PeerManagerTest, NewManifestClosesTheSessionsOfTheSupersededKey) {
  alice_.AppendManifest();
  auto a = Connect(alice_);
  const PublicKey old_key = alice_.signing_key().public_key();
  const ParsedRecord rotation = alice_.Rotate();
  ASSERT_NE(alice_.signing_key().public_key(), old_key);
  manager_->OnCommit({rotation});
  a->RunPending();
  EXPECT_EQ(a->close_reason(), "permission_denied: peer's key was superseded by manifest seq 2");
  EXPECT_EQ(manager_->bans_total(), 0u);
}

TEST_F(PeerManagerTest, APeerHoldingMoreOfOurFeedHoldsOurPublishing) {
  ASSERT_TRUE(writer_->own_feed_ready());
  manager_->OnPeerHeads(/*own_seq_at_peer=*/5);
  EXPECT_FALSE(writer_->own_feed_ready());
}

}  // namespace
}  // namespace hashmesh::testing
