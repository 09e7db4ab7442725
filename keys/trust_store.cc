// trust.toml parsing (toml++), validation with file:line errors, formatting and atomic saving.
// toml++ throws toml::parse_error on bad syntax; it is caught here and never leaves this file.
#include "keys/trust_store.h"

#include <sys/stat.h>
#include <toml++/toml.h>

#include <exception>
#include <set>

#include "common/host_port.h"
#include "keys/key_dir.h"

namespace hashmesh {
namespace {

constexpr size_t kMaxTrustFile = 4 << 20;
constexpr uint32_t kDefaultTrustMode = 0644;
constexpr std::string_view kMemberKeyPrefix = "ed25519:";

class TrustParser {
 public:
  explicit TrustParser(const std::string& source) : source_(source) {}

  Result<TrustStore> Parse(std::string_view text) {
    toml::table root;
    try {
      root = toml::parse(text, source_);
    } catch (const toml::parse_error& e) {
      return InvalidArgument(Where(e.source()) + std::string(e.description()));
    } catch (const std::exception& e) {
      return InvalidArgument(source_ + ": cannot parse: " + e.what());
    }
    TrustStore store;
    for (auto&& [key, node] : root) {
      if (key.str() != "member") {
        return Error(key.source(), key.str(),
                     "unknown key (the file holds only [[member]] tables)");
      }
      toml::array* members = node.as_array();
      if (members == nullptr || (!members->empty() && !members->is_array_of_tables())) {
        return Error(node.source(), "member", "must be written as [[member]] tables");
      }
      for (toml::node& element : *members) {
        HM_RETURN_IF_ERROR(ParseMember(*element.as_table(), &store));
      }
    }
    return store;
  }

 private:
  std::string Where(const toml::source_region& region) const {
    return source_ + ":" + std::to_string(region.begin.line) + ": ";
  }

  Status Error(const toml::source_region& region, std::string_view key,
               std::string_view message) const {
    return InvalidArgument(Where(region) + std::string(key) + ": " + std::string(message));
  }

  Result<std::string> GetString(const toml::node& node, std::string_view key) const {
    const toml::value<std::string>* value = node.as_string();
    if (value == nullptr) return Error(node.source(), key, "must be a string");
    return value->get();
  }

  Status ParseMember(const toml::table& table, TrustStore* store) {
    TrustMember member;
    bool has_name = false, has_id = false, has_roles = false;
    for (auto&& [key, node] : table) {
      std::string name = "member." + std::string(key.str());
      if (key.str() == "name") {
        HM_ASSIGN_OR_RETURN(member.name, GetString(node, name));
        Status valid = ValidateName(member.name, "member name");
        if (!valid.ok()) return Error(node.source(), name, valid.message());
        has_name = true;
      } else if (key.str() == "id") {
        HM_ASSIGN_OR_RETURN(std::string id, GetString(node, name));
        // The file always uses the prefixed form; bare hex is accepted only on command lines.
        if (!std::string_view(id).starts_with(kMemberKeyPrefix)) {
          return Error(node.source(), name, "must look like ed25519:<64 hex characters>");
        }
        Result<PublicKey> key_value = KeyFromText(id);
        if (!key_value.ok()) return Error(node.source(), name, key_value.status().message());
        member.member_key = *key_value;
        has_id = true;
      } else if (key.str() == "roles") {
        HM_RETURN_IF_ERROR(ParseRoles(node, name, &member.roles));
        has_roles = true;
      } else if (key.str() == "address") {
        HM_ASSIGN_OR_RETURN(member.address, GetString(node, name));
        Status valid = ValidatePeerAddress(member.address);
        if (!valid.ok()) return Error(node.source(), name, valid.message());
      } else {
        return Error(key.source(), name, "unknown key (expected name, id, roles, address)");
      }
    }
    for (auto [present, key] :
         {std::pair{has_name, "name"}, std::pair{has_id, "id"}, std::pair{has_roles, "roles"}}) {
      if (!present)
        return Error(table.source(), "member", std::string("missing key '") + key + "'");
    }

    if (auto it = name_lines_.find(member.name); it != name_lines_.end()) {
      return Error(table.source(), "member.name",
                   "duplicate name '" + member.name + "' (first at line " +
                       std::to_string(it->second) + ")");
    }
    if (auto it = key_lines_.find(member.member_key); it != key_lines_.end()) {
      return Error(table.source(), "member.id",
                   "duplicate id " + KeyToText(member.member_key) + " (first at line " +
                       std::to_string(it->second) + ")");
    }
    name_lines_[member.name] = table.source().begin.line;
    key_lines_[member.member_key] = table.source().begin.line;
    Status added = store->Add(std::move(member));
    if (!added.ok()) return Error(table.source(), "member", added.message());
    return Status::Ok();
  }

  Status ParseRoles(const toml::node& node, const std::string& key, std::vector<Role>* roles) {
    const toml::array* array = node.as_array();
    if (array == nullptr) return Error(node.source(), key, "must be an array, e.g. [\"platform\"]");
    if (array->empty()) return Error(node.source(), key, "must name at least one role");
    for (const toml::node& element : *array) {
      const toml::value<std::string>* value = element.as_string();
      if (value == nullptr) return Error(element.source(), key, "each role must be a string");
      const std::string& text = value->get();
      Result<Role> role = ParseRole(text);
      if (!role.ok()) return Error(element.source(), key, role.status().message());
      for (Role seen : *roles) {
        if (seen == *role) return Error(element.source(), key, "duplicate role '" + text + "'");
      }
      roles->push_back(*role);
    }
    return Status::Ok();
  }

