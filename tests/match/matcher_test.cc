// The matcher over a real store, as a table: the records the network holds (signals, endorsements,
// disputes, notices, retractions, expiry, forks, compromise points) and the policy settings in;
// what matched, its state, and the verdict with its reasons out (DESIGN.md "Matching" and "Local
// policy").
#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "daemon/match/matcher.h"
#include "daemon/match/pdq_signal_index.h"
#include "daemon/storage/compromise_points.h"
#include "daemon/storage/store.h"
#include "keys/trust_store.h"
#include "tests/support/test_member.h"

namespace hashmesh {
namespace {

using testing::RandomPdqHex;
using testing::TestMember;

const std::string kQuery = RandomPdqHex(7);

// Members, their feeds, and what else the store is to hold. alice, bob and carol are platforms,
// gov an authority; mallory signs validly but is not in the trust store.
struct World {
  World() {
    for (TestMember* m : {&alice, &bob, &carol, &gov, &mallory}) m->AppendManifest();
  }
  TestMember alice, bob, carol, gov, mallory;
  std::vector<std::pair<PublicKey, uint64_t>> forks;  // fork proofs: author, seq

  static pb::RecordBody Notice(uint64_t expires_at_ms = 0) {
    pb::RecordBody body;
    pb::Notice* n = body.mutable_notice();
    n->set_category("terrorism");
    n->set_jurisdiction("FR");
    n->set_legal_basis("LCEN 6-1");
    n->set_issuing_body("Police");
    n->set_requested_action(pb::REQUESTED_ACTION_REMOVE);
    n->set_expires_at_ms(expires_at_ms);
    return body;
  }
  static ParsedRecord NoticeOn(TestMember& author, const ParsedRecord& target,
                               uint64_t expires_at_ms = 0) {
    pb::RecordBody body = Notice(expires_at_ms);
    body.mutable_notice()->add_targets()->set_record_id(std::string(AsStringView(target.id)));
    return author.Append(std::move(body));
  }
  static ParsedRecord Retract(TestMember& author, const ParsedRecord& target) {
    pb::RecordBody body;
    body.mutable_retraction()->set_target(std::string(AsStringView(target.id)));
    body.mutable_retraction()->set_reason("mistake");
    return author.Append(std::move(body));
  }
  static ParsedRecord SignalWith(TestMember& author,
                                 const std::function<void(pb::Signal&)>& change) {
    pb::RecordBody body;
    pb::Signal* s = body.mutable_signal();
    s->set_type(pb::SIGNAL_TYPE_PDQ);
    s->set_value(kQuery);
    s->add_labels("terrorism/glorification");
    change(*s);
    return author.Append(std::move(body));
  }
};

struct Case {
  const char* name;
  std::function<void(World&)> build;
  std::function<void(PolicyConfig&, const World&)> policy;  // may be empty
  const char* action;
  std::vector<std::string> reasons;  // record ids written as ID
  // More checks on the answer; may be empty.
  std::function<void(const MatchResult&, const World&)> check = {};
  bool include_low_quality = false;
};

// "pdq 3f0a9b11c2d4 by alice" -> "pdq ID by alice": ids differ from run to run.
std::string WithoutIds(const std::string& reason) {
  static const std::regex id("[0-9a-f]{12}");
  return std::regex_replace(reason, id, "ID");
}

class MatcherTableTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/matcher_test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  MatchResult Run(World& world, const PolicyConfig& policy, bool include_low_quality) {
    auto store = Store::Open({.dir = dir_});
    EXPECT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(*store);
    Status written = store_->Write([&](StoreBatch& batch) -> Status {
      for (const TestMember* m : {&world.alice, &world.bob, &world.carol, &world.gov,
                                  &world.mallory}) {
        for (const auto& r : m->feed()) HM_RETURN_IF_ERROR(batch.PutRecord(r));
      }
      for (const auto& [author, seq] : world.forks) {
        HM_RETURN_IF_ERROR(batch.PutEquivocation(author, seq, "proof"));
      }
      return Status::Ok();
    });
    EXPECT_TRUE(written.ok()) << written.message();
    EXPECT_TRUE(index_.Load(*store_).ok());
    EXPECT_TRUE(compromise_.Load(*store_).ok());

