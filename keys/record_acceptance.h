// The one rule for whether a record may enter a feed: its seq and prev extend the author's head,
// the manifest it names is in force at that seq (a feed starts with a manifest, a revocation ends
// it, a compromise point lies before its manifest record), its signature verifies under that
// manifest's key, its author is in the trust store with a role that may publish its kind, and a
// retraction targets one of the author's own earlier records.
//
// The rule reads the chain through a ChainView: what is committed plus what was staged earlier in
// the batch being decided. The writer implements it over its LMDB write transaction, verify-log
// over the log it reads, so a feed verify-log accepts is accepted by every node in any batching.
// Pure functions over their arguments; thread-compatible.
#pragma once

#include <optional>
#include <string>

#include "common/record.h"
#include "common/status.h"
#include "keys/trust_store.h"

namespace hashmesh {

// Why a record is or is not accepted. The first rule broken, checked in the order listed.
enum class Verdict {
  kAccepted,
  kGap,             // seq is beyond head + 1: an earlier record is missing (not yet, not wrong)
  kBrokenChain,     // seq at or below the head, prev is not the head's id, or no manifest first
  kWrongManifest,   // names a manifest not in force, or a manifest record that does not supersede
  kBadManifest,     // a manifest record whose own signatures fail, or for another member
  kRevoked,         // the feed already ends with a revocation of its member key
  kBadSignature,    // the record's signature does not verify with the manifest's key
  kUntrusted,       // the author is not in the trust store
  kNotAllowed,      // none of the author's roles may publish this kind
  kForeignTarget,   // a retraction of a record that is not one of the author's own
  kUnreadable,      // the chain could not be read (a store error): nothing is decided
};

// "accepted", "gap", "broken_chain", ...
std::string_view VerdictName(Verdict verdict);

struct Acceptance {
  Verdict verdict = Verdict::kAccepted;
  std::string reason;  // empty when accepted

  bool ok() const { return verdict == Verdict::kAccepted; }
  // For callers that report errors as Status (the API, tools): PermissionDenied for trust, role,
  // target and revocation, Corruption for signatures, IoError for kUnreadable, else
  // InvalidArgument.
  Status ToStatus() const;
};

// What the rule reads of the chain: the committed store plus the records staged earlier in the
// batch being decided, each seen as if already committed.
class ChainView {
 public:
  virtual ~ChainView() = default;
  // The author's feed before the record being decided (head and manifests).
  virtual Result<const FeedState*> Feed(const PublicKey& author) = 0;
  // The author of the record with this id, if the chain holds it.
  virtual Result<std::optional<PublicKey>> AuthorOf(const RecordId& id) = 0;
};

// Decides whether `record` may be appended to its author's feed. Chain, manifest and signature
// first, then trust, role and target, so that a verifier learns whether the chain holds even
// for an author it does not trust.
Acceptance AcceptRecord(const ParsedRecord& record, const TrustStore& trust, ChainView& chain);

// The chain, manifest and signature part of AcceptRecord alone, for the node's own records
// (signed here, under the role the API checked) and tools that hold one feed.
Acceptance CheckFeedExtension(const ParsedRecord& record, const FeedState& feed);
// CheckFeedExtension as a Status.
Status VerifyNextRecord(const ParsedRecord& record, const FeedState& feed);

}  // namespace hashmesh
