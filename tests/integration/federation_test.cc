// Several real nodes on loopback exchanging feeds over mutual TLS.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/json.h"
#include "proto/api.pb.h"
#include "tests/common/test_member.h"
#include "tests/integration/federation.h"

namespace hashmesh::testing {
namespace {

template <typename T>
T ParseJson(const std::string& text) {
  T message;
  Status s = FromJson(text, &message);
  EXPECT_TRUE(s.ok()) << s.ToString() << "\n" << text;
  return message;
}

std::string Submit(TestNode& node, const std::string& pdq) {
  auto r = node.Cli({"--json", "submit", "--type", "pdq", "--value", pdq, "--label", "test/x"});
  EXPECT_EQ(r.exit_code, 0) << r.err << node.log();
  return ParseJson<api::PublishResponse>(r.out).id();
}

int Matches(TestNode& node, const std::string& pdq) {
  auto r = node.Query("POST", "/v1/match", "{\"type\":\"pdq\",\"value\":\"" + pdq + "\"}");
  if (!r.ok() || r->status != 200) return -1;
  return ParseJson<api::MatchResponse>(r->body).matches_size();
}

uint32_t FeedSeq(TestNode& node, const std::string& member) {
  auto r = node.Query("GET", "/v1/feeds");
  if (!r.ok() || r->status != 200) return 0;
  const auto feeds = ParseJson<api::FeedsResponse>(r->body);
  for (const auto& f : feeds.feeds()) {
    if (f.author() == member) return f.seq();
  }
  return 0;
}

TEST(FederationTest, ThreeNodesInALineConverge) {
  Federation fed({{"alice"}, {"bob"}, {"carol"}});
  ASSERT_TRUE(fed.Start(0, {}).ok());
  ASSERT_TRUE(fed.Start(1, {0}).ok());
  ASSERT_TRUE(fed.Start(2, {1}).ok());
  const std::string pdq = RandomPdqHex(42);
  // Publishing opens once each node knows its own feed is complete.
  ASSERT_TRUE(WaitFor([&] {
    auto r = fed.node(0).Cli({"--json", "submit", "--type", "pdq", "--value", pdq, "--label", "t/x"});
    return r.exit_code == 0;
  })) << fed.node(0).log();
  EXPECT_TRUE(WaitFor([&] { return Matches(fed.node(2), pdq) == 1; }))
      << "carol never got alice's record through bob\n" << fed.node(2).log();
  // Carol publishes; alice gets it through bob.
  const std::string pdq2 = RandomPdqHex(43);
  ASSERT_TRUE(WaitFor([&] {
    return fed.node(2).Cli({"submit", "--type", "pdq", "--value", pdq2, "--label", "t/x"})
               .exit_code == 0;
  }));
  EXPECT_TRUE(WaitFor([&] { return Matches(fed.node(0), pdq2) == 1; })) << fed.node(0).log();
  // Every node has every feed at the same head.
  for (size_t author = 0; author < 3; ++author) {
    uint32_t at0 = FeedSeq(fed.node(0), fed.member_id(author));
    EXPECT_TRUE(WaitFor([&] {
      return FeedSeq(fed.node(1), fed.member_id(author)) == at0 &&
             FeedSeq(fed.node(2), fed.member_id(author)) == at0;
    })) << "author " << author;
  }
  auto peers = fed.node(1).Cli({"--json", "peers"});
  ASSERT_EQ(peers.exit_code, 0) << peers.err;
  auto parsed = ParseJson<api::PeersResponse>(peers.out);
  int connected = 0;
  for (const auto& p : parsed.peers()) connected += p.state() == "connected";
  EXPECT_EQ(connected, 2) << peers.out;
}

}  // namespace
}  // namespace hashmesh::testing
