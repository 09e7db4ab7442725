// Records: building and signing a RecordBody, computing its id, parsing a SignedRecord received
// from anywhere, and applying an accepted one to its feed state. Whether a record may be
// accepted is keys/record_acceptance.h.
// The body bytes are kept exactly as signed: nothing is re-serialised before verification.
// Pure functions over values; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "common/manifest.h"
#include "common/record_kind.h"
#include "common/status.h"
#include "proto/records.pb.h"

namespace hashmesh {

inline constexpr uint32_t kRecordFormat = 1;
inline constexpr size_t kMaxRecordBytes = 256 * 1024;  // body + signature, well under a frame


// A SignedRecord whose body parsed and passed the structural checks.
struct ParsedRecord {
  pb::SignedRecord signed_record;  // exactly as received / produced
  pb::RecordBody body;             // parsed from signed_record.body()
  RecordId id{};
  PublicKey author{};
  RecordKind kind = RecordKind::kSignal;
  std::optional<RecordId> prev;    // absent for seq 1
  // Set only by code that has just checked the signature with this key (the writer's parallel
  // pre-check), so the acceptance rule (keys/record_acceptance.h) need not do it again.
  std::optional<PublicKey> verified_key;

  uint64_t seq() const { return body.seq(); }
  // "alice#3 signal pdq:5feb..." style one-liner for logs and tests (author abbreviated).
  std::string DebugString() const;
};

RecordId ComputeRecordId(std::string_view body);

// Parses and checks structure: format, author and prev sizes, seq range (1 .. 2^32-1), a kind set,
// canonical signal values, ids of the right size. Does not check signatures or the chain.
Result<ParsedRecord> ParseRecord(pb::SignedRecord signed_record);
Result<ParsedRecord> ParseRecordBytes(std::string_view serialized);

// The fingerprints a record carries, for matching: a signal record's own, or the inline
// signals among a notice's targets (each distinct type and value once, in target order).
// Empty for other kinds. The pointers point into `body`.
std::vector<const pb::Signal*> Fingerprints(const pb::RecordBody& body);

// Fills the header fields of `body` and returns the bytes to sign (what BuildRecord signs; tools
// that sign many records on several threads use it directly).
std::string SealRecordBody(pb::RecordBody body, const PublicKey& author, uint64_t seq,
                           const std::optional<RecordId>& prev, uint32_t manifest_seq,
                           uint64_t created_at_ms);

// Builds, signs and parses a record. `body` must have its kind set; author, seq, prev,
// manifest_seq and created_at_ms are filled in here.
Result<ParsedRecord> BuildRecord(pb::RecordBody body, const SecretKey& signing_key,
                                 const PublicKey& author, uint64_t seq,
                                 const std::optional<RecordId>& prev, uint32_t manifest_seq,
                                 uint64_t created_at_ms);

// What a verifier must know about an author's feed to accept its next record.
struct FeedState {
  uint64_t head_seq = 0;
  RecordId head_id{};
  std::map<uint32_t, ManifestInfo> manifests;  // by manifest seq, from the feed's manifest records

  // The feed ends with a revocation of its member key: nothing may follow it.
  bool revoked() const { return !manifests.empty() && manifests.rbegin()->second.revoked(); }
};

// Applies an accepted record to the feed state (head, and the manifest it carries).
void AdvanceFeed(const ParsedRecord& record, FeedState* feed);

// A compromise point: a manifest with compromised_after = N voids its author's records with feed
// seq > N that were signed under an older manifest (by the superseded key). Manifest records are
// never void: the member key signed them. A void record stays in the feed (the hash chain needs
// it) but counts for nothing: no match, no support, no dispute, no retraction.
bool VoidedBy(const ParsedRecord& record, const ManifestInfo& manifest);
bool IsVoid(const ParsedRecord& record, const std::map<uint32_t, ManifestInfo>& manifests);

}  // namespace hashmesh
