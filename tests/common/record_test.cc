// Record building, ids, parsing and feed verification, including tampering.
#include "common/record.h"

#include <gtest/gtest.h>

#include "keys/record_acceptance.h"
#include "tests/support/test_member.h"

namespace hashmesh {
namespace {

using testing::RandomPdqHex;
using testing::TestMember;

class RecordTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(InitCrypto()); }

  // Verifies a whole feed in order and renders it, e.g. "#1 manifest ok | #2 signal ok".
  static std::string VerifyFeed(const std::vector<ParsedRecord>& records) {
    FeedState state;
    std::string out;
    for (const auto& r : records) {
      Status s = VerifyNextRecord(r, state);
      if (!out.empty()) out += " | ";
      out += "#" + std::to_string(r.seq()) + " " + std::string(RecordKindName(r.kind)) + " " +
             (s.ok() ? "ok" : s.message());
      if (s.ok()) AdvanceFeed(r, &state);
    }
    return out;
  }

  static ParsedRecord Reparse(const pb::SignedRecord& signed_record) {
    auto r = ParseRecord(signed_record);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return *r;
  }
};

// A notice's inline fingerprints, each distinct one once in target order; a signal's own; none
// for other kinds. 20,000 targets (more than a 256 KiB record could hold of short ones).
TEST_F(RecordTest, FingerprintsAreDistinctInTargetOrder) {
  pb::RecordBody notice;
  notice.mutable_notice()->add_targets()->set_record_id(std::string(32, 'x'));
  for (int i = 0; i < 20000; ++i) {
    pb::Signal* s = notice.mutable_notice()->add_targets()->mutable_signal();
    s->set_type(i % 2 == 0 ? pb::SIGNAL_TYPE_MD5 : pb::SIGNAL_TYPE_SHA256);
    s->set_value(std::to_string(i % 10));  // types alternate, so values 0-9 repeat per type
  }
  std::vector<const pb::Signal*> found = Fingerprints(notice);
  std::string seen;
  for (const pb::Signal* s : found) seen += std::to_string(s->type()) + ":" + s->value() + " ";
  EXPECT_EQ(seen, "2:0 3:1 2:2 3:3 2:4 3:5 2:6 3:7 2:8 3:9 ");
  EXPECT_EQ(found[0], &notice.notice().targets(1).signal());

  pb::RecordBody signal;
  signal.mutable_signal()->set_value("v");
  ASSERT_EQ(Fingerprints(signal).size(), 1u);
  EXPECT_EQ(Fingerprints(signal)[0], &signal.signal());
  pb::RecordBody opinion;
  opinion.mutable_opinion()->set_target(std::string(32, 'y'));
  EXPECT_TRUE(Fingerprints(opinion).empty());
}

TEST_F(RecordTest, ChainVerifies) {
  TestMember alice;
  alice.AppendManifest();
  auto sig = alice.AppendSignal(RandomPdqHex(1));
  alice.AppendOpinion(sig.id, pb::STANCE_ENDORSE);
  EXPECT_EQ(VerifyFeed(alice.feed()), "#1 manifest ok | #2 signal ok | #3 opinion ok");
  EXPECT_EQ(sig.id, ComputeRecordId(sig.signed_record.body()));
  EXPECT_EQ(*sig.prev, alice.feed()[0].id);
}

TEST_F(RecordTest, SerializedRoundTripKeepsId) {
  TestMember alice;
  auto m = alice.AppendManifest();
  auto parsed = ParseRecordBytes(m.signed_record.SerializeAsString());
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->id, m.id);
  EXPECT_EQ(parsed->author, alice.id());
}

TEST_F(RecordTest, FeedMustStartWithManifest) {
  TestMember alice;
  alice.AppendSignal(RandomPdqHex(1));
  EXPECT_EQ(VerifyFeed(alice.feed()), "#1 signal a feed must start with a manifest record");
}

