// What the matcher found, before any rendering: each matching fingerprint with its record, its
// context (notices, opinions, state) and the facts given to the policy, then the verdict. The API
// renders it as api.MatchResponse (daemon/api/match_response.h). Plain data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/record.h"
#include "common/signal_state.h"
#include "common/signal_value.h"
#include "daemon/match/policy.h"

namespace hashmesh {

// Opinions on the matched record, by stance; the platform counts are distinct platform members.
struct OpinionTally {
  uint32_t endorse = 0;
  uint32_t dispute = 0;
  uint32_t seen = 0;
  uint32_t acted = 0;
  uint32_t platform_endorse = 0;
  uint32_t platform_dispute = 0;
};

struct MatchedSignal {
  ParsedRecord record;    // the signal record, or the notice that carries the fingerprint inline
  pb::Signal signal;      // the fingerprint that matched
  bool in_notice = false;
  int distance = 0;
  SignalKind query_kind = SignalKind::kUnspecified;
  std::string author_name;
  std::string author_role;  // the author's first role in the trust store
  SignalStateFacts state_facts;
  SignalState state = SignalState::kCurrent;
  bool author_forked = false;
  // Notices that target it, in store order; for a fingerprint in a notice, that notice first.
  // A retracted notice is listed (so that a platform sees it was withdrawn) but counts for nothing.
  struct Notice {
    ParsedRecord record;
    bool retracted = false;
  };
  std::vector<Notice> notices;
  OpinionTally opinions;
  MatchFacts facts;  // what the policy was told
};

struct MatchResult {
  std::vector<MatchedSignal> matches;  // nearest first, then by author and seq
  Decision decision;
};

}  // namespace hashmesh
