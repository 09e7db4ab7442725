// Local policy: turns what the network says about the signals that matched into this node's
// advice to its local apps, `act`, `review` or `none`, with the reasons. Pure; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "daemon/node_config.h"

namespace hashmesh {

// What the matcher found out about one matching signal.
struct MatchFacts {
  std::string signal;       // short text naming it: "pdq 5feb12ab.. by alice"
  bool author_platform = false;
  bool author_authority = false;
  bool ignored = false;     // the author is in policy.ignore_members
  bool retracted = false;
  bool expired = false;
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