TEST_F(RecordTest, EveryFlippedBitIsRejected) {
  TestMember alice;
  auto m = alice.AppendManifest();
  auto sig = alice.AppendSignal(RandomPdqHex(2));
  FeedState state;
  AdvanceFeed(m, &state);
  ASSERT_TRUE(VerifyNextRecord(sig, state).ok());
  const std::string body = sig.signed_record.body();
  for (size_t bit = 0; bit < body.size() * 8; ++bit) {
    pb::SignedRecord tampered = sig.signed_record;
    std::string b = body;
    b[bit / 8] ^= static_cast<char>(1 << (bit % 8));
    tampered.set_body(b);
    auto parsed = ParseRecord(tampered);
    if (!parsed.ok()) continue;  // structurally broken: rejected before any crypto
    EXPECT_FALSE(VerifyNextRecord(*parsed, state).ok()) << "body bit " << bit;
  }
  for (size_t bit = 0; bit < 64 * 8; ++bit) {
    pb::SignedRecord tampered = sig.signed_record;
    std::string s = tampered.signature();
    s[bit / 8] ^= static_cast<char>(1 << (bit % 8));
    tampered.set_signature(s);
    EXPECT_EQ(VerifyNextRecord(Reparse(tampered), state).message(), "signature does not verify")
        << "signature bit " << bit;
  }
}

TEST_F(RecordTest, WrongSeqOrPrev) {
  TestMember alice;
  auto m = alice.AppendManifest();
  alice.AppendSignal(RandomPdqHex(3));
  auto third = alice.AppendSignal(RandomPdqHex(4));
  FeedState state;
  AdvanceFeed(m, &state);
  EXPECT_EQ(VerifyNextRecord(third, state).message(), "seq 3 does not extend head 1");
  // A record claiming seq 2 but chained to something else.
  pb::RecordBody body = third.body;
  body.clear_prev();
  auto forged = BuildRecord(body, alice.signing_key(), alice.id(), 2, RecordId{}, 1, NowMs());
  ASSERT_TRUE(forged.ok());
  EXPECT_EQ(VerifyNextRecord(*forged, state).message(), "prev does not match the id of record 1");
}

TEST_F(RecordTest, SignedByAnotherKey) {
  TestMember alice, mallory;
  auto m = alice.AppendManifest();
  FeedState state;
  AdvanceFeed(m, &state);
  pb::RecordBody body;
  body.mutable_signal()->set_type(pb::SIGNAL_TYPE_MD5);
  body.mutable_signal()->set_value(std::string(32, 'a'));
  auto forged = BuildRecord(body, mallory.signing_key(), alice.id(), 2, m.id, 1, NowMs());
  EXPECT_EQ(VerifyNextRecord(*forged, state).message(), "signature does not verify");
}

TEST_F(RecordTest, ManifestOfAnotherMemberRefused) {
  TestMember alice, bob;
  pb::RecordBody body;
  body.mutable_manifest()->ParseFromString(bob.manifest());
  auto r = BuildRecord(body, bob.signing_key(), alice.id(), 1, std::nullopt, 1, NowMs());
  EXPECT_EQ(VerifyNextRecord(*r, FeedState{}).message(), "manifest is for another member");
}

TEST_F(RecordTest, RotationAndRevocation) {
  TestMember alice;
  alice.AppendManifest();
  alice.AppendSignal(RandomPdqHex(5));
  alice.Rotate();
  alice.AppendSignal(RandomPdqHex(6));
  EXPECT_EQ(VerifyFeed(alice.feed()),
            "#1 manifest ok | #2 signal ok | #3 manifest ok | #4 signal ok");

  // After rotation, a record signed under the old manifest is refused.
  FeedState state;
  for (const auto& r : alice.feed()) AdvanceFeed(r, &state);
  pb::RecordBody body = alice.feed()[1].body;
  TestMember stale;  // any key: the manifest seq alone decides here
  auto old = BuildRecord(body, alice.signing_key(), alice.id(), 5, alice.feed().back().id, 1,
                         NowMs());
  EXPECT_EQ(VerifyNextRecord(*old, state).message(),
            "manifest seq 1 is not the author's current manifest");

  // Revocation: signed by the current key; nothing after it is accepted.
  pb::RecordBody revoke;
  revoke.mutable_manifest()->ParseFromString(
      *BuildSignedManifest(alice.member_key(), nullptr, kRevocationManifestSeq, NowMs(), 0));
  auto rev = BuildRecord(revoke, alice.signing_key(), alice.id(), 5, alice.feed().back().id, 2,
                         NowMs());
  ASSERT_TRUE(VerifyNextRecord(*rev, state).ok()) << VerifyNextRecord(*rev, state).message();
  AdvanceFeed(*rev, &state);
  auto after = BuildRecord(body, alice.signing_key(), alice.id(), 6, rev->id, 2, NowMs());
  EXPECT_EQ(VerifyNextRecord(*after, state).message(), "member key is revoked");
}

