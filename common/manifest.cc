// Manifest signing and verification.
#include "common/manifest.h"

#include "proto/records.pb.h"

namespace hashmesh {
namespace {

constexpr uint32_t kManifestFormat = 1;

std::string ManifestBodyBytes(const PublicKey& member, const PublicKey* signing, uint32_t seq,
                              uint64_t created_at_ms, uint64_t compromised_after) {
  pb::ManifestBody body;
  body.set_format(kManifestFormat);
  body.set_member_key(std::string(AsStringView(member)));
  if (signing != nullptr) body.set_signing_key(std::string(AsStringView(*signing)));
  body.set_seq(seq);
  body.set_created_at_ms(created_at_ms);
  body.set_compromised_after(compromised_after);
  return body.SerializeAsString();
}

}  // namespace

Result<std::string> BuildSignedManifest(const SecretKey& member, const SecretKey* signing,
                                        uint32_t seq, uint64_t created_at_ms,
                                        uint64_t compromised_after) {
  if ((signing == nullptr) != (seq == kRevocationManifestSeq)) {
    return InvalidArgument("a manifest names a signing key unless it is a revocation");
  }
  if (seq == 0) return InvalidArgument("manifest seq starts at 1");
  pb::SignedManifest signed_manifest;
  std::string body_bytes =
      ManifestBodyBytes(member.public_key(), signing ? &signing->public_key() : nullptr, seq,
                        created_at_ms, compromised_after);
  Signature member_sig = member.Sign(kManifestPurpose, body_bytes);
  signed_manifest.set_member_signature(std::string(AsStringView(member_sig)));
  if (signing != nullptr) {
    Signature signing_sig = signing->Sign(kManifestPurpose, body_bytes);
    signed_manifest.set_signing_signature(std::string(AsStringView(signing_sig)));
  }
  signed_manifest.set_body(std::move(body_bytes));
  return signed_manifest.SerializeAsString();
}

Result<std::string> BuildManifestRequest(const SecretKey& signing, const PublicKey& member,
                                         uint32_t seq, uint64_t created_at_ms,
                                         uint64_t compromised_after) {
  if (seq == 0 || seq == kRevocationManifestSeq) {
    return InvalidArgument("a key rotation needs a manifest seq from 1 to 2^32-2");
  }
  pb::SignedManifest request;
  request.set_body(
      ManifestBodyBytes(member, &signing.public_key(), seq, created_at_ms, compromised_after));
  Signature sig = signing.Sign(kManifestPurpose, request.body());
  request.set_signing_signature(std::string(AsStringView(sig)));
  return request.SerializeAsString();
}

Result<std::string> SignManifestRequest(const SecretKey& member, std::string_view request,
                                        ManifestInfo* info) {
  pb::SignedManifest manifest;
  if (!manifest.ParseFromArray(request.data(), static_cast<int>(request.size()))) {
    return InvalidArgument("manifest request does not parse");
  }
  auto read = ReadVerifiedManifest(manifest);
  if (!read.ok()) return InvalidArgument("manifest request: " + read.status().message());
  if (read->member_key != member.public_key()) {
    return InvalidArgument("manifest request is for member " + KeyToText(read->member_key) +
                           ", not for this member key (" + KeyToText(member.public_key()) + ")");
  }
  if (read->revoked()) return InvalidArgument("manifest request is a revocation");
  if (!Verify(*read->signing_key, kManifestPurpose, manifest.body(),
              manifest.signing_signature())) {
    return InvalidArgument("manifest request is not signed by the key it names");
  }
  Signature sig = member.Sign(kManifestPurpose, manifest.body());
  manifest.set_member_signature(std::string(AsStringView(sig)));
  if (info != nullptr) *info = *read;
  return manifest.SerializeAsString();
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
