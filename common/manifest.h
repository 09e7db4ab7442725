// Manifests: a member key certifying a node signing key. A SignedManifest is signed by the member
// key and by the signing key it names (proof of possession), both over
// "hashmesh/manifest/v1\0" || body. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/crypto.h"
#include "common/status.h"

namespace hashmesh {
namespace pb {
class SignedManifest;
}

inline constexpr uint32_t kRevocationManifestSeq = 0xFFFFFFFF;

struct ManifestInfo {
  PublicKey member_key{};
  std::optional<PublicKey> signing_key;  // absent only in a revocation
  uint32_t seq = 0;
  uint64_t created_at_ms = 0;
  uint64_t compromised_after = 0;  // 0: none

  bool revoked() const { return seq == kRevocationManifestSeq; }
};

// Builds and signs a manifest. `signing` is null only for a revocation (seq must then be
// kRevocationManifestSeq).
Result<std::string> BuildSignedManifest(const SecretKey& member, const SecretKey* signing,
                                        uint32_t seq, uint64_t created_at_ms,
                                        uint64_t compromised_after);

// Parses and checks both signatures of a serialised SignedManifest.
Result<ManifestInfo> VerifySignedManifest(const pb::SignedManifest& manifest);
Result<ManifestInfo> VerifySignedManifest(std::string_view serialized);
// Reads a manifest that already passed VerifySignedManifest (one stored in a feed, or just
// checked) without checking its signatures again.
Result<ManifestInfo> ReadVerifiedManifest(const pb::SignedManifest& manifest);

}  // namespace hashmesh
