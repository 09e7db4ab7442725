// Role names and the publishing matrix of DESIGN.md "Trust store and roles", kept in one switch
// so that the matrix is reviewed in one place.
#include "keys/roles.h"

#include <string>

namespace hashmesh {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kPlatform:
      return "platform";
    case Role::kAuthority:
      return "authority";
    case Role::kAuditor:
      return "auditor";
    case Role::kReplica:
      return "replica";
  }
  return "unknown";
}

Result<Role> ParseRole(std::string_view text) {
  for (Role role : kAllRoles) {
    if (RoleName(role) == text) return role;
  }
  return InvalidArgument("unknown role '" + std::string(text) +
                         "' (expected platform, authority, auditor or replica)");
}

bool RoleMayPublish(Role role, RecordKind kind) {
  if (kind == RecordKind::kManifest) return true;
  switch (role) {
    case Role::kPlatform:
      return true;
    case Role::kAuthority:
      return kind == RecordKind::kSignal || kind == RecordKind::kNotice ||
             kind == RecordKind::kRetraction;
    case Role::kAuditor:
      return kind == RecordKind::kOpinion || kind == RecordKind::kRetraction;
    case Role::kReplica:
      return false;
  }
  return false;
}

bool RolesMayPublish(std::span<const Role> roles, RecordKind kind) {
  for (Role role : roles) {
    if (RoleMayPublish(role, kind)) return true;
  }
  return false;
}

}  // namespace hashmesh
