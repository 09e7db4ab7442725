// Key lifecycle across a federation of real nodes: a node key rotated while the node runs (its
// new records verify on its peers, its TLS sessions come back with the new key), a rotation
// naming a compromise point (records signed by the old key after it become void on every node),
// and a revocation (the member publishes nothing more, and is refused everywhere, also after
// restarts).
#include <gtest/gtest.h>

#include <filesystem>

#include "common/json.h"
#include "proto/api.pb.h"
#include "proto/reports.pb.h"
#include "tests/support/federation.h"
#include "tests/support/test_member.h"

namespace hashmesh::testing {
namespace {

enum { kAlice, kBob, kCarol, kMembers };

class KeyLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A line alice - bob - carol: carol hears of alice only through bob.
    ASSERT_TRUE(fed_.Start(kBob, {}).ok());
    ASSERT_TRUE(fed_.Start(kAlice, {kBob}).ok());
    ASSERT_TRUE(fed_.Start(kCarol, {kBob}).ok());
  }

  // Publishes a PDQ signal at alice (retrying while she recovers her feed, which can take the
  // whole 10 s publishing hold when no peer answers her, and more under a sanitizer); returns
  // its id and seq.
  api::PublishResponse Submit(uint32_t seed) {
    Result<api::PublishResponse> r = Unavailable("not tried");
    WaitFor(
        [&] {
          r = PublishSignal(fed_.node(kAlice), RandomPdqHex(seed));
          return r.ok();
        },
        60);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : api::PublishResponse();
  }

  size_t Matches(size_t node, uint32_t seed) {
    auto r = fed_.node(node).Query(
        "POST", "/v1/match", "{\"type\":\"pdq\",\"value\":\"" + RandomPdqHex(seed) + "\"}");
    api::MatchResponse out;
    if (!r.ok() || r->status != 200 || !FromJson(r->body, &out).ok()) return 999;
    return static_cast<size_t>(out.matches_size());
  }

  api::KeysInfo Keys(const std::vector<std::string>& args) {
    std::vector<std::string> full = {"--json"};
    full.insert(full.end(), args.begin(), args.end());
    CommandResult r = RunProgram("hashmesh-keys", full);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    api::KeysInfo info;
    (void)FromJson(r.out, &info);
    return info;
  }

  api::ReloadResponse Reload(size_t node) {
    CommandResult r = fed_.node(node).Cli({"--json", "reload"});
    EXPECT_EQ(r.exit_code, 0) << r.err << fed_.node(node).log();
    api::ReloadResponse out;
    (void)FromJson(r.out, &out);
    return out;
  }

  // The key bob's session with alice presents, "" when not connected.
  std::string AliceKeyAtBob() {
    auto r = fed_.node(kBob).Query("GET", "/v1/peers");
    api::PeersResponse peers;
    if (!r.ok() || !FromJson(r->body, &peers).ok()) return "";
    for (const auto& p : peers.peers()) {
      if (p.state() == "connected" && p.member() == fed_.member_id(kAlice)) return p.node_key();
    }
    return "";
  }

  bool AliceAt(size_t node, uint32_t seq) {
    return FeedSeq(fed_.node(node), fed_.member_id(kAlice)) == seq;
  }

  Federation fed_{{{"alice", "platform"}, {"bob", "platform"}, {"carol", "platform"}}};
};

TEST_F(KeyLifecycleTest, RotationWhileRunning) {
  api::PublishResponse before = Submit(1);
  ASSERT_TRUE(WaitFor([&] { return AliceAt(kCarol, before.seq()); }));
  const std::string old_key = NodeStatus(fed_.node(kAlice)).signing_key();
  ASSERT_TRUE(WaitFor([&] { return AliceKeyAtBob() == old_key; }));

  api::KeysInfo rotated = Keys({"rotate", "--dir", fed_.keys_dir(kAlice)});
  ASSERT_EQ(rotated.manifest_seq(), 2u);
  ASSERT_NE(rotated.signing_key(), old_key);
  api::ReloadResponse reload = Reload(kAlice);
  EXPECT_EQ(reload.manifest_seq(), 2u);
  EXPECT_EQ(reload.signing_key(), rotated.signing_key());

  // The node kept serving, now signs with the new key, and its peers reconnect to that key.
  api::StatusResponse status = NodeStatus(fed_.node(kAlice));
  EXPECT_EQ(status.signing_key(), rotated.signing_key());
  EXPECT_EQ(status.manifest_seq(), 2u);
  EXPECT_EQ(Matches(kAlice, 1), 1u);
  ASSERT_TRUE(WaitFor([&] { return AliceKeyAtBob() == rotated.signing_key(); }, 20))
      << fed_.node(kBob).log();

  // Records signed by the new key verify on both peers (carol only through bob).
  api::PublishResponse after = Submit(2);
  EXPECT_EQ(after.seq(), before.seq() + 2);  // the manifest record came in between
  ASSERT_TRUE(WaitFor([&] { return AliceAt(kBob, after.seq()) && AliceAt(kCarol, after.seq()); }))
      << HeadsLine(fed_.node(kCarol));
  EXPECT_EQ(Matches(kCarol, 2), 1u);
  EXPECT_EQ(Matches(kCarol, 1), 1u);  // records of the old key stay valid without compromise

  // A restart keeps the new identity.
  fed_.node(kAlice).Stop();
  ASSERT_TRUE(fed_.Start(kAlice, {kBob}).ok());
  EXPECT_EQ(NodeStatus(fed_.node(kAlice)).signing_key(), rotated.signing_key());
  api::PublishResponse later = Submit(3);
  ASSERT_TRUE(WaitFor([&] { return AliceAt(kCarol, later.seq()); }));
}

