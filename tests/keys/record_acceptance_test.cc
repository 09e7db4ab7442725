// The one record-acceptance rule: a small feed per member, one rule broken per case.
#include "keys/record_acceptance.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>

#include "tests/support/test_member.h"
#include "tests/support/test_trust.h"

namespace hashmesh {
namespace {

using testing::RandomPdqHex;
using testing::TestMember;

// A chain held in memory: what a store would hold committed, plus what a batch staged.
class MemoryChain : public ChainView {
 public:
  void Append(const ParsedRecord& r) {
    AdvanceFeed(r, &feeds_[r.author]);
    authors_[r.id] = r.author;
  }
  Result<const FeedState*> Feed(const PublicKey& author) override { return &feeds_[author]; }
  Result<std::optional<PublicKey>> AuthorOf(const RecordId& id) override {
    auto it = authors_.find(id);
    if (it == authors_.end()) return std::optional<PublicKey>();
    return std::optional<PublicKey>(it->second);
  }

 private:
  std::map<PublicKey, FeedState> feeds_;
  std::map<RecordId, PublicKey> authors_;
};

// A chain view whose store fails.
class BrokenChain : public ChainView {
 public:
  Result<const FeedState*> Feed(const PublicKey&) override { return IoError("disk"); }
  Result<std::optional<PublicKey>> AuthorOf(const RecordId&) override { return IoError("disk"); }
};

// alice and bob are platforms, carol an auditor, mallory is not trusted. alice and bob have
// published a manifest and one signal each, carol her manifest.
struct World {
  TestMember alice, bob, carol, mallory;
  MemoryChain chain;
  TrustStore trust;
  ParsedRecord alice_signal, bob_signal;

