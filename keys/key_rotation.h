// Key lifecycle of a key directory (see key_dir.h for its layout): rotating the node signing key,
// with the member key in the directory or kept offline, and revoking the member key.
//
// Files this adds to DIR:
//   node.key.next   the next node key (0600) while a rotation is under way.
//   revocation.bin  a serialised SignedManifest revoking the member key (seq 0xFFFFFFFF), 0644.
//                   The node publishes it as the last record of its feed and never publishes
//                   again.
//
// A rotation commits when manifest.bin certifying node.key.next is written; then node.crt is
// rewritten and node.key replaced. LoadNodeIdentity finishes a rotation interrupted after the
// commit, so a crash at any point leaves either the old identity or the new one.
// A running hashmeshd picks a rotation or a revocation up on reload (SIGHUP, POST /v1/reload):
// it publishes the new manifest record, signs with the new key from then on, and reconnects its
// peers over TLS with the new certificate.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/crypto.h"
#include "common/status.h"
#include "keys/key_dir.h"

namespace hashmesh {

inline constexpr std::string_view kNextNodeKeyFile = "node.key.next";
inline constexpr std::string_view kRevocationFile = "revocation.bin";

// Rotation with member.key in DIR, in one step: a new node key, a manifest with seq + 1 signed by
// the member key and the new key (naming the compromise point when `compromised_after` is not 0:
// this member's records with feed seq above it signed by the old key become void), a new
// certificate. FailedPrecondition without member.key or after a revocation.
Result<KeyDirInfo> RotateNodeKey(const std::string& dir, uint64_t compromised_after);

// Rotation with the member key kept offline, step 1 (on the node): writes node.key.next (or keeps
// the one a previous request wrote) and returns a manifest request for seq + 1, signed by the new
// key only. Step 2 is SignManifestRequest (common/manifest.h) wherever the member key is; step 3
// is InstallManifest on the node.
Result<std::string> RequestRotation(const std::string& dir, uint64_t compromised_after);

// Installs a manifest signed elsewhere: a rotation certifying node.key.next for this member with
// a seq above the current one (finishing the rotation), or a revocation of this member (kept as
// revocation.bin). InvalidArgument/FailedPrecondition say why a manifest does not fit.
Result<KeyDirInfo> InstallManifest(const std::string& dir, std::string_view manifest);

// A revocation of `member`, signed by it (serialised SignedManifest).
Result<std::string> BuildRevocation(const SecretKey& member);

// Revocation with member.key in DIR: writes revocation.bin. Irreversible once a node published it.
Result<KeyDirInfo> RevokeMemberKey(const std::string& dir);

// Finishes a rotation whose manifest.bin already certifies node.key.next (certificate, node.key);
// does nothing when there is no such rotation. Called by LoadNodeIdentity.
Status FinishInterruptedRotation(const std::string& dir);

}  // namespace hashmesh
