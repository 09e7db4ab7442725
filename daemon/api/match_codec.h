// The /v1/match request and answer in the API's terms: an api.MatchQuery checked into a
// MatchSpec, and a MatchResult rendered as api.MatchResponse. Pure; thread-safe.
#pragma once

#include <cstdint>

#include "daemon/match/match_result.h"
#include "daemon/match/matcher.h"
#include "daemon/match/policy.h"
#include "keys/trust_store.h"
#include "proto/api.pb.h"

namespace hashmesh {

// Checks and canonicalises an API query against the policy's limits.
Result<MatchSpec> ParseMatchQuery(const api::MatchQuery& query, const PolicyConfig& policy);

// `now_ms` is the time the match was made at (for the notices' expired flags).
api::MatchResponse ToMatchResponse(const MatchResult& result, const TrustStore& trust,
                                   uint64_t now_ms);

}  // namespace hashmesh