  World() {
    trust = testing::TrustFor({{"alice", &alice}, {"bob", &bob}});
    TrustMember auditor{"carol", carol.id(), {Role::kAuditor}, ""};
    EXPECT_TRUE(trust.Add(auditor).ok());
    for (TestMember* m : {&alice, &bob, &carol, &mallory}) chain.Append(m->AppendManifest());
    alice_signal = alice.AppendSignal(RandomPdqHex(1));
    bob_signal = bob.AppendSignal(RandomPdqHex(2));
    chain.Append(alice_signal);
    chain.Append(bob_signal);
  }
  // alice's next record with the header fields given (not appended to her feed).
  ParsedRecord AliceAt(uint64_t seq, std::optional<RecordId> prev, uint32_t manifest_seq,
                       const SecretKey* key = nullptr) {
    pb::RecordBody body;
    body.mutable_signal()->set_type(pb::SIGNAL_TYPE_PDQ);
    body.mutable_signal()->set_value(RandomPdqHex(99));
    return *BuildRecord(body, key ? *key : alice.signing_key(), alice.id(), seq, prev,
                        manifest_seq, NowMs());
  }
  RecordId AliceHead() const { return alice.feed().back().id; }
};

struct Case {
  const char* name;
  // Builds the record to decide; may stage records before it in w.chain.
  std::function<ParsedRecord(World& w)> record;
  Verdict expected;
};

const Case kCases[] = {
    {"next signal", [](World& w) { return w.alice.AppendSignal(RandomPdqHex(3)); },
     Verdict::kAccepted},
    {"gap", [](World& w) { return w.AliceAt(4, w.AliceHead(), 1); }, Verdict::kGap},
    {"seq at the head", [](World& w) { return w.AliceAt(2, w.alice.feed()[0].id, 1); },
     Verdict::kBrokenChain},
    {"prev is not the head", [](World& w) { return w.AliceAt(3, w.alice.feed()[0].id, 1); },
     Verdict::kBrokenChain},
    {"feed without a manifest first",
     [](World&) {
       TestMember dave;
       return dave.AppendSignal(RandomPdqHex(4));
     },
     Verdict::kBrokenChain},
    {"unknown manifest seq", [](World& w) { return w.AliceAt(3, w.AliceHead(), 7); },
     Verdict::kWrongManifest},
    {"signed by another key",
     [](World& w) { return w.AliceAt(3, w.AliceHead(), 1, &w.bob.signing_key()); },
     Verdict::kBadSignature},
    {"manifest of another member",
     [](World& w) {
       pb::RecordBody body;
       body.mutable_manifest()->ParseFromString(w.bob.manifest());
       return *BuildRecord(body, w.alice.signing_key(), w.alice.id(), 3, w.AliceHead(), 1,
                           NowMs());
     },
     Verdict::kBadManifest},
    {"rotation", [](World& w) { return w.alice.Rotate(); }, Verdict::kAccepted},
    {"rotation that does not supersede",
     [](World& w) {
       pb::RecordBody body;
       body.mutable_manifest()->ParseFromString(w.alice.manifest());
       return w.alice.Append(body);
     },
     Verdict::kWrongManifest},
    {"compromise point not before its manifest record",
     [](World& w) { return w.alice.Rotate(/*compromised_after=*/3); }, Verdict::kWrongManifest},
    {"old key after a rotation",
     [](World& w) {
       SecretKey old = SecretKey::FromSeed(w.alice.signing_key().seed());
       w.chain.Append(w.alice.Rotate());
       return w.AliceAt(4, w.AliceHead(), 1, &old);
     },
     Verdict::kWrongManifest},
    {"after the revocation",
     [](World& w) {
       w.chain.Append(w.alice.Revoke());
       return w.alice.AppendSignal(RandomPdqHex(5));
     },
     Verdict::kRevoked},
    {"untrusted author", [](World& w) { return w.mallory.AppendSignal(RandomPdqHex(6)); },
     Verdict::kUntrusted},
    {"auditor publishes a signal", [](World& w) { return w.carol.AppendSignal(RandomPdqHex(7)); },
     Verdict::kNotAllowed},
    {"auditor publishes an opinion",
     [](World& w) { return w.carol.AppendOpinion(w.alice_signal.id, pb::STANCE_DISPUTE); },
     Verdict::kAccepted},
    {"retraction of an own record",
     [](World& w) { return w.alice.AppendRetraction(w.alice_signal.id); }, Verdict::kAccepted},
    {"retraction of a record staged just before",
     [](World& w) {
       ParsedRecord signal = w.alice.AppendSignal(RandomPdqHex(8));
       w.chain.Append(signal);
       return w.alice.AppendRetraction(signal.id);
     },
     Verdict::kAccepted},
    {"retraction of another member's record",
     [](World& w) { return w.alice.AppendRetraction(w.bob_signal.id); }, Verdict::kForeignTarget},
    {"retraction of an unknown record",
     [](World& w) { return w.alice.AppendRetraction(RecordId{}); }, Verdict::kForeignTarget},
};

TEST(RecordAcceptanceTest, OneRuleBrokenPerCase) {
  ASSERT_TRUE(InitCrypto());
  for (const Case& c : kCases) {
    World w;
    ParsedRecord record = c.record(w);
    Acceptance a = AcceptRecord(record, w.trust, w.chain);
    EXPECT_EQ(VerdictName(a.verdict), VerdictName(c.expected)) << c.name << ": " << a.reason;
    EXPECT_EQ(a.reason.empty(), a.ok()) << c.name;
  }
}

TEST(RecordAcceptanceTest, ReasonsNameWhatIsWrong) {
  ASSERT_TRUE(InitCrypto());
  World w;
  EXPECT_EQ(AcceptRecord(w.carol.AppendSignal(RandomPdqHex(7)), w.trust, w.chain).reason,
            "member carol (auditor) may not publish a signal");
  EXPECT_EQ(AcceptRecord(w.alice.AppendRetraction(w.bob_signal.id), w.trust, w.chain).reason,
            "retracts " + ToHex(w.bob_signal.id) +
                ", which is not one of the author's own earlier records");
}

TEST(RecordAcceptanceTest, AStoreErrorDecidesNothing) {
  ASSERT_TRUE(InitCrypto());
  World w;
  BrokenChain broken;
  Acceptance a = AcceptRecord(w.alice.AppendSignal(RandomPdqHex(3)), w.trust, broken);
  EXPECT_EQ(a.verdict, Verdict::kUnreadable);
  EXPECT_EQ(a.ToStatus().code(), StatusCode::kIoError);
}

// A record the writer's parallel pre-check verified needs no second signature check, but only
// under the key that pre-check used.
TEST(RecordAcceptanceTest, PreverifiedKeyMustBeTheManifestKey) {
  ASSERT_TRUE(InitCrypto());
  World w;
  ParsedRecord forged = w.AliceAt(3, w.AliceHead(), 1, &w.bob.signing_key());
  forged.verified_key = w.bob.signing_key().public_key();
  EXPECT_EQ(AcceptRecord(forged, w.trust, w.chain).verdict, Verdict::kBadSignature);
}

}  // namespace
}  // namespace hashmesh