TEST_F(RecordTest, CompromisePointVoidsRecordsSignedByTheOldKeyAfterIt) {
  TestMember alice;
  alice.AppendManifest();                        // #1
  alice.AppendSignal(RandomPdqHex(1));           // #2 before the point: stays valid
  alice.AppendSignal(RandomPdqHex(2));           // #3 after it: void
  alice.AppendSignal(RandomPdqHex(3));           // #4 after it: void
  alice.Rotate(/*compromised_after=*/2);         // #5 new key
  alice.AppendSignal(RandomPdqHex(4));           // #6 new key: valid
  EXPECT_EQ(VerifyFeed(alice.feed()),
            "#1 manifest ok | #2 signal ok | #3 signal ok | #4 signal ok | #5 manifest ok | "
            "#6 signal ok");
  FeedState state;
  for (const auto& r : alice.feed()) AdvanceFeed(r, &state);
  std::vector<bool> void_flags;
  for (const auto& r : alice.feed()) void_flags.push_back(IsVoid(r, state.manifests));
  EXPECT_EQ(void_flags, (std::vector<bool>{false, false, true, true, false, false}));
}

TEST_F(RecordTest, CompromisePointMustBeBeforeTheManifestRecord) {
  TestMember alice;
  alice.AppendManifest();
  alice.AppendSignal(RandomPdqHex(1));
  FeedState state;
  for (const auto& r : alice.feed()) AdvanceFeed(r, &state);
  SecretKey next = SecretKey::Generate();
  pb::RecordBody body;
  body.mutable_manifest()->ParseFromString(
      *BuildSignedManifest(alice.member_key(), &next, 2, NowMs(), /*compromised_after=*/3));
  auto rotation = BuildRecord(body, next, alice.id(), 3, alice.feed().back().id, 2, NowMs());
  EXPECT_EQ(VerifyNextRecord(*rotation, state).message(),
            "compromise point 3 is not before the manifest record (seq 3)");
}

TEST_F(RecordTest, ManifestSignedOfflineFromARequest) {
  TestMember alice;
  SecretKey next = SecretKey::Generate();
  auto request = BuildManifestRequest(next, alice.id(), 2, NowMs(), 7);
  ASSERT_TRUE(request.ok());
  // A request alone is not a manifest: the member signature is missing.
  EXPECT_FALSE(VerifySignedManifest(*request).ok());
  ManifestInfo info;
  auto signed_manifest = SignManifestRequest(alice.member_key(), *request, &info);
  ASSERT_TRUE(signed_manifest.ok()) << signed_manifest.status().message();
  EXPECT_EQ(info.seq, 2u);
  EXPECT_EQ(info.compromised_after, 7u);
  auto verified = VerifySignedManifest(*signed_manifest);
  ASSERT_TRUE(verified.ok()) << verified.status().message();
  EXPECT_EQ(verified->signing_key, next.public_key());

  // Another member's key refuses; a tampered request refuses.
  TestMember bob;
  EXPECT_FALSE(SignManifestRequest(bob.member_key(), *request).ok());
  std::string tampered = *request;
  tampered[tampered.size() / 2] ^= 1;
  EXPECT_FALSE(SignManifestRequest(alice.member_key(), tampered).ok());
}

TEST_F(RecordTest, StructuralChecks) {
  pb::SignedRecord r;
  r.set_body("garbage");
  r.set_signature(std::string(64, 'x'));
  EXPECT_FALSE(ParseRecord(r).ok());
  r.set_signature("short");
  EXPECT_EQ(ParseRecord(r).status().message(), "signature is not 64 bytes");
  pb::RecordBody body;
  body.set_format(1);
  body.set_author(std::string(32, 'a'));
  body.set_seq(1);
  body.mutable_signal()->set_type(pb::SIGNAL_TYPE_PDQ);
  body.mutable_signal()->set_value("ABCD");
  r.set_body(body.SerializeAsString());
  r.set_signature(std::string(64, 'x'));
  EXPECT_EQ(ParseRecord(r).status().message(), "pdq value must be 64 hex characters, got 4");
  body.mutable_signal()->set_value(std::string(64, 'A'));
  r.set_body(body.SerializeAsString());
  EXPECT_EQ(ParseRecord(r).status().message(), "signal value is not in canonical form");
  body.set_seq(0);
  r.set_body(body.SerializeAsString());
  EXPECT_EQ(ParseRecord(r).status().message(), "seq out of range");
}

}  // namespace
}  // namespace hashmesh
