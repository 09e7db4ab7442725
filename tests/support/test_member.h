// A member with its keys and a feed under construction, for tests that need validly signed
// records (and ways to break them). Header-only, so that the fuzz targets use it too.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/manifest.h"
#include "common/record.h"

namespace hashmesh::testing {

class TestMember {
 public:
  TestMember() : member_(SecretKey::Generate()), signing_(SecretKey::Generate()) {
    manifest_ = *BuildSignedManifest(member_, &signing_, 1, NowMs(), 0);
  }
  // Deterministic: the given keys, manifests made at `time_ms` and record seq N at time_ms + N - 1,
  // so that the same calls give the same record ids (the fuzz seeds).
  TestMember(SecretKey member, SecretKey signing, uint64_t time_ms)
      : member_(std::move(member)), signing_(std::move(signing)), time_ms_(time_ms) {
    manifest_ = *BuildSignedManifest(member_, &signing_, 1, time_ms_, 0);
  }

  const PublicKey& id() const { return member_.public_key(); }
  const SecretKey& member_key() const { return member_; }
  const SecretKey& signing_key() const { return signing_; }
  const std::string& manifest() const { return manifest_; }
  uint32_t manifest_seq() const { return manifest_seq_; }

  // Appends a record of `body`'s kind to this member's feed (seq 1 should be Manifest()).
  ParsedRecord Append(pb::RecordBody body) {
    std::optional<RecordId> prev;
    if (!feed_.empty()) prev = feed_.back().id;
    const uint64_t created = time_ms_ != 0 ? time_ms_ + feed_.size() : NowMs();
    auto r = BuildRecord(std::move(body), signing_, id(), feed_.size() + 1, prev, manifest_seq_,
                         created);
    feed_.push_back(*r);
    return *r;
  }
  ParsedRecord AppendManifest() {
    pb::RecordBody body;
    body.mutable_manifest()->ParseFromString(manifest_);
    return Append(std::move(body));
  }
  ParsedRecord AppendSignal(const std::string& pdq_hex, const std::string& label = "test/label") {
    pb::RecordBody body;
    body.mutable_signal()->set_type(pb::SIGNAL_TYPE_PDQ);
    body.mutable_signal()->set_value(pdq_hex);
    body.mutable_signal()->add_labels(label);
    return Append(std::move(body));
  }
  ParsedRecord AppendOpinion(const RecordId& target, pb::Stance stance) {
    pb::RecordBody body;
    body.mutable_opinion()->set_target(std::string(AsStringView(target)));
    body.mutable_opinion()->set_stance(stance);
    return Append(std::move(body));
  }
  ParsedRecord AppendRetraction(const RecordId& target, const std::string& reason = "withdrawn") {
    pb::RecordBody body;
    body.mutable_retraction()->set_target(std::string(AsStringView(target)));
    body.mutable_retraction()->set_reason(reason);
    return Append(std::move(body));
  }
  // Appends the revocation of the member key (signed by the key it ends): nothing may follow.
  ParsedRecord Revoke() {
    pb::RecordBody body;
    body.mutable_manifest()->ParseFromString(
        *BuildSignedManifest(member_, nullptr, kRevocationManifestSeq, ManifestTime(), 0));
    return Append(std::move(body));
  }
  // Switches to a new signing key (`next`, else a random one) under manifest seq + 1 and appends
  // the manifest record (naming a compromise point when `compromised_after` is not 0).
  ParsedRecord Rotate(uint64_t compromised_after = 0, std::optional<SecretKey> next = {}) {
    signing_ = next ? std::move(*next) : SecretKey::Generate();
    ++manifest_seq_;
    manifest_ = *BuildSignedManifest(member_, &signing_, manifest_seq_, ManifestTime(),
                                     compromised_after);
    return AppendManifest();
  }

  const std::vector<ParsedRecord>& feed() const { return feed_; }

 private:
  uint64_t ManifestTime() const { return time_ms_ != 0 ? time_ms_ : NowMs(); }

  SecretKey member_;
  SecretKey signing_;
  uint64_t time_ms_ = 0;  // 0: the clock
  uint32_t manifest_seq_ = 1;
  std::string manifest_;
  std::vector<ParsedRecord> feed_;
};

inline std::string RandomPdqHex(uint32_t seed) {
  std::string hex;
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  const char* digits = "0123456789abcdef";
  for (int i = 0; i < 64; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    hex += digits[x & 15];
  }
  return hex;
}

}  // namespace hashmesh::testing
