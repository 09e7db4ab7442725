// Member roles, and which role may publish which kind of record (RecordKind: common/record_kind.h).
// The trust store gives members their roles; the record validator asks. Pure, thread-safe.
#pragma once

#include <array>
#include <span>
#include <string_view>

#include "common/record_kind.h"
#include "common/status.h"

namespace hashmesh {

// What a member is, as listed in the trust store (see DESIGN.md "Trust store and roles").
enum class Role {
  kPlatform,   // online platform: signals, notices, opinions; counts toward endorsement quorums
  kAuthority,  // government body or NGO: notices and signals; never counts as a platform
  kAuditor,    // receives everything, publishes opinions
  kReplica,    // follows a feed, publishes nothing of its own
};

inline constexpr std::array<Role, 4> kAllRoles = {Role::kPlatform, Role::kAuthority, Role::kAuditor,
                                                  Role::kReplica};

// "platform", "authority", "auditor", "replica".
std::string_view RoleName(Role role);
// Exact lowercase names only; the error lists the valid ones.
Result<Role> ParseRole(std::string_view text);

// Whether a member with `role` may publish a record of `kind` into its own feed:
//   platform:  signal, notice, opinion, retraction, manifest
//   authority: signal, notice, retraction, manifest
//   auditor:   opinion, retraction, manifest
//   replica:   manifest
// Every role may publish its own manifest (key rotation must reach peers), and every role that
// publishes anything may retract it. Whether a retraction targets the author's own record is the
// validator's check, not this one.
bool RoleMayPublish(Role role, RecordKind kind);
// True if any of `roles` may publish `kind`.
bool RolesMayPublish(std::span<const Role> roles, RecordKind kind);

}  // namespace hashmesh