TEST_F(KeyLifecycleTest, RotationWithTheMemberKeyOffline) {
  const std::string dir = fed_.keys_dir(kAlice);
  const std::string offline = fed_.dir() + "/alice-member.key";
  std::filesystem::rename(dir + "/member.key", offline);
  CommandResult req = RunProgram("hashmesh-keys", {"rotate", "--dir", dir, "--request",
                                                   fed_.dir() + "/rotation.req"});
  ASSERT_EQ(req.exit_code, 0) << req.err;
  // The pending request changes nothing on the running node.
  EXPECT_EQ(Reload(kAlice).manifest_seq(), 1u);
  CommandResult sign =
      RunProgram("hashmesh-keys", {"sign", "--member-key", offline, "--request",
                                   fed_.dir() + "/rotation.req", "--out", fed_.dir() + "/m.bin"});
  ASSERT_EQ(sign.exit_code, 0) << sign.err;
  api::KeysInfo installed = Keys({"install", "--dir", dir, "--manifest", fed_.dir() + "/m.bin"});
  EXPECT_EQ(installed.manifest_seq(), 2u);
  EXPECT_EQ(Reload(kAlice).signing_key(), installed.signing_key());
  api::PublishResponse after = Submit(4);
  ASSERT_TRUE(WaitFor([&] { return AliceAt(kCarol, after.seq()); }));
  ASSERT_TRUE(WaitFor([&] { return AliceKeyAtBob() == installed.signing_key(); }, 20));
}

TEST_F(KeyLifecycleTest, CompromisePointVoidsLaterRecordsOfTheOldKeyEverywhere) {
  api::PublishResponse good = Submit(10);
  api::PublishResponse stolen1 = Submit(11);
  api::PublishResponse stolen2 = Submit(12);
  ASSERT_TRUE(WaitFor([&] { return AliceAt(kCarol, stolen2.seq()); }));
  for (size_t node : {kAlice, kBob, kCarol}) ASSERT_EQ(Matches(node, 11), 1u);

  // The old key leaked after `good`: records after it that it signed count for nothing.
  Keys({"rotate", "--dir", fed_.keys_dir(kAlice), "--compromised-after",
        std::to_string(good.seq())});
  Reload(kAlice);
  api::PublishResponse fresh = Submit(13);
  ASSERT_TRUE(WaitFor([&] { return AliceAt(kCarol, fresh.seq()); }));
  for (size_t node : {kAlice, kBob, kCarol}) {
    EXPECT_EQ(Matches(node, 10), 1u) << fed_.name(node);  // before the point: valid
    EXPECT_EQ(Matches(node, 11), 0u) << fed_.name(node);  // void
    EXPECT_EQ(Matches(node, 12), 0u) << fed_.name(node);  // void
    EXPECT_EQ(Matches(node, 13), 1u) << fed_.name(node);  // the new key: valid
  }
  auto view = fed_.node(kCarol).Query("GET", "/v1/records/" + stolen1.id());
  ASSERT_TRUE(view.ok());
  api::RecordView record;
  ASSERT_TRUE(FromJson(view->body, &record).ok());
  EXPECT_TRUE(record.voided());

  // Still void after a restart (the points are read back from the store).
  fed_.node(kCarol).Stop();
  ASSERT_TRUE(fed_.Start(kCarol, {kBob}).ok());
  EXPECT_EQ(Matches(kCarol, 11), 0u);
  EXPECT_EQ(Matches(kCarol, 10), 1u);

  // An export verifies offline and names the void records.
  const std::string log = fed_.dir() + "/export.jsonl";
  CommandResult exported = fed_.node(kCarol).Cli({"export", "--output", log});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  CommandResult verified = fed_.node(kCarol).Cli(
      {"--json", "verify-log", log, "--trust", fed_.trust_file()});
  ASSERT_EQ(verified.exit_code, 0) << verified.err << verified.out;
  api::VerifyLogReport report;
  ASSERT_TRUE(FromJson(verified.out, &report).ok());
  EXPECT_TRUE(report.ok());
  EXPECT_EQ(report.void_records(), 2u);
}

