// Local policy across a federation of real nodes: what an authority's notice, platforms'
// endorsements and disputes, and a retraction do to the verdict on every node.
#include <gtest/gtest.h>

#include "common/json.h"
#include "proto/api.pb.h"
#include "tests/support/test_member.h"
#include "tests/support/federation.h"

namespace hashmesh::testing {
namespace {

enum { kP1, kP2, kP3, kGov, kAudit, kMembers };

class PolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A star around p1: every record reaches every node through it.
    ASSERT_TRUE(fed_.Start(kP1, {}).ok());
    for (size_t i = kP2; i < kMembers; ++i) ASSERT_TRUE(fed_.Start(i, {kP1}).ok());
  }

  // Publishes through node i's CLI (retrying while the node still recovers its own feed).
  std::string Publish(size_t i, const std::vector<std::string>& args) {
    std::vector<std::string> full = {"--json"};
    full.insert(full.end(), args.begin(), args.end());
    CommandResult r;
    WaitFor([&] {
      r = fed_.node(i).Cli(full);
      return r.exit_code == 0 || r.err.find("recovering") == std::string::npos;
    });
    EXPECT_EQ(r.exit_code, 0) << r.err;
    api::PublishResponse out;
    (void)FromJson(r.out, &out);
    return out.id();
  }

  api::MatchResponse Match(size_t i) { return Match(i, pdq_); }
  api::MatchResponse Match(size_t i, const std::string& pdq) {
    auto r = fed_.node(i).Query("POST", "/v1/match",
                                "{\"type\":\"pdq\",\"value\":\"" + pdq + "\"}");
    api::MatchResponse out;
    if (r.ok() && r->status == 200) (void)FromJson(r->body, &out);
    return out;
  }

  // Waits until every node gives `action`; returns the verdicts seen, e.g. "act act act act act".
  std::string VerdictsEverywhere(const std::string& action) {
    std::string seen;
    WaitFor([&] {
      seen.clear();
      bool all = true;
      for (size_t i = 0; i < kMembers; ++i) {
        std::string a = Match(i).verdict().action();
        seen += (seen.empty() ? "" : " ") + a;
        all = all && a == action;
      }
      return all;
    });
    return seen;
  }

  Federation fed_{{{"p1", "platform"},
                   {"p2", "platform"},
                   {"p3", "platform"},
                   {"gov", "authority"},
                   {"audit", "auditor"}}};
  const std::string pdq_ = RandomPdqHex(2015);
};

TEST_F(PolicyTest, NoticesEndorsementsDisputesAndRetraction) {
  const std::string signal = Publish(kP1, {"submit", "--type", "pdq", "--value", pdq_, "--label",
                                           "terrorism/glorification"});
  ASSERT_EQ(signal.size(), 64u);
  // One platform alone: review everywhere.
  EXPECT_EQ(VerdictsEverywhere("review"), "review review review review review");

  // An authority's notice on it: still review (a notice alone never makes act by default).
  Publish(kGov, {"notice", "--target", signal, "--category", "terrorism", "--jurisdiction", "FR",
                 "--legal-basis", "Loi 2014-1353 art. 6-1", "--issuing-body", "OCLCTIC",
                 "--action", "remove"});
  ASSERT_TRUE(WaitFor([&] {
    auto m = Match(kP3);
    return m.matches_size() == 1 && m.matches(0).notices_size() == 1;
  }));
  auto with_notice = Match(kP3);
  EXPECT_EQ(with_notice.verdict().action(), "review");
  EXPECT_EQ(with_notice.matches(0).notices(0).issuing_body(), "OCLCTIC");

  // A second platform endorses: act on every node (policy min_platforms = 2).
  Publish(kP2, {"endorse", signal, "--reason", "same video seen here"});
  EXPECT_EQ(VerdictsEverywhere("act"), "act act act act act");

  // A third platform disputes: back to review, naming the disputer.
  Publish(kP3, {"dispute", signal, "--reason", "news reporting, not glorification"});
  EXPECT_EQ(VerdictsEverywhere("review"), "review review review review review");
  auto disputed = Match(kP1);
  ASSERT_GE(disputed.verdict().reasons_size(), 1);
  EXPECT_NE(disputed.verdict().reasons(0).find("disputed by p3"), std::string::npos)
      << disputed.verdict().reasons(0);
  EXPECT_EQ(disputed.matches(0).opinions().platform_dispute(), 1u);
  EXPECT_EQ(disputed.matches(0).opinions().platform_endorse(), 1u);

  // The submitter retracts: none, on every node.
  Publish(kP1, {"retract", signal, "--reason", "submitted in error"});
  EXPECT_EQ(VerdictsEverywhere("none"), "none none none none none");
  auto at_auditor = Match(kAudit);
  ASSERT_EQ(at_auditor.matches_size(), 1);
  EXPECT_TRUE(at_auditor.matches(0).retracted());
}