  const std::string& source_;
  std::map<std::string, uint32_t> name_lines_;
  std::map<PublicKey, uint32_t> key_lines_;
};

// A TOML basic string. Names, ids and addresses are validated to plain ASCII, so escaping is a
// safety net rather than a feature.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

Status ValidateMember(const TrustMember& member) {
  HM_RETURN_IF_ERROR(ValidateName(member.name, "member name"));
  if (member.roles.empty()) return InvalidArgument("member " + member.name + " has no role");
  for (size_t i = 0; i < member.roles.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (member.roles[i] == member.roles[j]) {
        return InvalidArgument("duplicate role '" + std::string(RoleName(member.roles[i])) + "'");
      }
    }
  }
  if (!member.address.empty()) HM_RETURN_IF_ERROR(ValidatePeerAddress(member.address));
  return Status::Ok();
}

}  // namespace

bool TrustMember::HasRole(Role role) const {
  for (Role r : roles) {
    if (r == role) return true;
  }
  return false;
}

bool TrustMember::MayPublish(RecordKind kind) const { return RolesMayPublish(roles, kind); }

const TrustMember* TrustStore::FindByKey(const PublicKey& member_key) const {
  auto it = by_key_.find(member_key);
  return it == by_key_.end() ? nullptr : &members_[it->second];
}

const TrustMember* TrustStore::FindByName(std::string_view name) const {
  for (const TrustMember& member : members_) {
    if (member.name == name) return &member;
  }
  return nullptr;
}

bool TrustStore::MayPublish(const PublicKey& author, RecordKind kind) const {
  const TrustMember* member = FindByKey(author);
  return member != nullptr && member->MayPublish(kind);
}

Status TrustStore::Add(TrustMember member) {
  HM_RETURN_IF_ERROR(ValidateMember(member));
  if (FindByName(member.name) != nullptr) {
    return AlreadyExists("a member named '" + member.name + "' is already trusted");
  }
  if (const TrustMember* other = FindByKey(member.member_key)) {
    return AlreadyExists("member " + KeyToText(member.member_key) + " is already trusted as '" +
                         other->name + "'");
  }
  by_key_[member.member_key] = members_.size();
  members_.push_back(std::move(member));
  return Status::Ok();
}

Result<TrustMember> TrustStore::RemoveByKey(const PublicKey& member_key) {
  auto it = by_key_.find(member_key);
  if (it == by_key_.end()) return NotFound("no trusted member " + KeyToText(member_key));
  return RemoveAt(it->second);
}

Result<TrustMember> TrustStore::RemoveByName(std::string_view name) {
  for (size_t i = 0; i < members_.size(); ++i) {
    if (members_[i].name == name) return RemoveAt(i);
  }
  return NotFound("no trusted member named '" + std::string(name) + "'");
}

Result<TrustMember> TrustStore::RemoveAt(size_t index) {
  TrustMember removed = std::move(members_[index]);
  members_.erase(members_.begin() + static_cast<std::ptrdiff_t>(index));
  Reindex();
  return removed;
}

void TrustStore::Reindex() {
  by_key_.clear();
  for (size_t i = 0; i < members_.size(); ++i) by_key_[members_[i].member_key] = i;
}

Result<TrustStore> ParseTrustStore(std::string_view text, const std::string& source) {
  return TrustParser(source).Parse(text);
}

Result<TrustStore> LoadTrustStore(const std::string& path) {
  Result<std::string> text = ReadSmallFile(path, kMaxTrustFile);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound) {
      return NotFound(path + ": trust store does not exist");
    }
    return text.status();
  }
  return ParseTrustStore(*text, path);
}

std::string FormatTrustStore(const TrustStore& store) {
  std::string out =
      "# hashmesh trust store: the members whose records this node accepts.\n"
      "# Written by hashmesh-keys trust add|remove; hashmeshd reloads it on SIGHUP.\n"
      "# roles: platform, authority, auditor, replica. address (optional): HOST:PORT.\n";
  for (const TrustMember& member : store.members()) {
    out += "\n[[member]]\n";
    out += "name = " + Quote(member.name) + "\n";
    out += "id = " + Quote(KeyToText(member.member_key)) + "\n";
    out += "roles = [";
    for (size_t i = 0; i < member.roles.size(); ++i) {
      if (i > 0) out += ", ";
      out += Quote(RoleName(member.roles[i]));
    }
    out += "]\n";
    if (!member.address.empty()) out += "address = " + Quote(member.address) + "\n";
  }
  return out;
}

Status SaveTrustStore(const std::string& path, const TrustStore& store) {
  uint32_t mode = kDefaultTrustMode;
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) mode = st.st_mode & 07777;
  return WriteFileAtomic(path, FormatTrustStore(store), mode, /*replace=*/true);
}

Status ValidatePeerAddress(std::string_view address) {
  Result<HostPort> parsed = ParseHostPort(address);
  if (!parsed.ok()) return InvalidArgument("address " + parsed.status().message());
  return Status::Ok();
}

}  // namespace hashmesh