TEST_F(KeyLifecycleTest, RevocationIsRefusedEverywhereAlsoAfterRestarts) {
  api::PublishResponse before = Submit(20);
  ASSERT_TRUE(WaitFor([&] { return AliceAt(kCarol, before.seq()); }));
  // A copy of alice's node as it is now (keys without the revocation, data), for later.
  fed_.node(kAlice).Stop();
  const std::string old_data = fed_.dir() + "/alice-old-data";
  const std::string old_keys = fed_.dir() + "/alice-old-keys";
  std::filesystem::copy(fed_.node(kAlice).data_dir(), old_data,
                        std::filesystem::copy_options::recursive);
  std::filesystem::copy(fed_.keys_dir(kAlice), old_keys,
                        std::filesystem::copy_options::recursive);
  ASSERT_TRUE(fed_.Start(kAlice, {kBob}).ok());

  CommandResult unconfirmed = RunProgram("hashmesh-keys", {"revoke", "--dir", fed_.keys_dir(kAlice)});
  EXPECT_NE(unconfirmed.exit_code, 0);
  api::KeysInfo revoked = Keys({"revoke", "--dir", fed_.keys_dir(kAlice), "--yes"});
  EXPECT_TRUE(revoked.revoked());
  EXPECT_TRUE(Reload(kAlice).revoked());
  const uint32_t revocation_seq = before.seq() + 1;
  ASSERT_TRUE(WaitFor([&] { return AliceAt(kBob, revocation_seq) && AliceAt(kCarol, revocation_seq); }));

  // Alice can publish nothing more; her node still answers queries.
  EXPECT_TRUE(NodeStatus(fed_.node(kAlice)).revoked());
  CommandResult refused = fed_.node(kAlice).Cli(
      {"submit", "--type", "pdq", "--value", RandomPdqHex(21), "--label", "x/y"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("revoked"), std::string::npos) << refused.err;
  EXPECT_EQ(Matches(kAlice, 20), 1u);

  // Everyone restarts: the revocation holds (it is in the stored feed).
  for (size_t node : {kAlice, kBob, kCarol}) fed_.node(node).Stop();
  ASSERT_TRUE(fed_.Start(kBob, {}).ok());
  ASSERT_TRUE(fed_.Start(kCarol, {kBob}).ok());
  ASSERT_TRUE(fed_.Start(kAlice, {kBob}).ok());
  EXPECT_TRUE(NodeStatus(fed_.node(kAlice)).revoked());

  // Alice's old machine, from before the revocation, publishes a record after it: bob refuses
  // the node (its member is revoked) and neither bob nor carol ever take the record.
  fed_.node(kAlice).Stop();
  std::filesystem::remove_all(fed_.node(kAlice).data_dir());
  std::filesystem::rename(old_data, fed_.node(kAlice).data_dir());
  std::filesystem::remove_all(fed_.keys_dir(kAlice));
  std::filesystem::rename(old_keys, fed_.keys_dir(kAlice));
  ASSERT_TRUE(fed_.Start(kAlice, {kBob}).ok());
  WaitFor([&] { return fed_.node(kBob).log().find("revoked") != std::string::npos; });
  api::PublishResponse late = Submit(22);
  EXPECT_EQ(late.seq(), revocation_seq);  // the old copy does not know it was revoked
  WaitFor([&] { return false; }, 2);  // give gossip a chance it must not take
  EXPECT_TRUE(AliceAt(kBob, revocation_seq)) << HeadsLine(fed_.node(kBob));
  EXPECT_TRUE(AliceAt(kCarol, revocation_seq)) << HeadsLine(fed_.node(kCarol));
  EXPECT_EQ(Matches(kBob, 22), 0u);
  EXPECT_EQ(Matches(kCarol, 22), 0u);
  EXPECT_NE(fed_.node(kBob).log().find("peer's member key is revoked"), std::string::npos)
      << fed_.node(kBob).log();
}

}  // namespace
}  // namespace hashmesh::testing
