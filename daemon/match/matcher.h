// Matcher: answers "does this fingerprint match anything on the shared list?" from the store and
// the PDQ index, with each matching signal's context (notices, opinions, retraction, expiry) and
// the local policy's verdict, as a MatchResult (the API renders it). Read-only; thread-safe (many
// API threads at once).
#pragma once

#include <string>
#include <vector>

#include "common/signal_value.h"
#include "daemon/match/match_result.h"
#include "daemon/match/pdq_signal_index.h"
#include "daemon/match/policy.h"
#include "daemon/storage/compromise_points.h"
#include "daemon/storage/store.h"
#include "keys/trust_store.h"

namespace hashmesh {

struct MatchSpec {
  SignalKind kind = SignalKind::kUnspecified;
  std::string value;  // canonical
  int max_distance = kDefaultPdqThreshold;
  bool include_low_quality = false;
};

class Matcher {
 public:
  // `compromise` (may be null) tells which records are void after a compromise point.
  Matcher(const Store* store, const PdqSignalIndex* index,
          const CompromisePoints* compromise = nullptr)
      : store_(store), index_(index), compromise_(compromise) {}

  Result<MatchResult> Match(const MatchSpec& spec, const TrustStore& trust,
                            const PolicyConfig& policy, uint64_t now_ms) const;

 private:
  // Whether a record that refers to the matched one (opinion, notice, retraction) still counts:
  // not void, its author not forked at or before its seq, not withdrawn by its own author.
  enum class ReferenceState { kCurrent, kVoid, kAuthorForked, kRetracted };
  Result<ReferenceState> StateOfReference(const ParsedRecord& ref) const;

  // Fills everything about one matching signal record; false if it is to be left out.
  Result<bool> Describe(const RecordLocation& loc, int distance, const MatchSpec& spec,
                        const TrustStore& trust, const PolicyConfig& policy, uint64_t now_ms,
                        MatchedSignal* match) const;

  const Store* store_;
  const PdqSignalIndex* index_;
  const CompromisePoints* compromise_;
};

}  // namespace hashmesh
