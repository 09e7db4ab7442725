// The text forms of record enum values that the API and the CLI use: opinion stances and a
// notice's requested action. Pure; thread-safe.
#pragma once

#include <string_view>

#include "common/status.h"
#include "proto/records.pb.h"

namespace hashmesh {

std::string_view StanceName(pb::Stance stance);  // endorse, dispute, seen, acted
Result<pb::Stance> ParseStance(std::string_view name);
std::string_view ActionText(pb::RequestedAction action);  // remove, geo-block, review
Result<pb::RequestedAction> ParseRequestedAction(std::string_view name);

}  // namespace hashmesh
