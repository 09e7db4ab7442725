// Record construction, parsing and feed state.
#include "common/record.h"

#include <algorithm>
#include <set>
#include <string_view>

#include "common/hex.h"
#include "common/signal_value.h"

namespace hashmesh {
namespace {

Status CheckRecordId(const std::string& id, const char* what) {
  if (id.size() != 32) return Corruption(std::string(what) + " is not a 32-byte record id");
  return Status::Ok();
}

Status CheckSignal(const pb::Signal& signal) {
  int type = static_cast<int>(signal.type());
  if (type <= 0 || type > kMaxSignalKind) return Corruption("unknown signal type");
  auto canonical = CanonicalSignalValue(static_cast<SignalKind>(type), signal.value());
  if (!canonical.ok()) return Corruption(canonical.status().message());
  if (*canonical != signal.value()) return Corruption("signal value is not in canonical form");
  if (signal.has_quality() && signal.quality() > 100) return Corruption("quality over 100");
  return Status::Ok();
}

Status CheckKind(const pb::RecordBody& body) {
  switch (body.kind_case()) {
    case pb::RecordBody::kSignal: return CheckSignal(body.signal());
    case pb::RecordBody::kNotice: {
      if (body.notice().targets_size() == 0) return Corruption("notice without targets");
      for (const auto& t : body.notice().targets()) {
        if (t.has_signal()) {
          HM_RETURN_IF_ERROR(CheckSignal(t.signal()));
        } else {
          HM_RETURN_IF_ERROR(CheckRecordId(t.record_id(), "notice target"));
        }
      }
      return Status::Ok();
    }
    case pb::RecordBody::kOpinion:
      if (body.opinion().stance() == pb::STANCE_UNSPECIFIED) return Corruption("opinion stance");
      return CheckRecordId(body.opinion().target(), "opinion target");
    case pb::RecordBody::kRetraction:
      return CheckRecordId(body.retraction().target(), "retraction target");
    case pb::RecordBody::kManifest: return Status::Ok();  // verified against the feed
    case pb::RecordBody::KIND_NOT_SET: break;
  }
  return Corruption("record kind not set or unknown");
}

RecordKind KindOf(const pb::RecordBody& body) {
  switch (body.kind_case()) {
    case pb::RecordBody::kNotice: return RecordKind::kNotice;
    case pb::RecordBody::kOpinion: return RecordKind::kOpinion;
    case pb::RecordBody::kRetraction: return RecordKind::kRetraction;
    case pb::RecordBody::kManifest: return RecordKind::kManifest;
    default: return RecordKind::kSignal;
  }
}

}  // namespace

std::string ParsedRecord::DebugString() const {
  std::string s = ToHex(author).substr(0, 8) + "#" + std::to_string(seq()) + " " +
                  std::string(RecordKindName(kind));
  switch (kind) {
    case RecordKind::kSignal:
      s += " " + std::string(SignalKindName(static_cast<SignalKind>(body.signal().type()))) + ":" +
           body.signal().value().substr(0, 12);
      break;
    case RecordKind::kOpinion: s += " " + ToHex(body.opinion().target()).substr(0, 12); break;
    case RecordKind::kRetraction: s += " " + ToHex(body.retraction().target()).substr(0, 12); break;
    default: break;
  }
  return s;
}

RecordId ComputeRecordId(std::string_view body) {
  return Sha256WithPurpose(kRecordIdPurpose, AsBytes(body));
}

Result<ParsedRecord> ParseRecord(pb::SignedRecord signed_record) {
  if (signed_record.ByteSizeLong() > kMaxRecordBytes) return Corruption("record over 256 KiB");
  if (signed_record.signature().size() != 64) return Corruption("signature is not 64 bytes");
  ParsedRecord r;
  if (!r.body.ParseFromString(signed_record.body())) return Corruption("record body does not parse");
  if (r.body.format() != kRecordFormat) {
    return Corruption("unknown record format " + std::to_string(r.body.format()));
  }
  if (r.body.author().size() != 32) return Corruption("author is not a 32-byte key");
  if (r.body.seq() == 0 || r.body.seq() > 0xFFFFFFFFull) return Corruption("seq out of range");
  if (r.body.seq() == 1) {
    if (!r.body.prev().empty()) return Corruption("seq 1 with a prev");
  } else {
    HM_RETURN_IF_ERROR(CheckRecordId(r.body.prev(), "prev"));
    RecordId prev;
    std::copy(r.body.prev().begin(), r.body.prev().end(), prev.begin());
    r.prev = prev;
  }
  HM_RETURN_IF_ERROR(CheckKind(r.body));
  std::copy(r.body.author().begin(), r.body.author().end(), r.author.begin());
  r.kind = KindOf(r.body);
  r.id = ComputeRecordId(signed_record.body());
  r.signed_record = std::move(signed_record);
  return r;
}

Result<ParsedRecord> ParseRecordBytes(std::string_view serialized) {
  if (serialized.size() > kMaxRecordBytes) return Corruption("record over 256 KiB");
  pb::SignedRecord signed_record;
  if (!signed_record.ParseFromArray(serialized.data(), static_cast<int>(serialized.size()))) {
    return Corruption("record does not parse");
  }
  return ParseRecord(std::move(signed_record));
}

std::string SealRecordBody(pb::RecordBody body, const PublicKey& author, uint64_t seq,
                           const std::optional<RecordId>& prev, uint32_t manifest_seq,
                           uint64_t created_at_ms) {
  body.set_format(kRecordFormat);
  body.set_author(std::string(AsStringView(author)));
  body.set_seq(seq);
  if (prev) body.set_prev(std::string(AsStringView(*prev)));
  body.set_manifest_seq(manifest_seq);
  body.set_created_at_ms(created_at_ms);
  return body.SerializeAsString();
}

Result<ParsedRecord> BuildRecord(pb::RecordBody body, const SecretKey& signing_key,
                                 const PublicKey& author, uint64_t seq,
                                 const std::optional<RecordId>& prev, uint32_t manifest_seq,
                                 uint64_t created_at_ms) {
  pb::SignedRecord signed_record;
  signed_record.set_body(
      SealRecordBody(std::move(body), author, seq, prev, manifest_seq, created_at_ms));
  Signature sig = signing_key.Sign(kRecordPurpose, signed_record.body());
  signed_record.set_signature(std::string(AsStringView(sig)));
  return ParseRecord(std::move(signed_record));
}

void AdvanceFeed(const ParsedRecord& record, FeedState* feed) {
  feed->head_seq = record.seq();
  feed->head_id = record.id;
  if (record.kind == RecordKind::kManifest) {
    // The acceptance rule has checked its signatures.
    if (auto info = ReadVerifiedManifest(record.body.manifest()); info.ok()) {
      feed->manifests[info->seq] = *info;
    }
  }
}

bool VoidedBy(const ParsedRecord& record, const ManifestInfo& manifest) {
  return manifest.compromised_after != 0 && record.kind != RecordKind::kManifest &&
         record.seq() > manifest.compromised_after &&
         record.body.manifest_seq() < manifest.seq;
}

std::vector<const pb::Signal*> Fingerprints(const pb::RecordBody& body) {
  std::vector<const pb::Signal*> out;
  if (body.has_signal()) {
    out.push_back(&body.signal());
  } else if (body.has_notice()) {
    // A peer's notice may carry thousands of targets (a record is up to 256 KiB): a set, not a
    // scan of what was kept, finds the repeated ones.
    std::set<std::pair<int, std::string_view>> seen;
    for (const auto& target : body.notice().targets()) {
      if (!target.has_signal()) continue;
      const pb::Signal& s = target.signal();
      if (seen.emplace(s.type(), s.value()).second) out.push_back(&s);
    }
  }
  return out;
}

bool IsVoid(const ParsedRecord& record, const std::map<uint32_t, ManifestInfo>& manifests) {
  for (const auto& [seq, manifest] : manifests) {
    if (VoidedBy(record, manifest)) return true;
  }
  return false;
}

}  // namespace hashmesh
