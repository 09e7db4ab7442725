// Federation under faults, with real daemons on loopback: a partitioned mesh heals, an author
// that forks its feed is caught everywhere, and a node that lost its data never forks itself.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <thread>

#include "common/json.h"
#include "proto/api.pb.h"
#include "proto/reports.pb.h"
#include "tests/support/federation.h"
#include "tests/support/test_member.h"

namespace hashmesh::testing {
namespace {

// Two triangles {0,1,2} and {3,4,5}, written to on both sides while apart, then joined by the
// bridge 2-3: every node ends with every feed at the same head.
TEST(FederationFaultTest, PartitionedMeshHealsAndConverges) {
  Federation fed({{"n0"}, {"n1"}, {"n2"}, {"n3"}, {"n4"}, {"n5"}});
  ASSERT_TRUE(fed.Start(0, {}).ok());
  ASSERT_TRUE(fed.Start(1, {0}).ok());
  ASSERT_TRUE(fed.Start(2, {0, 1}).ok());
  ASSERT_TRUE(fed.Start(3, {}).ok());
  ASSERT_TRUE(fed.Start(4, {3}).ok());
  ASSERT_TRUE(fed.Start(5, {3, 4}).ok());
  std::string detail;
  ASSERT_TRUE(WaitConverged(fed, {0, 1, 2}, 10, &detail, "n0:1 n1:1 n2:1")) << detail;
  ASSERT_TRUE(WaitConverged(fed, {3, 4, 5}, 10, &detail, "n3:1 n4:1 n5:1")) << detail;

  ASSERT_TRUE(PublishMany(fed.node(0), 40, 100).ok());
  ASSERT_TRUE(PublishMany(fed.node(2), 5, 200).ok());
  ASSERT_TRUE(PublishMany(fed.node(4), 40, 300).ok());
  ASSERT_TRUE(PublishMany(fed.node(5), 5, 400).ok());
  ASSERT_TRUE(WaitConverged(fed, {0, 1, 2}, 10, &detail, "n0:41 n1:1 n2:6")) << detail;
  ASSERT_TRUE(WaitConverged(fed, {3, 4, 5}, 10, &detail, "n3:1 n4:41 n5:6")) << detail;

  // Heal: node 3 comes back with the bridge to node 2. Both sides keep writing meanwhile.
  ASSERT_EQ(fed.node(3).Stop(), 0) << fed.node(3).log();
  ASSERT_TRUE(fed.Start(3, {2}).ok());
  ASSERT_TRUE(PublishMany(fed.node(1), 10, 500).ok());
  ASSERT_TRUE(PublishMany(fed.node(5), 10, 600).ok());
  EXPECT_TRUE(
      WaitConverged(fed, {0, 1, 2, 3, 4, 5}, 15, &detail, "n0:41 n1:11 n2:6 n3:1 n4:41 n5:16"))
      << detail;
  for (size_t i = 0; i < fed.size(); ++i) {
    EXPECT_EQ(NodeStatus(fed.node(i)).equivocations(), 0u) << fed.name(i);
  }
}

api::MatchResponse MatchPdq(TestNode& node, const std::string& pdq) {
  api::MatchResponse out;
  auto r = node.Query("POST", "/v1/match", R"({"type":"pdq","value":")" + pdq + R"("})");
  if (r.ok() && r->status == 200) (void)FromJson(r->body, &out);
  return out;
}

int CountLines(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// A cloned node (same member key, same node key) signs its own seq 2 and 3 while cut off; when it
// reconnects, the fork is proven at the node between the twins and flooded to every node, and
// policy stops trusting the author from the fork on. The proof travels a bounded number of times.
TEST(FederationFaultTest, EquivocationIsDetectedAndFloodedEverywhere) {
  Federation fed({{"alice"}, {"bob"}, {"carol"}, {"dave"}});
  ASSERT_TRUE(fed.Start(1, {}).ok());
  ASSERT_TRUE(fed.Start(0, {1}).ok());
  ASSERT_TRUE(fed.Start(2, {1}).ok());
  std::string detail;
  ASSERT_TRUE(WaitConverged(fed, {0, 1, 2}, 10, &detail, "alice:1 bob:1 carol:1")) << detail;

  // The twin first recovers alice's feed (seq 1) from bob, so that both fork at seq 2.
  const size_t twin = fed.AddClone(0, "alice-twin");
  ASSERT_TRUE(fed.Start(twin, {1}).ok());
  ASSERT_TRUE(WaitFor([&] { return NodeStatus(fed.node(twin)).own_feed_ready(); }))
      << fed.node(twin).log();
  ASSERT_EQ(HeadsLine(fed.node(twin)), "alice:1 bob:1 carol:1");
  ASSERT_EQ(fed.node(twin).Stop(), 0) << fed.node(twin).log();
  ASSERT_TRUE(fed.Start(twin, {}).ok());  // cut off from everybody
  const std::string twin_pdq = RandomPdqHex(7001), alice_pdq = RandomPdqHex(7002);
  auto forked = PublishSignal(fed.node(twin), twin_pdq);
  ASSERT_TRUE(forked.ok()) << forked.status().ToString();
  ASSERT_EQ(forked->seq(), 2u);
  // The twin runs ahead, so no two nodes ever announce heads of the same length: the fork must
  // be seen below the head.
  ASSERT_TRUE(PublishSignal(fed.node(twin), RandomPdqHex(7003)).ok());
  ASSERT_EQ(fed.node(twin).Stop(), 0) << fed.node(twin).log();
  auto honest = PublishSignal(fed.node(0), alice_pdq);
  ASSERT_TRUE(honest.ok()) << honest.status().ToString();
  ASSERT_EQ(honest->seq(), 2u);
  ASSERT_TRUE(WaitConverged(fed, {0, 1, 2}, 10, &detail, "alice:2 bob:1 carol:1")) << detail;

  // Carol is away while the proof is flooded: she learns it when she reconnects.
  ASSERT_EQ(fed.node(2).Stop(), 0) << fed.node(2).log();
  ASSERT_TRUE(fed.Start(twin, {1}).ok());
  const std::vector<size_t> all = {0, 1, twin, 2};
  for (size_t i : all) {
    if (i == 2) {
      ASSERT_TRUE(fed.Start(2, {1}).ok());
    }
    EXPECT_TRUE(WaitFor([&] { return NodeStatus(fed.node(i)).equivocations() >= 1; }))
        << fed.name(i) << " never stored the proof\n"
        << fed.node(i).log();
    auto status = NodeStatus(fed.node(i));
    ASSERT_EQ(status.forked_members_size(), 1) << fed.name(i);
    EXPECT_EQ(status.forked_members(0), "alice " + fed.member_id(0)) << fed.name(i);
  }
  // A node that joins later, with nothing of alice's feed yet, gets the proof with the feed.
  const size_t dave = 3;
  ASSERT_TRUE(fed.Start(dave, {1}).ok());
  EXPECT_TRUE(WaitFor([&] { return NodeStatus(fed.node(dave)).equivocations() >= 1; }))
      << fed.node(dave).log();
  // Alice's signal at the fork seq counts for nothing, on every node that holds it.
  for (size_t i : {1, 2}) {
    auto match = MatchPdq(fed.node(i), alice_pdq);
    ASSERT_EQ(match.matches_size(), 1) << fed.name(i);
    EXPECT_EQ(match.verdict().action(), "none") << fed.name(i);
    ASSERT_GE(match.verdict().reasons_size(), 1);
    EXPECT_NE(match.verdict().reasons(0).find("equivocat"), std::string::npos)
        << match.verdict().reasons(0);
  }
  // Each node announces a proof once: a node that already holds it does not flood it again.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  int announced = 0;
  for (size_t i : all) announced += CountLines(fed.node(i).log(), "equivocation detected");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  int later = 0;
  for (size_t i : all) later += CountLines(fed.node(i).log(), "equivocation detected");
  EXPECT_EQ(later, announced) << "the proof keeps circulating";
  EXPECT_LE(announced, static_cast<int>(all.size()));

  // Carol keeps one branch in alice's feed and the proof beside it: the API lists the proof, and
  // her export alone shows the fork to verify-log.
  auto listed = fed.node(2).Query("GET", "/v1/equivocations", "");
  ASSERT_TRUE(listed.ok() && listed->status == 200);
  api::EquivocationsResponse forks;
  ASSERT_TRUE(FromJson(listed->body, &forks).ok()) << listed->body;
  ASSERT_EQ(forks.equivocations_size(), 1) << listed->body;
  const api::EquivocationView& fork = forks.equivocations(0);
  EXPECT_EQ(fork.author_name(), "alice");
  EXPECT_EQ(fork.seq(), 2u);
  EXPECT_EQ(std::set<std::string>({fork.first().id(), fork.second().id()}),
            std::set<std::string>({forked->id(), honest->id()}));
  auto shown = fed.node(2).Cli({"forks"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("(alice) signed two records at seq 2:"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find(forked->id()), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find(honest->id()), std::string::npos) << shown.out;
  const std::string file = fed.dir() + "/carol.jsonl";
  auto exported = fed.node(2).Cli({"--json", "export", "--output", file});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  api::ExportSummary summary;
  ASSERT_TRUE(FromJson(exported.out, &summary).ok()) << exported.out;
  EXPECT_EQ(summary.fork_records(), 1u);
  auto verified = RunProgram("hashmesh", {"verify-log", file, "--trust", fed.trust_file(), "--json"});
  EXPECT_EQ(verified.exit_code, 1) << verified.out << verified.err;
  api::VerifyLogReport report;
  ASSERT_TRUE(FromJson(verified.out, &report).ok()) << verified.out;
  int equivocations = 0;
  for (const auto& p : report.problems()) {
    if (p.problem().find("equivocation") == std::string::npos) continue;
    ++equivocations;
    EXPECT_EQ(p.author_name(), "alice");
    EXPECT_EQ(p.seq(), 2u);
  }
  EXPECT_EQ(equivocations, 2) << verified.out;  // each of the two records names the other
}

// A node whose keys live outside its data directory loses the whole data directory. On restart
// it publishes nothing until it has its own feed back from a peer (it would fork itself
// otherwise), refuses submissions meanwhile with a clear message, and then continues its feed.
TEST(FederationFaultTest, NodeThatLostItsDataRecoversItsFeedBeforePublishing) {
  Federation fed({{"alice"}, {"bob"}, {"carol"}});
  ASSERT_TRUE(fed.Start(1, {}).ok());
  ASSERT_TRUE(fed.Start(0, {1}).ok());
  ASSERT_TRUE(fed.Start(2, {1}).ok());
  ASSERT_TRUE(PublishMany(fed.node(0), 20, 8000).ok());
  std::string detail;
  ASSERT_TRUE(WaitConverged(fed, {0, 1, 2}, 10, &detail, "alice:21 bob:1 carol:1")) << detail;

  ASSERT_EQ(fed.node(0).Stop(), 0) << fed.node(0).log();
  std::filesystem::remove_all(fed.node(0).data_dir());
  // Alice's only peer is down: she cannot know her feed, so she must not publish.
  ASSERT_EQ(fed.node(1).Stop(), 0) << fed.node(1).log();
  ASSERT_TRUE(fed.Start(0, {1}).ok()) << fed.node(0).log();
  auto status = NodeStatus(fed.node(0));
  EXPECT_FALSE(status.own_feed_ready());
  EXPECT_FALSE(status.ready());
  auto refused = fed.node(0).Cli(
      {"submit", "--type", "pdq", "--value", RandomPdqHex(8100), "--label", "test/x"});
  EXPECT_NE(refused.exit_code, 0) << refused.out;
  EXPECT_NE(refused.err.find("recovering"), std::string::npos) << refused.err;
  std::this_thread::sleep_for(std::chrono::seconds(1));
  EXPECT_FALSE(NodeStatus(fed.node(0)).own_feed_ready());
  EXPECT_EQ(HeadsLine(fed.node(0)), "");

  ASSERT_TRUE(fed.Start(1, {}).ok());
  EXPECT_TRUE(WaitFor([&] { return NodeStatus(fed.node(0)).own_feed_ready(); }, 15))
      << fed.node(0).log();
  EXPECT_EQ(HeadsLine(fed.node(0)), "alice:21 bob:1 carol:1");
  auto published = PublishSignal(fed.node(0), RandomPdqHex(8200));
  ASSERT_TRUE(published.ok()) << published.status().ToString();
  EXPECT_EQ(published->seq(), 22u);
  EXPECT_TRUE(WaitConverged(fed, {0, 1, 2}, 10, &detail, "alice:22 bob:1 carol:1")) << detail;
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(NodeStatus(fed.node(i)).equivocations(), 0u) << i;
}

// A node restored from an old backup holds less of its own feed than its peers do. It must take
// the rest back from them before it signs anything, else its next record forks its own feed.
TEST(FederationFaultTest, NodeRestoredFromAnOldBackupDoesNotForkItself) {
  Federation fed({{"alice"}, {"bob"}});
  ASSERT_TRUE(fed.Start(1, {}).ok());
  ASSERT_TRUE(fed.Start(0, {1}).ok());
  ASSERT_TRUE(PublishMany(fed.node(0), 3, 8500).ok());
  std::string detail;
  ASSERT_TRUE(WaitConverged(fed, {0, 1}, 10, &detail, "alice:4 bob:1")) << detail;
  ASSERT_EQ(fed.node(0).Stop(), 0) << fed.node(0).log();
  const std::string backup = fed.dir() + "/alice-backup";
  std::filesystem::copy(fed.node(0).data_dir(), backup, std::filesystem::copy_options::recursive);

  ASSERT_TRUE(fed.Start(0, {1}).ok());
  ASSERT_TRUE(PublishMany(fed.node(0), 3, 8600).ok());
  ASSERT_TRUE(WaitConverged(fed, {0, 1}, 10, &detail, "alice:7 bob:1")) << detail;
  ASSERT_EQ(fed.node(0).Stop(), 0) << fed.node(0).log();
  std::filesystem::remove_all(fed.node(0).data_dir());
  std::filesystem::rename(backup, fed.node(0).data_dir());

  ASSERT_TRUE(fed.Start(0, {1}).ok());
  ASSERT_TRUE(PublishMany(fed.node(0), 1, 8700).ok());  // retries while it recovers
  EXPECT_TRUE(WaitConverged(fed, {0, 1}, 10, &detail, "alice:8 bob:1")) << detail;
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(NodeStatus(fed.node(i)).equivocations(), 0u) << fed.name(i) << fed.node(i).log();
  }
}

}  // namespace
}  // namespace hashmesh::testing
