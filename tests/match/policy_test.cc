// Local policy as a table: the facts about each matching signal and the policy settings in, the
// verdict and its reasons out (DESIGN.md "Local policy"; daemon/match/policy.cc).
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "daemon/match/policy.h"

namespace hashmesh {
namespace {

MatchFacts Signal(std::vector<std::string> supporters = {},
                  std::vector<std::string> disputers = {}) {
  MatchFacts f;
  f.signal = "pdq s1";
  f.author_platform = !supporters.empty();
  f.platform_supporters = std::move(supporters);
  f.platform_disputers = std::move(disputers);
  f.labels = {"terrorism/glorification"};
  return f;
}

MatchFacts With(MatchFacts f, const std::function<void(MatchFacts&)>& change) {
  change(f);
  return f;
}

const char* kNotice = "notice by Police (gov, FR, LCEN 6-1) requests remove";

struct Case {
  const char* name;
  std::vector<MatchFacts> matches;
  std::function<void(PolicyConfig&)> policy;  // changes from the defaults; may be empty
  const char* action;
  std::vector<std::string> reasons;
};

class PolicyTableTest : public ::testing::TestWithParam<Case> {};

TEST_P(PolicyTableTest, Decides) {
  const Case& c = GetParam();
  PolicyConfig policy;
  if (c.policy) c.policy(policy);
  Decision d = Decide(policy, c.matches);
  EXPECT_EQ(ActionName(d.action), c.action);
  EXPECT_EQ(d.reasons, c.reasons);
}

const std::vector<Case> kCases = {
    {"NoMatch", {}, {}, "none", {"no matching signal"}},
    {"TwoPlatformsAct",
     {Signal({"alice", "bob"})},
     {},
     "act",
     {"act: pdq s1: supported by 2 platform members (alice, bob)"}},
    {"OnePlatformOfTwoIsReview",
     {Signal({"alice"})},
     {},
     "review",
     {"review: pdq s1: supported by 1 of 2 platform members needed to act (alice)"}},
    {"MinPlatformsOneActs",
     {Signal({"alice"})},
     [](PolicyConfig& p) { p.min_platforms = 1; },
     "act",
     {"act: pdq s1: supported by 1 platform members (alice)"}},
    {"NoSupportIsNone",
     {Signal()},
     {},
     "none",
     {"none: pdq s1: no platform support"}},
    {"DisputeWithSupportIsReview",
     {Signal({"alice", "bob"}, {"carol"})},
     {},
     "review",
     {"review: pdq s1: disputed by carol"}},
    {"DisputeWithoutSupportIsNone",
     {Signal({}, {"carol", "dave"})},
     {},
     "none",
     {"none: pdq s1: disputed by carol, dave"}},
    {"DisputeOfAuthorityNoticeIsReview",
     {With(Signal({}, {"carol"}), [](MatchFacts& f) { f.authority_notices = {kNotice}; })},
     {},
     "review",
     {"review: pdq s1: disputed by carol"}},
    {"DisputeOfAuthoritySignalIsReview",
     {With(Signal({}, {"carol"}), [](MatchFacts& f) { f.author_authority = true; })},
     {},
     "review",
     {"review: pdq s1: disputed by carol"}},
    {"DisputesUpToMaxDisputesAreTolerated",
     {Signal({"alice", "bob"}, {"carol"})},
     [](PolicyConfig& p) { p.max_disputes = 1; },
     "act",
     {"act: pdq s1: supported by 2 platform members (alice, bob)"}},
    {"LabelOutsideActLabelsIsReview",
     {Signal({"alice", "bob"})},
     [](PolicyConfig& p) { p.act_labels = {"csam/"}; },
     "review",
     {"review: pdq s1: supported by 2 platform members, but no label is in policy.act_labels"}},
    {"LabelPrefixInActLabelsActs",
     {Signal({"alice", "bob"})},
     [](PolicyConfig& p) { p.act_labels = {"csam/", "terrorism/"}; },
     "act",
     {"act: pdq s1: supported by 2 platform members (alice, bob)"}},
    {"AuthorityNoticeAloneIsReview",
     {With(Signal(), [](MatchFacts& f) { f.authority_notices = {kNotice}; })},
     {},
     "review",
     {std::string("review: pdq s1: ") + kNotice}},
    {"AuthorityNoticeVerdictIsConfigurable",
     {With(Signal(), [](MatchFacts& f) { f.authority_notices = {kNotice}; })},
     [](PolicyConfig& p) { p.authority_notice = "act"; },
     "act",
     {std::string("act: pdq s1: ") + kNotice}},
    {"AuthorityNoticeOutranksPartialSupport",
     {With(Signal({"alice"}), [](MatchFacts& f) { f.authority_notices = {kNotice}; })},
     [](PolicyConfig& p) { p.authority_notice = "none"; },
     "none",
     {std::string("none: pdq s1: ") + kNotice}},
    {"QuorumOutranksAuthorityNotice",
     {With(Signal({"alice", "bob"}), [](MatchFacts& f) { f.authority_notices = {kNotice}; })},
     {},
     "act",
     {"act: pdq s1: supported by 2 platform members (alice, bob)"}},
    {"SignalByAuthorityAloneIsReview",
     {With(Signal(), [](MatchFacts& f) { f.author_authority = true; })},
     {},
     "review",
     {"review: pdq s1: submitted by an authority alone"}},
    {"IgnoredAuthorIsNone",
     {With(Signal({"alice", "bob"}), [](MatchFacts& f) { f.ignored = true; })},
     {},
     "none",
     {"none: pdq s1: author ignored by local policy"}},
    {"ForkedAuthorIsNone",
     {With(Signal({"alice", "bob"}), [](MatchFacts& f) { f.forked = true; })},
     {},
     "none",
     {"none: pdq s1: author equivocated (forked its feed)"}},
    {"IgnoredOutranksForked",
     {With(Signal({"alice", "bob"}), [](MatchFacts& f) { f.ignored = f.forked = true; })},
     {},
     "none",
     {"none: pdq s1: author ignored by local policy"}},
    {"RetractedIsNone",
     {With(Signal({"alice", "bob"}), [](MatchFacts& f) { f.state = SignalState::kRetracted; })},
     {},
     "none",
     {"none: pdq s1: retracted by its author"}},
    {"ExpiredIsNone",
     {With(Signal({"alice", "bob"}), [](MatchFacts& f) { f.state = SignalState::kExpired; })},
     {},
     "none",
     {"none: pdq s1: expired"}},
    {"VoidIsNone",
     {With(Signal({"alice", "bob"}), [](MatchFacts& f) { f.state = SignalState::kVoid; })},
     {},
     "none",
     {"none: pdq s1: void (its author's compromise point is before it)"}},
    {"ForkedOutranksRetracted",
     {With(Signal(), [](MatchFacts& f) {
       f.forked = true;
       f.state = SignalState::kRetracted;
     })},
     {},
     "none",
     {"none: pdq s1: author equivocated (forked its feed)"}},
    {"StrongestSignalDecidesAndItsReasonComesFirst",
     {With(Signal(), [](MatchFacts& f) { f.signal = "md5 s0"; }),
      With(Signal({"alice"}), [](MatchFacts& f) { f.signal = "pdq s1"; }),
      With(Signal({"alice", "bob"}), [](MatchFacts& f) { f.signal = "pdq s2"; }),
      With(Signal({"bob", "carol"}), [](MatchFacts& f) { f.signal = "pdq s3"; })},
     {},
     "act",
     {"act: pdq s2: supported by 2 platform members (alice, bob)",
      "act: pdq s3: supported by 2 platform members (bob, carol)",
      "none: md5 s0: no platform support",
      "review: pdq s1: supported by 1 of 2 platform members needed to act (alice)"}},
    {"RetractedSignalDoesNotHideACurrentOne",
     {With(Signal({"alice", "bob"}), [](MatchFacts& f) { f.state = SignalState::kRetracted; }),
      With(Signal({"alice"}), [](MatchFacts& f) { f.signal = "pdq s2"; })},
     {},
     "review",
     {"review: pdq s2: supported by 1 of 2 platform members needed to act (alice)",
      "none: pdq s1: retracted by its author"}},
};

INSTANTIATE_TEST_SUITE_P(Verdicts, PolicyTableTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return std::string(info.param.name);
                         });

TEST(PolicyTest, ActionNames) {
  EXPECT_EQ(ActionName(Action::kAct), "act");
  EXPECT_EQ(ActionName(Action::kReview), "review");
  EXPECT_EQ(ActionName(Action::kNone), "none");
}

}  // namespace
}  // namespace hashmesh
