// Manifest signing and verification.
#include "common/manifest.h"

#include "proto/records.pb.h"

namespace hashmesh {
namespace {

constexpr uint32_t kManifestFormat = 1;


}  // namespace

Result<std::string> BuildSignedManifest(const SecretKey& member, const SecretKey* signing,
                                        uint32_t seq, uint64_t created_at_ms,
                                        uint64_t compromised_after) {
  if ((signing == nullptr) != (seq == kRevocationManifestSeq)) {
    return InvalidArgument("a manifest names a signing key unless it is a revocation");
  }
  if (seq == 0) return InvalidArgument("manifest seq starts at 1");
  pb::ManifestBody body;
  body.set_format(kManifestFormat);
  body.set_member_key(std::string(AsStringView(member.public_key())));
  if (signing != nullptr) body.set_signing_key(std::string(AsStringView(signing->public_key())));
  body.set_seq(seq);
  body.set_created_at_ms(created_at_ms);
  body.set_compromised_after(compromised_after);
  pb::SignedManifest signed_manifest;
  std::string body_bytes = body.SerializeAsString();
  Signature member_sig = member.Sign(kManifestPurpose, body_bytes);
  signed_manifest.set_member_signature(std::string(AsStringView(member_sig)));
  if (signing != nullptr) {
    Signature signing_sig = signing->Sign(kManifestPurpose, body_bytes);
    signed_manifest.set_signing_signature(std::string(AsStringView(signing_sig)));
  }
  signed_manifest.set_body(std::move(body_bytes));
  return signed_manifest.SerializeAsString();
}

Result<ManifestInfo> ReadVerifiedManifest(const pb::SignedManifest& manifest) {
  pb::ManifestBody body;
  if (!body.ParseFromString(manifest.body())) return Corruption("manifest body does not parse");
  if (body.format() != kManifestFormat) {
    return Corruption("unknown manifest format " + std::to_string(body.format()));
  }
  ManifestInfo info;
  auto member = Bytes32(body.member_key(), "manifest member key");
  if (!member.ok()) return Corruption(member.status().message());
  info.member_key = *member;
  info.seq = body.seq();
  info.created_at_ms = body.created_at_ms();
  info.compromised_after = body.compromised_after();
  if (info.seq == 0) return Corruption("manifest seq 0");
  if (info.revoked()) {
    if (!body.signing_key().empty()) return Corruption("revocation names a signing key");
    return info;
  }
  auto signing = Bytes32(body.signing_key(), "manifest signing key");
  if (!signing.ok()) return Corruption(signing.status().message());
  info.signing_key = *signing;
  return info;
}

Result<ManifestInfo> VerifySignedManifest(const pb::SignedManifest& manifest) {
  HM_ASSIGN_OR_RETURN(ManifestInfo info, ReadVerifiedManifest(manifest));
  if (!Verify(info.member_key, kManifestPurpose, manifest.body(), manifest.member_signature())) {
    return Corruption("manifest member signature does not verify");
  }
  if (info.signing_key && !Verify(*info.signing_key, kManifestPurpose, manifest.body(),
                                  manifest.signing_signature())) {
    return Corruption("manifest signing-key signature does not verify");
  }
  return info;
}

Result<ManifestInfo> VerifySignedManifest(std::string_view serialized) {
  pb::SignedManifest manifest;
  if (!manifest.ParseFromArray(serialized.data(), static_cast<int>(serialized.size()))) {
    return Corruption("manifest does not parse");
  }
  return VerifySignedManifest(manifest);
}

}  // namespace hashmesh
