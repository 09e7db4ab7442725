// Local policy: turns what the network says about the signals that matched into this node's
// advice to its local apps, `act`, `review` or `none`, with the reasons. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <cstdint>

#include "common/signal_state.h"

namespace hashmesh {

// The [policy] table of the node's configuration (daemon/node_config.cc declares its keys).
struct PolicyConfig {
  int64_t min_platforms = 2;     // distinct platform members submitting or endorsing -> act
  int64_t max_disputes = 0;      // more platform disputes than this -> at most review
  std::vector<std::string> act_labels;  // label prefixes that may lead to act (empty: all)
  std::string authority_notice = "review";  // verdict from an authority's notice alone
  int64_t pdq_max_distance = 31;   // default and upper bound of PDQ match distance
  std::vector<std::string> ignore_members;  // member ids whose records are ignored in verdicts
};

// What the matcher found out about one matching signal.
struct MatchFacts {
  std::string signal;       // short text naming it: "pdq 5feb12ab.. by alice"
  bool author_platform = false;
  bool author_authority = false;
  bool ignored = false;     // the author is in policy.ignore_members
  SignalState state = SignalState::kCurrent;  // common/signal_state.h
  bool forked = false;      // the author equivocated at or before this record
  std::vector<std::string> platform_supporters;  // distinct platform members (names), author first
  std::vector<std::string> platform_disputers;
  std::vector<std::string> labels;
  std::vector<std::string> authority_notices;    // live notices by authorities, described
};

enum class Action { kNone = 0, kReview = 1, kAct = 2 };
std::string_view ActionName(Action action);

struct Decision {
  Action action = Action::kNone;
  std::vector<std::string> reasons;
};

Decision Decide(const PolicyConfig& policy, const std::vector<MatchFacts>& matches);

}  // namespace hashmesh
