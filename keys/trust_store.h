// The trust store: the members whose records this node accepts, with their roles and optional
// peer addresses, kept in trust.toml and edited by `hashmesh-keys trust ...`.
//
// trust.toml holds only [[member]] tables, each with exactly these keys:
//   [[member]]
//   name = "alice"                # see ValidateName: letters, digits, '.', '_', '-'
//   id = "ed25519:<64 hex>"       # the member key
//   roles = ["platform"]          # one or more of platform, authority, auditor, replica
//   address = "127.0.0.1:7001"    # optional: HOST:PORT of the member's node, for outgoing peering
// Ids and names are unique. Anything else (unknown keys, wrong types) is an error with the file,
// line and key. SaveTrustStore rewrites the whole file, so hand-written comments are not kept.
//
// Thread-safety: a TrustStore is a plain value; concurrent const use is safe. The daemon loads a
// new one on SIGHUP and swaps it in whole (e.g. a std::shared_ptr<const TrustStore>).
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/hex.h"
#include "common/status.h"
#include "keys/roles.h"

namespace hashmesh {

struct TrustMember {
  std::string name;
  PublicKey member_key{};
  std::vector<Role> roles;  // non-empty, no duplicates, in file order
  std::string address;      // "HOST:PORT", or empty

  bool HasRole(Role role) const;
  // True if one of the member's roles may publish `kind` (see RoleMayPublish).
  bool MayPublish(RecordKind kind) const;
};

class TrustStore {
 public:
  TrustStore() = default;

  // In file order.
  const std::vector<TrustMember>& members() const { return members_; }
  size_t size() const { return members_.size(); }

  // Null when absent. Pointers stay valid until the store is next modified.
  const TrustMember* FindByKey(const PublicKey& member_key) const;
  const TrustMember* FindByName(std::string_view name) const;
  // False for authors not in the store: their records are neither stored nor relayed.
  bool MayPublish(const PublicKey& author, RecordKind kind) const;

  // Validates `member` (name, roles, address) and appends it. AlreadyExists if its name or key is
  // taken; InvalidArgument if it is malformed.
  Status Add(TrustMember member);
  // Remove the member and return it; NotFound if there is none.
  Result<TrustMember> RemoveByKey(const PublicKey& member_key);
  Result<TrustMember> RemoveByName(std::string_view name);

 private:
  Result<TrustMember> RemoveAt(size_t index);
  void Reindex();

  std::vector<TrustMember> members_;
  std::map<PublicKey, size_t> by_key_;  // index into members_
};

// Parses and validates trust.toml. A missing file is NotFound (the daemon or `trust add` may then
// create one); anything malformed is InvalidArgument with "PATH:LINE: KEY: what is wrong".
Result<TrustStore> LoadTrustStore(const std::string& path);
// Same, from text; `source` names it in errors.
Result<TrustStore> ParseTrustStore(std::string_view text, const std::string& source);

// Writes the store to `path` atomically (see WriteFileAtomic), keeping an existing file's mode,
// else 0644 (the file holds only public keys).
Status SaveTrustStore(const std::string& path, const TrustStore& store);
// The text SaveTrustStore writes.
std::string FormatTrustStore(const TrustStore& store);

// Checks a peer address "HOST:PORT" (common/host_port.h): HOST a DNS name, an IPv4 address, or an
// IPv6 address in brackets ("[::1]:7000"); PORT 1-65535.
Status ValidatePeerAddress(std::string_view address);

}  // namespace hashmesh
