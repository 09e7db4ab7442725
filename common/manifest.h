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

// Offline signing, in two steps, so that the member key never has to be on the node:
//  1. the node builds a request: a SignedManifest whose body names the new signing key, signed
//     only by that key (proof of possession), without the member signature;
//  2. the holder of the member key checks it and adds the member signature.
Result<std::string> BuildManifestRequest(const SecretKey& signing, const PublicKey& member,
                                         uint32_t seq, uint64_t created_at_ms,
                                         uint64_t compromised_after);
// Checks a request (body, member key, proof of possession) and returns the complete serialised
// SignedManifest; `info`, if given, gets what was signed. InvalidArgument names what is wrong.
Result<std::string> SignManifestRequest(const SecretKey& member, std::string_view request,
                                        ManifestInfo* info = nullptr);

// Parses and checks both signatures of a serialised SignedManifest.
Result<ManifestInfo> VerifySignedManifest(const pb::SignedManifest& manifest);
Result<ManifestInfo> VerifySignedManifest(std::string_view serialized);
// Reads a manifest that already passed VerifySignedManifest (one stored in a feed, or just
// checked) without checking its signatures again.
Result<ManifestInfo> ReadVerifiedManifest(const pb::SignedManifest& manifest);

}  // namespace hashmesh
