// The record-acceptance rule: chain, manifest, signature, trust, role, retraction target.
#include "keys/record_acceptance.h"

#include <algorithm>

namespace hashmesh {
namespace {

Acceptance Refuse(Verdict verdict, std::string reason) { return {verdict, std::move(reason)}; }

std::string RolesText(const TrustMember& m) {
  std::string out;
  for (Role r : m.roles) out += (out.empty() ? "" : ", ") + std::string(RoleName(r));
  return out;
}

}  // namespace

std::string_view VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kAccepted: return "accepted";
    case Verdict::kGap: return "gap";
    case Verdict::kBrokenChain: return "broken_chain";
    case Verdict::kWrongManifest: return "wrong_manifest";
    case Verdict::kBadManifest: return "bad_manifest";
    case Verdict::kRevoked: return "revoked";
    case Verdict::kBadSignature: return "bad_signature";
    case Verdict::kUntrusted: return "untrusted";
    case Verdict::kNotAllowed: return "not_allowed";
    case Verdict::kForeignTarget: return "foreign_target";
    case Verdict::kUnreadable: return "unreadable";
  }
  return "unknown";
}

Status Acceptance::ToStatus() const {
  switch (verdict) {
    case Verdict::kAccepted: return Status::Ok();
    case Verdict::kRevoked:
    case Verdict::kUntrusted:
    case Verdict::kNotAllowed:
    case Verdict::kForeignTarget: return PermissionDenied(reason);
    case Verdict::kBadManifest:
    case Verdict::kBadSignature: return Corruption(reason);
    case Verdict::kUnreadable: return IoError(reason);
    case Verdict::kGap:
    case Verdict::kBrokenChain:
    case Verdict::kWrongManifest: break;
  }
  return InvalidArgument(reason);
}

Acceptance CheckFeedExtension(const ParsedRecord& record, const FeedState& feed) {
  if (record.seq() > feed.head_seq + 1) {
    return Refuse(Verdict::kGap, "seq " + std::to_string(record.seq()) +
                                     " does not extend head " + std::to_string(feed.head_seq));
  }
  if (record.seq() != feed.head_seq + 1) {
    return Refuse(Verdict::kBrokenChain, "seq " + std::to_string(record.seq()) +
                                             " does not extend head " +
                                             std::to_string(feed.head_seq));
  }
  if (record.seq() > 1 && *record.prev != feed.head_id) {
    return Refuse(Verdict::kBrokenChain,
                  "prev does not match the id of record " + std::to_string(feed.head_seq));
  }
  // The signing manifest is the feed's current one; a manifest record that rotates the key is
  // signed by the new key it carries, and a revocation by the key it ends.
  const uint32_t manifest_seq = record.body.manifest_seq();
  const ManifestInfo* current = feed.manifests.empty() ? nullptr : &feed.manifests.rbegin()->second;
  if (current != nullptr && current->revoked()) {
    return Refuse(Verdict::kRevoked, "member key is revoked");
  }
  std::optional<ManifestInfo> carried;
  if (record.kind == RecordKind::kManifest) {
    auto info = VerifySignedManifest(record.body.manifest());
    if (!info.ok()) return Refuse(Verdict::kBadManifest, info.status().message());
    if (info->member_key != record.author) {
      return Refuse(Verdict::kBadManifest, "manifest is for another member");
    }
    if (current != nullptr && info->seq <= current->seq) {
      return Refuse(Verdict::kWrongManifest, "manifest seq " + std::to_string(info->seq) +
                                                 " does not supersede the current one");
    }
    // Void rule: a compromise point voids records after it, never the manifest naming it.
    if (info->compromised_after >= record.seq()) {
      return Refuse(Verdict::kWrongManifest,
                    "compromise point " + std::to_string(info->compromised_after) +
                        " is not before the manifest record (seq " +
                        std::to_string(record.seq()) + ")");
    }
    carried = *info;
  } else if (record.seq() == 1) {
    return Refuse(Verdict::kBrokenChain, "a feed must start with a manifest record");
  }
  const ManifestInfo* manifest = nullptr;
  if (carried && !carried->revoked()) {
    if (manifest_seq != carried->seq) {
      return Refuse(Verdict::kWrongManifest,
                    "a manifest record must be signed by the key it certifies");
    }
    manifest = &*carried;
  } else if (current != nullptr && manifest_seq == current->seq) {
    manifest = current;
  }
  if (manifest == nullptr) {
    return Refuse(Verdict::kWrongManifest, "manifest seq " + std::to_string(manifest_seq) +
                                               " is not the author's current manifest");
  }
  if (record.verified_key == manifest->signing_key) return {};
  if (!Verify(*manifest->signing_key, kRecordPurpose, record.signed_record.body(),
              record.signed_record.signature())) {
    return Refuse(Verdict::kBadSignature, "signature does not verify");
  }
  return {};
}

Status VerifyNextRecord(const ParsedRecord& record, const FeedState& feed) {
  return CheckFeedExtension(record, feed).ToStatus();
}

Acceptance AcceptRecord(const ParsedRecord& record, const TrustStore& trust, ChainView& chain) {
  auto feed = chain.Feed(record.author);
  if (!feed.ok()) return Refuse(Verdict::kUnreadable, feed.status().ToString());
  if (Acceptance a = CheckFeedExtension(record, **feed); !a.ok()) return a;
  const TrustMember* author = trust.FindByKey(record.author);
  if (author == nullptr) {
    return Refuse(Verdict::kUntrusted,
                  "author " + KeyToText(record.author) + " is not in the trust store");
  }
  if (!author->MayPublish(record.kind)) {
    return Refuse(Verdict::kNotAllowed, "member " + author->name + " (" + RolesText(*author) +
                                            ") may not publish a " +
                                            std::string(RecordKindName(record.kind)));
  }
  if (record.kind == RecordKind::kRetraction) {
    RecordId target{};
    const std::string& raw = record.body.retraction().target();
    // Parsing checked the length; a ParsedRecord built any other way must not overrun `target`.
    if (raw.size() != target.size()) {
      return Refuse(Verdict::kBrokenChain, "retraction target is not a 32-byte record id");
    }
    std::copy(raw.begin(), raw.end(), target.begin());
    auto target_author = chain.AuthorOf(target);
    if (!target_author.ok()) return Refuse(Verdict::kUnreadable, target_author.status().ToString());
    if (*target_author != record.author) {
      return Refuse(Verdict::kForeignTarget,
                    "retracts " + ToHex(target) +
                        ", which is not one of the author's own earlier records");
    }
  }
  return {};
}

}  // namespace hashmesh