// References count only while current (#13 item 2): a platform that retracts its endorsement
// no longer supports the signal, and an authority's retracted notice shows as retracted, on
// every node.
TEST_F(PolicyTest, RetractedEndorsementsAndNoticesStopCounting) {
  const std::string signal = Publish(kP1, {"submit", "--type", "pdq", "--value", pdq_, "--label",
                                           "terrorism/glorification"});
  ASSERT_EQ(signal.size(), 64u);
  // Every node holds the signal before others refer to it.
  EXPECT_EQ(VerdictsEverywhere("review"), "review review review review review");
  const std::string endorsement = Publish(kP2, {"endorse", signal, "--reason", "seen here"});
  EXPECT_EQ(VerdictsEverywhere("act"), "act act act act act");
  Publish(kP2, {"retract", endorsement, "--reason", "endorsed the wrong record"});
  EXPECT_EQ(VerdictsEverywhere("review"), "review review review review review");

  const std::string notice =
      Publish(kGov, {"notice", "--target", signal, "--category", "terrorism", "--jurisdiction",
                     "FR", "--legal-basis", "Loi 2014-1353 art. 6-1", "--issuing-body",
                     "OCLCTIC", "--action", "remove"});
  Publish(kGov, {"retract", notice, "--reason", "withdrawn by the issuing body"});
  for (size_t i : {kP1, kP2, kP3, kGov, kAudit}) {
    ASSERT_TRUE(WaitFor([&] {
      auto m = Match(i);
      return m.matches_size() == 1 && m.matches(0).notices_size() == 1 &&
             m.matches(0).notices(0).retracted();
    })) << "node " << i;
  }
}

// An authority's notice that carries the fingerprint itself, with no signal record: every node
// matches it, a near duplicate too, with the notice as the match's context. Platforms that
// endorse the notice make it act; the authority's retraction ends it; a restarted node (its PDQ
// index rebuilt from the store) still finds it.
TEST_F(PolicyTest, FingerprintInsideANoticeMatches) {
  const std::string notice =
      Publish(kGov, {"notice", "--signal", "pdq:" + pdq_, "--category", "terrorism",
                     "--jurisdiction", "FR", "--legal-basis", "Loi 2014-1353 art. 6-1",
                     "--issuing-body", "OCLCTIC", "--action", "remove"});
  ASSERT_EQ(notice.size(), 64u);
  EXPECT_EQ(VerdictsEverywhere("review"), "review review review review review");
  std::string near = pdq_;
  near[0] = near[0] == '0' ? '1' : '0';  // 1 or 2 bits away
  auto m = Match(kP3, near);
  ASSERT_EQ(m.matches_size(), 1);
  const api::Match& match = m.matches(0);
  EXPECT_EQ(match.record_kind(), "notice");
  EXPECT_EQ(match.id(), notice);
  EXPECT_EQ(match.author_name(), "gov");
  EXPECT_EQ(match.value(), pdq_);
  EXPECT_GT(match.distance(), 0u);
  ASSERT_EQ(match.notices_size(), 1);
  EXPECT_EQ(match.notices(0).id(), notice);
  EXPECT_EQ(match.notices(0).issuing_body(), "OCLCTIC");
  ASSERT_GE(m.verdict().reasons_size(), 1);
  EXPECT_NE(m.verdict().reasons(0).find("in notice"), std::string::npos) << m.verdict().reasons(0);
  EXPECT_NE(m.verdict().reasons(0).find("requests remove"), std::string::npos)
      << m.verdict().reasons(0);
  auto cli = fed_.node(kP2).Cli({"match", "--type", "pdq", "--value", pdq_});
  EXPECT_NE(cli.out.find("in notice id=" + notice), std::string::npos) << cli.out << cli.err;

  // Two platforms endorse the notice: act everywhere.
  Publish(kP1, {"endorse", notice, "--reason", "seen here"});
  Publish(kP2, {"endorse", notice, "--reason", "seen here too"});
  EXPECT_EQ(VerdictsEverywhere("act"), "act act act act act");

  // The authority retracts its notice: none everywhere, after a restart too.
  Publish(kGov, {"retract", notice, "--reason", "order annulled"});
  EXPECT_EQ(VerdictsEverywhere("none"), "none none none none none");
  fed_.node(kP3).Stop();
  ASSERT_TRUE(fed_.Start(kP3, {kP1}).ok());
  auto after = Match(kP3, near);
  ASSERT_EQ(after.matches_size(), 1);
  EXPECT_TRUE(after.matches(0).retracted());
  EXPECT_EQ(after.verdict().action(), "none");
}

TEST_F(PolicyTest, RolesLimitWhatMembersPublish) {
  // An auditor may not publish a signal; its own node refuses before anything is signed.
  auto r = fed_.node(kAudit).Cli({"submit", "--type", "pdq", "--value", pdq_, "--label", "x"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("may not publish a signal"), std::string::npos) << r.err;
  // Nor may another member retract p1's record.
  const std::string signal =
      Publish(kP1, {"submit", "--type", "pdq", "--value", pdq_, "--label", "x/y"});
  ASSERT_TRUE(WaitFor([&] {
    return Match(kP2).matches_size() == 1 && Match(kAudit).matches_size() == 1;
  }));
  r = fed_.node(kP2).Cli({"retract", signal, "--reason", "not mine"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("only the author"), std::string::npos) << r.err;
  // An auditor may give an opinion; it does not count as platform support.
  Publish(kAudit, {"endorse", signal});
  ASSERT_TRUE(WaitFor([&] {
    auto m = Match(kP2);
    return m.matches_size() == 1 && m.matches(0).opinions().endorse() == 1;
  }));
  EXPECT_EQ(Match(kP2).matches(0).opinions().platform_endorse(), 0u);
  EXPECT_EQ(Match(kP2).verdict().action(), "review");
}

}  // namespace
}  // namespace hashmesh::testing