    TrustStore trust;
    auto add = [&](const char* name, const TestMember& m, Role role) {
      EXPECT_TRUE(trust.Add({.name = name, .member_key = m.id(), .roles = {role}, .address = ""})
                      .ok());
    };
    add("alice", world.alice, Role::kPlatform);
    add("bob", world.bob, Role::kPlatform);
    add("carol", world.carol, Role::kPlatform);
    add("gov", world.gov, Role::kAuthority);

    Matcher matcher(store_.get(), &index_, &compromise_);
    MatchSpec spec{.kind = SignalKind::kPdq,
                   .value = kQuery,
                   .max_distance = static_cast<int>(policy.pdq_max_distance),
                   .include_low_quality = include_low_quality};
    auto result = matcher.Match(spec, trust, policy, NowMs());
    EXPECT_TRUE(result.ok()) << result.status().message();
    return result.ok() ? std::move(*result) : MatchResult();
  }

  std::string dir_;
  std::unique_ptr<Store> store_;
  PdqSignalIndex index_;
  CompromisePoints compromise_;
};

TEST_P(MatcherTableTest, Verdict) {
  const Case& c = GetParam();
  World world;
  c.build(world);
  PolicyConfig policy;
  if (c.policy) c.policy(policy, world);
  MatchResult result = Run(world, policy, c.include_low_quality);
  EXPECT_EQ(ActionName(result.decision.action), c.action);
  std::vector<std::string> reasons;
  for (const auto& r : result.decision.reasons) reasons.push_back(WithoutIds(r));
  EXPECT_EQ(reasons, c.reasons);
  if (c.check) c.check(result, world);
}

std::string Key(const TestMember& m) { return KeyToText(m.id()); }

const std::vector<Case> kCases = {
    {"NothingStored", [](World&) {}, {}, "none", {"no matching signal"}},
    {"OnePlatformSubmitsIsReview",
     [](World& w) { w.alice.AppendSignal(kQuery); },
     {},
     "review",
     {"review: pdq ID by alice: supported by 1 of 2 platform members needed to act (alice)"},
     [](const MatchResult& r, const World&) {
       ASSERT_EQ(r.matches.size(), 1u);
       EXPECT_EQ(r.matches[0].distance, 0);
       EXPECT_EQ(r.matches[0].author_name, "alice");
       EXPECT_EQ(r.matches[0].author_role, "platform");
       EXPECT_EQ(r.matches[0].state, SignalState::kCurrent);
       EXPECT_FALSE(r.matches[0].in_notice);
     }},
    {"SecondPlatformEndorsesIsAct",
     [](World& w) {
       ParsedRecord s = w.alice.AppendSignal(kQuery);
       w.bob.AppendOpinion(s.id, pb::STANCE_ENDORSE);
       w.carol.AppendOpinion(s.id, pb::STANCE_SEEN);
     },
     {},
     "act",
     {"act: pdq ID by alice: supported by 2 platform members (alice, bob)"},
     [](const MatchResult& r, const World&) {
       ASSERT_EQ(r.matches.size(), 1u);
       EXPECT_EQ(r.matches[0].opinions.endorse, 1u);
       EXPECT_EQ(r.matches[0].opinions.platform_endorse, 1u);
       EXPECT_EQ(r.matches[0].opinions.seen, 1u);
     }},
    {"RepeatedEndorsementCountsOnce",
     [](World& w) {
       ParsedRecord s = w.alice.AppendSignal(kQuery);
       w.bob.AppendOpinion(s.id, pb::STANCE_ENDORSE);
       w.bob.AppendOpinion(s.id, pb::STANCE_ENDORSE);
     },
     [](PolicyConfig& p, const World&) { p.min_platforms = 3; },
     "review",
     {"review: pdq ID by alice: supported by 2 of 3 platform members needed to act (alice, bob)"},
     [](const MatchResult& r, const World&) {
       EXPECT_EQ(r.matches[0].opinions.endorse, 2u);
       EXPECT_EQ(r.matches[0].opinions.platform_endorse, 1u);
     }},
    {"AuthorityEndorsementIsNoPlatformSupport",
     [](World& w) {
       ParsedRecord s = w.alice.AppendSignal(kQuery);
       w.gov.AppendOpinion(s.id, pb::STANCE_ENDORSE);
     },
     {},
     "review",
     {"review: pdq ID by alice: supported by 1 of 2 platform members needed to act (alice)"}},
    {"PlatformDisputeIsReview",
     [](World& w) {
       ParsedRecord s = w.alice.AppendSignal(kQuery);
       w.bob.AppendOpinion(s.id, pb::STANCE_ENDORSE);
       w.carol.AppendOpinion(s.id, pb::STANCE_DISPUTE);
     },
     {},
     "review",
     {"review: pdq ID by alice: disputed by carol"}},
    {"DisputeWithinMaxDisputesStillActs",
     [](World& w) {
       ParsedRecord s = w.alice.AppendSignal(kQuery);
       w.bob.AppendOpinion(s.id, pb::STANCE_ENDORSE);
       w.carol.AppendOpinion(s.id, pb::STANCE_DISPUTE);
     },
     [](PolicyConfig& p, const World&) { p.max_disputes = 1; },
     "act",
     {"act: pdq ID by alice: supported by 2 platform members (alice, bob)"}},
    {"EndorserThatAlsoDisputesIsNoSupport",
     [](World& w) {
       ParsedRecord s = w.alice.AppendSignal(kQuery);
       w.bob.AppendOpinion(s.id, pb::STANCE_ENDORSE);
       w.bob.AppendOpinion(s.id, pb::STANCE_DISPUTE);
     },
     [](PolicyConfig& p, const World&) { p.max_disputes = 1; },
     "review",
     {"review: pdq ID by alice: supported by 1 of 2 platform members needed to act (alice)"}},
    {"AuthorityNoticeOnAPlatformSignalIsReview",
     [](World& w) { World::NoticeOn(w.gov, w.alice.AppendSignal(kQuery)); },
     {},
     "review",
     {"review: pdq ID by alice: notice by Police (gov, FR, LCEN 6-1) requests remove"},
     [](const MatchResult& r, const World&) {
       ASSERT_EQ(r.matches.size(), 1u);
       EXPECT_EQ(r.matches[0].notices.size(), 1u);
     }},
    {"AuthorityNoticeVerdictFromPolicy",
     [](World& w) { World::NoticeOn(w.gov, w.alice.AppendSignal(kQuery)); },
     [](PolicyConfig& p, const World&) { p.authority_notice = "act"; },
     "act",
     {"act: pdq ID by alice: notice by Police (gov, FR, LCEN 6-1) requests remove"}},
    {"ExpiredNoticeIsListedButCountsForNothing",
     [](World& w) { World::NoticeOn(w.gov, w.alice.AppendSignal(kQuery), 1); },
     {},
     "review",
     {"review: pdq ID by alice: supported by 1 of 2 platform members needed to act (alice)"},
     [](const MatchResult& r, const World&) { EXPECT_EQ(r.matches[0].notices.size(), 1u); }},
    {"PlatformNoticeIsNoAuthorityNotice",
     [](World& w) { World::NoticeOn(w.bob, w.carol.AppendSignal(kQuery)); },
     [](PolicyConfig& p, const World&) { p.min_platforms = 3; },
     "review",
     {"review: pdq ID by carol: supported by 1 of 3 platform members needed to act (carol)"}},
    {"AuthoritySignalAloneIsReview",
     [](World& w) { w.gov.AppendSignal(kQuery); },
     {},
     "review",
     {"review: pdq ID by gov: submitted by an authority alone"}},
    {"FingerprintInAnAuthorityNoticeIsReview",
     [](World& w) {
       pb::RecordBody body = World::Notice();
       pb::Signal* s = body.mutable_notice()->add_targets()->mutable_signal();
       s->set_type(pb::SIGNAL_TYPE_PDQ);
       s->set_value(kQuery);
       w.gov.Append(std::move(body));
     },
     {},
     "review",
     {"review: pdq in notice ID by gov: notice by Police (gov, FR, LCEN 6-1) requests remove"},
     [](const MatchResult& r, const World&) {
       ASSERT_EQ(r.matches.size(), 1u);
       EXPECT_TRUE(r.matches[0].in_notice);
       ASSERT_EQ(r.matches[0].notices.size(), 1u);
       EXPECT_EQ(r.matches[0].notices[0].record.id, r.matches[0].record.id);
     }},
    // References count only while current (#13): an endorsement, a dispute or a notice its own
    // author retracted, or one signed at or after its author's fork, counts for nothing.
    {"RetractedEndorsementIsNoSupport",
     [](World& w) {
       ParsedRecord s = w.alice.AppendSignal(kQuery);
       ParsedRecord e = w.bob.AppendOpinion(s.id, pb::STANCE_ENDORSE);
       World::Retract(w.bob, e);
     },
     {},
     "review",
     {"review: pdq ID by alice: supported by 1 of 2 platform members needed to act (alice)"},
     [](const MatchResult& r, const World&) { EXPECT_EQ(r.matches[0].opinions.endorse, 0u); }},
    {"EndorsementRetractedBySomebodyElseStillCounts",
     [](World& w) {
       ParsedRecord s = w.alice.AppendSignal(kQuery);
       ParsedRecord e = w.bob.AppendOpinion(s.id, pb::STANCE_ENDORSE);
       World::Retract(w.carol, e);  // refused by every node; here the store holds it anyway
     },
     {},
     "act",
     {"act: pdq ID by alice: supported by 2 platform members (alice, bob)"}},
    {"RetractedDisputeNoLongerBlocks",
     [](World& w) {
       ParsedRecord s = w.alice.AppendSignal(kQuery);
       w.bob.AppendOpinion(s.id, pb::STANCE_ENDORSE);
       ParsedRecord d = w.carol.AppendOpinion(s.id, pb::STANCE_DISPUTE);
       World::Retract(w.carol, d);
     },
     {},
     "act",
     {"act: pdq ID by alice: supported by 2 platform members (alice, bob)"}},
    {"RetractedAuthorityNoticeIsListedRetractedAndCountsForNothing",
     [](World& w) { World::Retract(w.gov, World::NoticeOn(w.gov, w.alice.AppendSignal(kQuery))); },
     [](PolicyConfig& p, const World&) { p.authority_notice = "act"; },
     "review",
     {"review: pdq ID by alice: supported by 1 of 2 platform members needed to act (alice)"},
     [](const MatchResult& r, const World&) {
       ASSERT_EQ(r.matches[0].notices.size(), 1u);
       EXPECT_TRUE(r.matches[0].notices[0].retracted);
     }},
    {"EndorserForkedAtItsEndorsementIsNoSupport",
     [](World& w) {
       ParsedRecord s = w.alice.AppendSignal(kQuery);
       ParsedRecord e = w.bob.AppendOpinion(s.id, pb::STANCE_ENDORSE);
       w.forks.emplace_back(w.bob.id(), e.seq());
     },
     {},
     "review",
     {"review: pdq ID by alice: supported by 1 of 2 platform members needed to act (alice)"}},
    {"EndorserForkedAfterItsEndorsementStillCounts",
     [](World& w) {
       ParsedRecord s = w.alice.AppendSignal(kQuery);
       ParsedRecord e = w.bob.AppendOpinion(s.id, pb::STANCE_ENDORSE);
       w.forks.emplace_back(w.bob.id(), e.seq() + 1);
     },
     {},
     "act",
     {"act: pdq ID by alice: supported by 2 platform members (alice, bob)"}},
    {"RetractedByItsAuthorIsNone",
     [](World& w) {
       ParsedRecord s = w.alice.AppendSignal(kQuery);
       w.bob.AppendOpinion(s.id, pb::STANCE_ENDORSE);
       World::Retract(w.alice, s);
     },
     {},
     "none",
     {"none: pdq ID by alice: retracted by its author"},
     [](const MatchResult& r, const World&) {
       EXPECT_EQ(r.matches[0].state, SignalState::kRetracted);
       EXPECT_TRUE(r.matches[0].state_facts.retracted);
     }},
    {"RetractionBySomebodyElseIsIgnored",
     [](World& w) { World::Retract(w.bob, w.alice.AppendSignal(kQuery)); },
     {},
     "review",
     {"review: pdq ID by alice: supported by 1 of 2 platform members needed to act (alice)"},
     [](const MatchResult& r, const World&) {
       EXPECT_EQ(r.matches[0].state, SignalState::kCurrent);
     }},
    {"ExpiredSignalIsNone",
     [](World& w) {
       ParsedRecord s = World::SignalWith(w.alice, [](pb::Signal& s) { s.set_expires_at_ms(1); });
       w.bob.AppendOpinion(s.id, pb::STANCE_ENDORSE);
     },
     {},
     "none",
     {"none: pdq ID by alice: expired"},
     [](const MatchResult& r, const World&) {
       EXPECT_EQ(r.matches[0].state, SignalState::kExpired);
     }},
    {"RetractedAndExpiredIsRetracted",
     [](World& w) {
       World::Retract(w.alice,
                      World::SignalWith(w.alice, [](pb::Signal& s) { s.set_expires_at_ms(1); }));
     },
     {},
     "none",
     {"none: pdq ID by alice: retracted by its author"},
     [](const MatchResult& r, const World&) {
       EXPECT_EQ(r.matches[0].state, SignalState::kRetracted);
       EXPECT_TRUE(Expired(r.matches[0].state_facts, NowMs()));  // both shown to the app
     }},
    {"SignalExpiringLaterIsCurrent",
     [](World& w) {
       World::SignalWith(w.alice, [](pb::Signal& s) { s.set_expires_at_ms(NowMs() + 3600000); });
     },
     {},
     "review",
     {"review: pdq ID by alice: supported by 1 of 2 platform members needed to act (alice)"}},
    {"ForkedAuthorAtOrBeforeTheSignalIsNone",
     [](World& w) {
       ParsedRecord s = w.alice.AppendSignal(kQuery);
       w.bob.AppendOpinion(s.id, pb::STANCE_ENDORSE);
       w.forks.emplace_back(w.alice.id(), s.seq());
     },
     {},
     "none",
     {"none: pdq ID by alice: author equivocated (forked its feed)"},
     [](const MatchResult& r, const World&) { EXPECT_TRUE(r.matches[0].author_forked); }},
    {"ForkAfterTheSignalLeavesItUsable",
     [](World& w) {
       ParsedRecord s = w.alice.AppendSignal(kQuery);
       w.bob.AppendOpinion(s.id, pb::STANCE_ENDORSE);
       w.forks.emplace_back(w.alice.id(), s.seq() + 1);
     },
     {},
     "act",
     {"act: pdq ID by alice: supported by 2 platform members (alice, bob)"},
     [](const MatchResult& r, const World&) { EXPECT_FALSE(r.matches[0].author_forked); }},
    {"VoidSignalIsNoMatch",
     [](World& w) {
       ParsedRecord s = w.alice.AppendSignal(kQuery);
       w.bob.AppendOpinion(s.id, pb::STANCE_ENDORSE);
       w.alice.Rotate(s.seq() - 1);  // compromised from before the signal on
     },
     {},
     "none",
     {"no matching signal"}},
    {"VoidEndorsementIsNoSupport",
     [](World& w) {
       ParsedRecord s = w.alice.AppendSignal(kQuery);
       ParsedRecord e = w.bob.AppendOpinion(s.id, pb::STANCE_ENDORSE);
       w.bob.Rotate(e.seq() - 1);
     },
     {},
     "review",
     {"review: pdq ID by alice: supported by 1 of 2 platform members needed to act (alice)"},
     [](const MatchResult& r, const World&) { EXPECT_EQ(r.matches[0].opinions.endorse, 0u); }},
    {"VoidRetractionWithdrawsNothing",
     [](World& w) {
       ParsedRecord s = w.alice.AppendSignal(kQuery);
       ParsedRecord gone = World::Retract(w.alice, s);
       w.alice.Rotate(gone.seq() - 1);
     },
     {},
     "review",
     {"review: pdq ID by alice: supported by 1 of 2 platform members needed to act (alice)"}},
    {"IgnoredAuthorIsNone",
     [](World& w) {
       ParsedRecord s = w.alice.AppendSignal(kQuery);
       w.bob.AppendOpinion(s.id, pb::STANCE_ENDORSE);
     },
     [](PolicyConfig& p, const World& w) { p.ignore_members = {Key(w.alice)}; },
     "none",
     {"none: pdq ID by alice: author ignored by local policy"}},
    {"IgnoredEndorserIsNoSupport",
     [](World& w) {
       ParsedRecord s = w.alice.AppendSignal(kQuery);
       w.bob.AppendOpinion(s.id, pb::STANCE_ENDORSE);
     },
     [](PolicyConfig& p, const World& w) { p.ignore_members = {Key(w.bob)}; },
     "review",
     {"review: pdq ID by alice: supported by 1 of 2 platform members needed to act (alice)"}},
    {"UntrustedAuthorIsNoMatch",
     [](World& w) { w.mallory.AppendSignal(kQuery); },
     {},
     "none",
     {"no matching signal"}},
    {"LabelOutsideActLabelsIsReview",
     [](World& w) { w.bob.AppendOpinion(w.alice.AppendSignal(kQuery).id, pb::STANCE_ENDORSE); },
     [](PolicyConfig& p, const World&) { p.act_labels = {"csam/"}; },
     "review",
     {"review: pdq ID by alice: supported by 2 platform members, but no label is in "
      "policy.act_labels"}},
    {"LowQualityHashIsLeftOut",
     [](World& w) { World::SignalWith(w.alice, [](pb::Signal& s) { s.set_quality(30); }); },
     {},
     "none",
     {"no matching signal"}},
    {"LowQualityHashWhenAsked",
     [](World& w) { World::SignalWith(w.alice, [](pb::Signal& s) { s.set_quality(30); }); },
     {},
     "review",
     {"review: pdq ID by alice: supported by 1 of 2 platform members needed to act (alice)"},
     {},
     /*include_low_quality=*/true},
    {"StrongestOfSeveralSignalsDecides",
     [](World& w) {
       w.alice.AppendSignal(kQuery);
       ParsedRecord s = w.carol.AppendSignal(kQuery);
       w.bob.AppendOpinion(s.id, pb::STANCE_ENDORSE);
     },
     {},
     "act",
     // The reason that gave the verdict first.
     {"act: pdq ID by carol: supported by 2 platform members (carol, bob)",
      "review: pdq ID by alice: supported by 1 of 2 platform members needed to act (alice)"},
     [](const MatchResult& r, const World&) { EXPECT_EQ(r.matches.size(), 2u); }},
};

INSTANTIATE_TEST_SUITE_P(Facts, MatcherTableTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace hashmesh
