// Issue #13: a fresh node catching up on a feed that holds a signal and, later, its retraction
// gets both in one batch; it must accept both and ban nobody.
#include <gtest/gtest.h>

#include "common/json.h"
#include "proto/api.pb.h"
#include "tests/support/test_member.h"
#include "tests/support/federation.h"

namespace hashmesh::testing {
namespace {

TEST(FederationRetractTest, FreshNodeCatchesUpOnASignalAndItsRetraction) {
  Federation fed({{"alice"}, {"bob"}});
  ASSERT_TRUE(fed.Start(0, {}).ok());
  const std::string pdq = RandomPdqHex(77);
  CommandResult submitted;
  ASSERT_TRUE(WaitFor([&] {
    submitted =
        fed.node(0).Cli({"--json", "submit", "--type", "pdq", "--value", pdq, "--label", "t/x"});
    return submitted.exit_code == 0;
  })) << submitted.err << fed.node(0).log();
  api::PublishResponse published;
  ASSERT_TRUE(FromJson(submitted.out, &published).ok()) << submitted.out;
  const std::string id = published.id();
  auto retracted = fed.node(0).Cli({"--json", "retract", id, "--reason", "false positive"});
  ASSERT_EQ(retracted.exit_code, 0) << retracted.err;

  // bob starts empty and gets alice's whole feed (manifest, signal, retraction) at once.
  ASSERT_TRUE(fed.Start(1, {0}).ok());
  std::string detail;
  EXPECT_TRUE(WaitConverged(fed, {0, 1}, 20, &detail, "alice:3 bob:1"))
      << detail << "\n--- bob\n" << fed.node(1).log() << "\n--- alice\n" << fed.node(0).log();
  auto match =
      fed.node(1).Query("POST", "/v1/match", "{\"type\":\"pdq\",\"value\":\"" + pdq + "\"}");
  ASSERT_TRUE(match.ok() && match->status == 200);
  api::MatchResponse answer;
  ASSERT_TRUE(FromJson(match->body, &answer).ok()) << match->body;
  ASSERT_EQ(answer.matches_size(), 1) << match->body;
  EXPECT_TRUE(answer.matches(0).retracted()) << match->body;
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(fed.node(i).log().find("peer banned"), std::string::npos) << fed.node(i).log();
    EXPECT_EQ(fed.node(i).log().find("misbehaved"), std::string::npos) << fed.node(i).log();
  }
}

}  // namespace
}  // namespace hashmesh::testing
