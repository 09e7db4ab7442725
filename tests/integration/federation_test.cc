// Several real nodes on loopback exchanging feeds over mutual TLS.
#include "tests/support/federation.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "common/json.h"
#include "proto/api.pb.h"
#include "tests/support/json.h"
#include "tests/support/test_member.h"

namespace hashmesh::testing {
namespace {

int Matches(TestNode& node, const std::string& pdq) {
  auto r = node.Query("POST", "/v1/match", "{\"type\":\"pdq\",\"value\":\"" + pdq + "\"}");
  if (!r.ok() || r->status != 200) return -1;
  return ParseJson<api::MatchResponse>(r->body).matches_size();
}

TEST(FederationTest, ThreeNodesInALineConverge) {
  Federation fed({{"alice"}, {"bob"}, {"carol"}});
  ASSERT_TRUE(fed.Start(0, {}).ok());
  ASSERT_TRUE(fed.Start(1, {0}).ok());
  ASSERT_TRUE(fed.Start(2, {1}).ok());
  const std::string pdq = RandomPdqHex(42);
  // Publishing opens once each node knows its own feed is complete.
  ASSERT_TRUE(WaitFor([&] {
    auto r =
        fed.node(0).Cli({"--json", "submit", "--type", "pdq", "--value", pdq, "--label", "t/x"});
    return r.exit_code == 0;
  })) << fed.node(0).log();
  EXPECT_TRUE(WaitFor([&] { return Matches(fed.node(2), pdq) == 1; }))
      << "carol never got alice's record through bob\n"
      << fed.node(2).log();
  // Carol publishes; alice gets it through bob.
  const std::string pdq2 = RandomPdqHex(43);
  ASSERT_TRUE(WaitFor([&] {
    return fed.node(2)
               .Cli({"submit", "--type", "pdq", "--value", pdq2, "--label", "t/x"})
               .exit_code == 0;
  }));
  EXPECT_TRUE(WaitFor([&] { return Matches(fed.node(0), pdq2) == 1; })) << fed.node(0).log();
  // Every node has every feed at the same head.
  for (size_t author = 0; author < 3; ++author) {
    uint32_t at0 = FeedSeq(fed.node(0), fed.member_id(author));
    EXPECT_TRUE(WaitFor([&] {
      return FeedSeq(fed.node(1), fed.member_id(author)) == at0 &&
             FeedSeq(fed.node(2), fed.member_id(author)) == at0;
    })) << "author "
        << author;
  }
  auto peers = fed.node(1).Cli({"--json", "peers"});
  ASSERT_EQ(peers.exit_code, 0) << peers.err;
  auto parsed = ParseJson<api::PeersResponse>(peers.out);
  int connected = 0;
  for (const auto& p : parsed.peers()) connected += p.state() == "connected";
  EXPECT_EQ(connected, 2) << peers.out;
}

// A node that was down while 200 records were published catches up when it comes back, whether
// it stopped cleanly or was killed; and records it missed reach it through its one peer.
TEST(FederationTest, NodeDownDuringPublicationCatchesUp) {
  Federation fed({{"alice"}, {"bob"}, {"carol"}});
  ASSERT_TRUE(fed.Start(0, {}).ok());
  ASSERT_TRUE(fed.Start(1, {0}).ok());
  ASSERT_TRUE(fed.Start(2, {1}).ok());
  std::string detail;
  ASSERT_TRUE(WaitConverged(fed, {0, 1, 2}, 10, &detail, "alice:1 bob:1 carol:1")) << detail;

  ASSERT_EQ(fed.node(2).Stop(), 0) << fed.node(2).log();
  Status many = PublishMany(fed.node(0), 200, 1000);
  ASSERT_TRUE(many.ok()) << many.ToString();
  ASSERT_TRUE(WaitConverged(fed, {0, 1}, 10, &detail, "alice:201 bob:1 carol:1")) << detail;
  ASSERT_TRUE(fed.Start(2, {1}).ok());
  EXPECT_TRUE(WaitConverged(fed, {0, 1, 2}, 10, &detail, "alice:201 bob:1 carol:1"))
      << detail << fed.node(2).log();

  // SIGKILL: no clean shutdown; LMDB's durable commits must leave a consistent store behind.
  fed.node(2).Kill();
  ASSERT_TRUE(PublishMany(fed.node(0), 30, 2000).ok());
  ASSERT_TRUE(PublishMany(fed.node(1), 30, 3000).ok());
  ASSERT_TRUE(fed.Start(2, {1}).ok()) << fed.node(2).log();
  EXPECT_TRUE(WaitConverged(fed, {0, 1, 2}, 10, &detail, "alice:231 bob:31 carol:1"))
      << detail << fed.node(2).log();
  // Carol's own feed is intact: she publishes (once bob told her he has no more of it than she
  // does) at the next seq, and nobody sees a fork.
  Status published = PublishMany(fed.node(2), 1, 4000);
  ASSERT_TRUE(published.ok()) << published.ToString();
  EXPECT_TRUE(WaitConverged(fed, {0, 1, 2}, 10, &detail, "alice:231 bob:31 carol:2")) << detail;
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(NodeStatus(fed.node(i)).equivocations(), 0u) << i;
}

// Relaying is by trust: bob does not trust dave, so dave's records stop at bob even though carol,
// behind bob, trusts dave; alice's records, which bob trusts, reach carol through bob.
TEST(FederationTest, RelayCarriesOnlyAuthorsTheRelayTrusts) {
  Federation fed({{"alice"}, {"bob"}, {"carol"}, {"dave"}});
  fed.SetOwnTrust(1, {0, 1, 2});
  ASSERT_TRUE(fed.Start(0, {}).ok());
  ASSERT_TRUE(fed.Start(1, {0}).ok());
  ASSERT_TRUE(fed.Start(2, {1}).ok());
  ASSERT_TRUE(fed.Start(3, {0}).ok());
  ASSERT_TRUE(PublishMany(fed.node(3), 3, 5000).ok());
  ASSERT_TRUE(PublishMany(fed.node(0), 3, 5100).ok());
  std::string detail;
  ASSERT_TRUE(WaitConverged(fed, {0, 3}, 10, &detail, "alice:4 bob:1 carol:1 dave:4")) << detail;
  EXPECT_TRUE(WaitConverged(fed, {1, 2}, 10, &detail, "alice:4 bob:1 carol:1")) << detail;
  // Give a wrong relay time to show itself: anti-entropy, pushes of later records.
  ASSERT_TRUE(PublishMany(fed.node(3), 1, 5200).ok());
  ASSERT_TRUE(PublishMany(fed.node(0), 1, 5300).ok());
  EXPECT_TRUE(WaitConverged(fed, {1, 2}, 10, &detail, "alice:5 bob:1 carol:1")) << detail;
  EXPECT_EQ(HeadsLine(fed.node(0)), "alice:5 bob:1 carol:1 dave:5");
}

// Two nodes that each list the other as a peer dial each other at the same time: they end up with
// one session between them, not two that carry every record twice, and stay that way.
TEST(FederationTest, MutualDialsKeepOneSession) {
  Federation fed({{"alice"}, {"bob"}});
  ASSERT_TRUE(fed.Start(0, {1}).ok());
  ASSERT_TRUE(fed.Start(1, {0}).ok());
  std::string detail;
  ASSERT_TRUE(WaitConverged(fed, {0, 1}, 10, &detail, "alice:1 bob:1")) << detail;
  auto sessions = [&](size_t i) {
    auto r = fed.node(i).Cli({"--json", "peers"});
    const auto peers = ParseJson<api::PeersResponse>(r.out);
    int connected = 0;
    for (const auto& p : peers.peers()) {
      connected += p.state() == "connected";
    }
    return connected;
  };
  EXPECT_TRUE(WaitFor([&] { return sessions(0) == 1 && sessions(1) == 1; }, 5))
      << fed.node(0).Cli({"peers"}).out << fed.node(1).Cli({"peers"}).out;
  // Still the same one session each after both had time to redial: no churn.
  auto admissions = [&] {
    const std::string needle = "peer admitted";
    int n = 0;
    for (size_t i : {0, 1}) {
      const std::string log = fed.node(i).log();
      for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) {
        ++n;
      }
    }
    return n;
  };
  const int admitted = admissions();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(sessions(0), 1) << fed.node(0).Cli({"peers"}).out;
  EXPECT_EQ(sessions(1), 1) << fed.node(1).Cli({"peers"}).out;
  EXPECT_EQ(admissions(), admitted) << fed.node(0).log();
  ASSERT_TRUE(PublishMany(fed.node(0), 5, 5400).ok());
  EXPECT_TRUE(WaitConverged(fed, {0, 1}, 10, &detail, "alice:6 bob:1")) << detail;
}

}  // namespace
}  // namespace hashmesh::testing
