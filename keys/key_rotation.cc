// Key rotation and revocation of a key directory.
#include "keys/key_rotation.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/clock.h"
#include "common/log.h"
#include "common/manifest.h"
#include "keys/tls_cert.h"

namespace hashmesh {
namespace {

// The next node key: the one a previous request left in node.key.next, or a new one.
Result<SecretKey> NextNodeKey(const std::string& dir) {
  const std::string path = KeyDirPath(dir, kNextNodeKeyFile);
  if (PathExists(path)) return ReadSecretKeyFile(path);
  SecretKey next = SecretKey::Generate();
  HM_RETURN_IF_ERROR(WriteSecretKeyFile(path, next));
  return next;
}

// The identity a rotation or revocation starts from; refuses once the member key is revoked.
Result<NodeIdentity> LoadForChange(const std::string& dir) {
  HM_ASSIGN_OR_RETURN(NodeIdentity identity, LoadNodeIdentity(dir));
  if (!identity.revocation_bytes.empty()) {
    return FailedPrecondition(KeyDirPath(dir, kRevocationFile) + ": member key " +
                              KeyToText(identity.member_key()) +
                              " is revoked; its keys can no longer change");
  }
  return identity;
}

// member.key of DIR, or FailedPrecondition saying what to do without it (`instead`).
Result<SecretKey> MemberKeyHere(const std::string& dir, const NodeIdentity& identity,
                                std::string_view instead) {
  if (!identity.member_key_present) {
    return FailedPrecondition(KeyDirPath(dir, kMemberKeyFile) + " is not here: " + std::string(instead));
  }
  return ReadSecretKeyFile(KeyDirPath(dir, kMemberKeyFile));
}

Status CheckCompromisePoint(uint64_t compromised_after) {
  if (compromised_after > 0xFFFFFFFFull) {
    return InvalidArgument("--compromised-after must be a feed seq (at most 4294967295)");
  }
  return Status::Ok();
}

// Writes the manifest (the commit point), then the certificate and node.key.
Status CommitRotation(const std::string& dir, std::string_view manifest) {
  HM_RETURN_IF_ERROR(WriteFileAtomic(KeyDirPath(dir, kManifestFile), manifest, kPublicFileMode,
                                     /*replace=*/true));
  return FinishInterruptedRotation(dir);
}

Result<KeyDirInfo> Reloaded(const std::string& dir) {
  HM_ASSIGN_OR_RETURN(NodeIdentity identity, LoadNodeIdentity(dir));
  return identity.Info();
}

}  // namespace

Status FinishInterruptedRotation(const std::string& dir) {
  const std::string next_path = KeyDirPath(dir, kNextNodeKeyFile);
  if (!PathExists(next_path)) return Status::Ok();
  HM_ASSIGN_OR_RETURN(std::string manifest_bytes,
                      ReadSmallFile(KeyDirPath(dir, kManifestFile), kMaxManifestFileBytes));
  auto manifest = VerifySignedManifest(manifest_bytes);
  // A manifest that does not verify is LoadNodeIdentity's to report.
  if (!manifest.ok() || manifest->revoked()) return Status::Ok();
  HM_ASSIGN_OR_RETURN(SecretKey next, ReadSecretKeyFile(next_path));
  if (manifest->signing_key != next.public_key()) return Status::Ok();  // a pending request

  HM_ASSIGN_OR_RETURN(std::string name, ReadNodeName(dir));
  HM_ASSIGN_OR_RETURN(std::string certificate, MakeSelfSignedCertificate(next, name, NowMs()));
  HM_RETURN_IF_ERROR(WriteFileAtomic(KeyDirPath(dir, kCertificateFile), certificate, kPublicFileMode,
                                     /*replace=*/true));
  HM_RETURN_IF_ERROR(WriteSecretKeyFile(KeyDirPath(dir, kNodeKeyFile), next, /*replace=*/true));
  if (unlink(next_path.c_str()) != 0 && errno != ENOENT) {
    return IoError(next_path + ": cannot remove: " + std::strerror(errno));
  }
  LogNotice("node key rotated")
      .Kv("dir", dir)
      .Kv("manifest_seq", manifest->seq)
      .Kv("signing_key", KeyToText(next.public_key()));
  return Status::Ok();
}

Result<KeyDirInfo> RotateNodeKey(const std::string& dir, uint64_t compromised_after) {
  HM_ASSIGN_OR_RETURN(NodeIdentity identity, LoadForChange(dir));
  HM_RETURN_IF_ERROR(CheckCompromisePoint(compromised_after));
  HM_ASSIGN_OR_RETURN(SecretKey member,
                      MemberKeyHere(dir, identity,
                                    "rotate with --request FILE, sign the request where the "
                                    "member key is (hashmesh-keys sign), then install it "
                                    "(hashmesh-keys install)"));
  HM_ASSIGN_OR_RETURN(SecretKey next, NextNodeKey(dir));
  HM_ASSIGN_OR_RETURN(std::string manifest,
                      BuildSignedManifest(member, &next, identity.manifest.seq + 1, NowMs(),
                                          compromised_after));
  HM_RETURN_IF_ERROR(CommitRotation(dir, manifest));
  return Reloaded(dir);
}

Result<std::string> RequestRotation(const std::string& dir, uint64_t compromised_after) {
  HM_ASSIGN_OR_RETURN(NodeIdentity identity, LoadForChange(dir));
  HM_RETURN_IF_ERROR(CheckCompromisePoint(compromised_after));
  HM_ASSIGN_OR_RETURN(SecretKey next, NextNodeKey(dir));
  return BuildManifestRequest(next, identity.member_key(), identity.manifest.seq + 1, NowMs(),
                              compromised_after);
}

Result<KeyDirInfo> InstallManifest(const std::string& dir, std::string_view manifest_bytes) {
  HM_ASSIGN_OR_RETURN(NodeIdentity identity, LoadForChange(dir));
  auto manifest = VerifySignedManifest(manifest_bytes);
  if (!manifest.ok()) return InvalidArgument("manifest: " + manifest.status().message());
  if (manifest->member_key != identity.member_key()) {
    return InvalidArgument("manifest is for member " + KeyToText(manifest->member_key) +
                           ", this node is member " + KeyToText(identity.member_key()));
  }
  if (manifest->revoked()) {
    HM_RETURN_IF_ERROR(WriteFileAtomic(KeyDirPath(dir, kRevocationFile), manifest_bytes, kPublicFileMode,
                                       /*replace=*/false));
    return Reloaded(dir);
  }
  if (manifest->seq <= identity.manifest.seq) {
    return InvalidArgument("manifest seq " + std::to_string(manifest->seq) +
                           " does not supersede this node's manifest seq " +
                           std::to_string(identity.manifest.seq));
  }
  const std::string next_path = KeyDirPath(dir, kNextNodeKeyFile);
  if (!PathExists(next_path)) {
    return FailedPrecondition(next_path + " is missing: request a rotation on this node first");
  }
  HM_ASSIGN_OR_RETURN(SecretKey next, ReadSecretKeyFile(next_path));
  if (manifest->signing_key != next.public_key()) {
    return InvalidArgument("manifest certifies signing key " + KeyToText(*manifest->signing_key) +
                           ", but " + next_path + " holds " + KeyToText(next.public_key()));
  }
  HM_RETURN_IF_ERROR(CommitRotation(dir, manifest_bytes));
  return Reloaded(dir);
}

Result<std::string> BuildRevocation(const SecretKey& member) {
  return BuildSignedManifest(member, nullptr, kRevocationManifestSeq, NowMs(),
                             /*compromised_after=*/0);
}

Result<KeyDirInfo> RevokeMemberKey(const std::string& dir) {
  HM_ASSIGN_OR_RETURN(NodeIdentity identity, LoadForChange(dir));
  HM_ASSIGN_OR_RETURN(SecretKey member,
                      MemberKeyHere(dir, identity,
                                    "build the revocation where the member key is (hashmesh-keys "
                                    "revoke --member-key FILE --out FILE), then install it "
                                    "(hashmesh-keys install)"));
  HM_ASSIGN_OR_RETURN(std::string revocation, BuildRevocation(member));
  HM_RETURN_IF_ERROR(WriteFileAtomic(KeyDirPath(dir, kRevocationFile), revocation, kPublicFileMode,
                                     /*replace=*/false));
  return Reloaded(dir);
}

}  // namespace hashmesh
