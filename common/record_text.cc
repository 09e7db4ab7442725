// Stance and requested-action names.
#include "common/record_text.h"

#include <string>

namespace hashmesh {

std::string_view StanceName(pb::Stance stance) {
  switch (stance) {
    case pb::STANCE_ENDORSE: return "endorse";
    case pb::STANCE_DISPUTE: return "dispute";
    case pb::STANCE_SEEN: return "seen";
    case pb::STANCE_ACTED: return "acted";
    default: return "unspecified";
  }
}

Result<pb::Stance> ParseStance(std::string_view name) {
  if (name == "endorse") return pb::STANCE_ENDORSE;
  if (name == "dispute") return pb::STANCE_DISPUTE;
  if (name == "seen") return pb::STANCE_SEEN;
  if (name == "acted") return pb::STANCE_ACTED;
  return InvalidArgument("stance must be endorse, dispute, seen or acted, got '" +
                         std::string(name) + "'");
}

std::string_view ActionText(pb::RequestedAction action) {
  switch (action) {
    case pb::REQUESTED_ACTION_REMOVE: return "remove";
    case pb::REQUESTED_ACTION_GEO_BLOCK: return "geo-block";
    case pb::REQUESTED_ACTION_REVIEW: return "review";
    default: return "unspecified";
  }
}

Result<pb::RequestedAction> ParseRequestedAction(std::string_view name) {
  if (name == "remove") return pb::REQUESTED_ACTION_REMOVE;
  if (name == "geo-block" || name == "geo_block") return pb::REQUESTED_ACTION_GEO_BLOCK;
  if (name == "review") return pb::REQUESTED_ACTION_REVIEW;
  return InvalidArgument("action must be remove, geo-block or review, got '" + std::string(name) +
                         "'");
}

}  // namespace hashmesh
