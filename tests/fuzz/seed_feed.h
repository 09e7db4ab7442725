// The feeds behind the fuzz seeds: two members' feeds of every record kind, signed with fixed
// keys at fixed times, so that seeds (fuzz_make_seeds) and the store fuzz_http_request serves
// agree on record ids. Test-only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/manifest.h"
#include "common/record.h"
#include "tests/support/test_member.h"

namespace hashmesh::fuzz {

constexpr uint64_t kTime = 1'760'000'000'000;  // fixed, so the seeds do not change

inline SecretKey Key(uint8_t n) {
  Seed seed{};
  seed.fill(n);
  return SecretKey::FromSeed(seed);
}

// One member's feed with fixed keys and times: TestMember's deterministic form.
using Feed = testing::TestMember;

inline Feed MakeFeed(uint8_t n) { return Feed(Key(n), Key(n + 100), kTime); }

inline pb::RecordBody SeedSignal(pb::SignalType type, const std::string& value) {
  pb::RecordBody body;
  body.mutable_signal()->set_type(type);
  body.mutable_signal()->set_value(value);
  body.mutable_signal()->add_labels("terrorism/glorification");
  body.mutable_signal()->set_quality(90);
  return body;
}

struct SeedFeeds {
  Feed alice = MakeFeed(1);     // every record kind, a key rotation, then a revocation
  Feed bob = MakeFeed(2);       // a manifest and a PDQ signal
  Feed bob_fork = MakeFeed(2);  // bob's keys: its record 2 forks bob's feed
  RecordId signal_id{};  // alice's PDQ signal, the target of her opinion, notice, retraction
};

inline constexpr char kSeedPdq[] =
    "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22";

inline SeedFeeds BuildSeedFeeds() {
  SeedFeeds f;
  Feed& alice = f.alice;
  Feed& bob = f.bob;
  Feed& bob_fork = f.bob_fork;
  const std::string pdq = kSeedPdq;

  alice.AppendManifest();
  const RecordId signal_id = alice.Append(SeedSignal(pb::SIGNAL_TYPE_PDQ, pdq)).id;
  alice.Append(SeedSignal(pb::SIGNAL_TYPE_MD5, "0123456789abcdef0123456789abcdef"));
  alice.Append(SeedSignal(pb::SIGNAL_TYPE_URL, "https://example.com/a"));
  {
    pb::RecordBody body;
    body.mutable_opinion()->set_target(std::string(AsStringView(signal_id)));
    body.mutable_opinion()->set_stance(pb::STANCE_ENDORSE);
    body.mutable_opinion()->set_reason("seen it");
    alice.Append(std::move(body));
  }
  {
    pb::RecordBody body;
    pb::Notice* n = body.mutable_notice();
    n->add_targets()->set_record_id(std::string(AsStringView(signal_id)));
    n->set_category("terrorism");
    n->set_jurisdiction("FR");
    n->set_legal_basis("TCO Art. 3");
    n->set_issuing_body("Authority");
    n->set_requested_action(pb::REQUESTED_ACTION_REMOVE);
    alice.Append(std::move(body));
  }
  {
    pb::RecordBody body;
    body.mutable_retraction()->set_target(std::string(AsStringView(signal_id)));
    body.mutable_retraction()->set_reason("mistake");
    alice.Append(std::move(body));
  }
  alice.Rotate(/*compromised_after=*/3, /*next=*/Key(152));
  alice.Append(SeedSignal(pb::SIGNAL_TYPE_SHA256,
                          "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"));
  alice.Revoke();

  bob.AppendManifest();
  bob.Append(SeedSignal(pb::SIGNAL_TYPE_PDQ, pdq));
  bob_fork.AppendManifest();
  bob_fork.Append(SeedSignal(pb::SIGNAL_TYPE_MD5, "0123456789abcdef0123456789abcdef"));
  f.signal_id = signal_id;
  return f;
}

}  // namespace hashmesh::fuzz
