// hashmesh-keys: the trust admin's tool for a node's key directory and for the trust store.
// With --json every command prints exactly one JSON document (proto/api.proto) on stdout.
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "common/json.h"
#include "keys/key_dir.h"
#include "keys/roles.h"
#include "keys/trust_store.h"
#include "proto/api.pb.h"

namespace hashmesh {
namespace {

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

struct Options {
  std::string dir;
  std::string name;
  std::string trust;
  std::string member;
  std::string address;
  std::vector<std::string> roles;
  bool json = false;
};

api::KeysInfo ToProto(const KeyDirInfo& info) {
  api::KeysInfo out;
  out.set_member_id(KeyToText(info.member_key));
  out.set_signing_key(KeyToText(info.signing_key));
  out.set_manifest_seq(info.manifest_seq);
  out.set_name(info.name);
  out.set_dir(info.dir);
  out.set_certificate(info.certificate_path);
  out.set_member_key_present(info.member_key_present);
  return out;
}

api::TrustMember ToProto(const TrustMember& member) {
  api::TrustMember out;
  out.set_name(member.name);
  out.set_member(KeyToText(member.member_key));
  for (Role role : member.roles) out.add_roles(std::string(RoleName(role)));
  out.set_address(member.address);
  return out;
}

std::string RolesText(const TrustMember& member) {
  std::string out;
  for (Role role : member.roles) {
    if (!out.empty()) out += ",";
    out += RoleName(role);
  }
  return out;
}

void PrintJson(const google::protobuf::Message& message) {
  std::cout << ToJson(message, /*pretty=*/true) << "\n";
}

void PrintKeysInfo(const KeyDirInfo& info) {
  std::cout << "  name          " << info.name << "\n"
            << "  member id     " << KeyToText(info.member_key) << "\n"
            << "  signing key   " << KeyToText(info.signing_key) << "\n"
            << "  manifest seq  " << info.manifest_seq << "\n"
            << "  certificate   " << info.certificate_path << "\n"
            << "  member key    "
            << (info.member_key_present ? "present in " + info.dir + " (keep a copy offline)"
                                        : std::string("not on this node (kept offline)"))
            << "\n";
}

Status RunInit(const Options& o) {
  HM_ASSIGN_OR_RETURN(KeyDirInfo info, InitKeyDir(o.dir, o.name));
  if (o.json) {
    PrintJson(ToProto(info));
    return Status::Ok();
  }
  std::cout << "Created the keys of node " << info.name << " in " << info.dir << "\n";
  PrintKeysInfo(info);
  std::cout << "Other members trust this node once they run:\n"
            << "  hashmesh-keys trust add --trust trust.toml --name " << info.name << " --member "
            << KeyToText(info.member_key) << " --role platform\n"
            << "member.key is the member's master key: back it up, and once the node runs, "
               "consider keeping it offline.\n";
  return Status::Ok();
}

Status RunShow(const Options& o) {
  HM_ASSIGN_OR_RETURN(NodeIdentity identity, LoadNodeIdentity(o.dir));
  KeyDirInfo info = identity.Info();
  if (o.json) {
    PrintJson(ToProto(info));
    return Status::Ok();
  }
  std::cout << "Keys of node " << info.name << " in " << info.dir << "\n";
  PrintKeysInfo(info);
  return Status::Ok();
}

// The store in `path`, or an empty one if the file does not exist yet.
Result<TrustStore> LoadOrEmpty(const std::string& path) {
  Result<TrustStore> store = LoadTrustStore(path);
  if (!store.ok() && store.status().code() == StatusCode::kNotFound) return TrustStore();
  return store;
}

Status RunTrustAdd(const Options& o) {
  TrustMember member;
  member.name = o.name;
  Result<PublicKey> key = KeyFromText(o.member);
  if (!key.ok()) return key.status().WithContext("--member");
  member.member_key = *key;
  for (const std::string& text : o.roles) {
    Result<Role> role = ParseRole(text);
    if (!role.ok()) return role.status().WithContext("--role");
    member.roles.push_back(*role);
  }
  member.address = o.address;

  HM_ASSIGN_OR_RETURN(TrustStore store, LoadOrEmpty(o.trust));
  Status added = store.Add(member);
  if (!added.ok()) return added.WithContext(o.trust);
  HM_RETURN_IF_ERROR(SaveTrustStore(o.trust, store));
  if (o.json) {
    PrintJson(ToProto(member));
  } else {
    std::cout << "Added " << member.name << " (" << KeyToText(member.member_key) << ", "
              << RolesText(member) << ") to " << o.trust << "\n"
              << "A running hashmeshd picks this up on SIGHUP (systemctl reload hashmeshd).\n";
  }
  return Status::Ok();
}

Status RunTrustRemove(const Options& o) {
  HM_ASSIGN_OR_RETURN(TrustStore store, LoadTrustStore(o.trust));
  Result<TrustMember> removed = TrustMember();
  if (!o.member.empty()) {
    Result<PublicKey> key = KeyFromText(o.member);
    if (!key.ok()) return key.status().WithContext("--member");
    removed = store.RemoveByKey(*key);
  } else {
    removed = store.RemoveByName(o.name);
  }
  if (!removed.ok()) return removed.status().WithContext(o.trust);
  HM_RETURN_IF_ERROR(SaveTrustStore(o.trust, store));
  if (o.json) {
    PrintJson(ToProto(*removed));
  } else {
    std::cout << "Removed " << removed->name << " (" << KeyToText(removed->member_key) << ") from "
              << o.trust << "\n";
  }
  return Status::Ok();
}

Status RunTrustList(const Options& o) {
  HM_ASSIGN_OR_RETURN(TrustStore store, LoadTrustStore(o.trust));
  if (o.json) {
    api::TrustList list;
    for (const TrustMember& member : store.members()) *list.add_members() = ToProto(member);
    PrintJson(list);
    return Status::Ok();
  }
  if (store.size() == 0) {
    std::cout << "No trusted members in " << o.trust << "\n";
    return Status::Ok();
  }
  for (const TrustMember& member : store.members()) {
    std::cout << member.name << "  " << KeyToText(member.member_key) << "  " << RolesText(member);
    if (!member.address.empty()) std::cout << "  " << member.address;
    std::cout << "\n";
  }
  return Status::Ok();
}

constexpr const char* kFooter = R"(Commands, with examples:
  init         create a node's keys: member key, node signing key, manifest, TLS certificate
                 hashmesh-keys init --dir /var/lib/hashmesh/keys --name acme-1
  show         print a key directory's member id, signing key and manifest seq
                 hashmesh-keys show --dir /var/lib/hashmesh/keys --json
  trust add    trust a member (creates the trust file if needed)
                 hashmesh-keys trust add --trust /etc/hashmesh/trust.toml --name bka \
                   --member ed25519:3b6a...c1 --role authority --address bka.example:7000
  trust remove stop trusting a member, by name or by member id
                 hashmesh-keys trust remove --trust /etc/hashmesh/trust.toml --name bka
  trust list   list the trusted members
                 hashmesh-keys trust list --trust /etc/hashmesh/trust.toml

Roles: platform, authority, auditor, replica. With --json each command prints one JSON document on
stdout; errors go to stderr with a non-zero exit status (1: failed, 2: bad command line).
)";

int Main(int argc, char** argv) {
  CLI::App app{"hashmesh-keys: manage a hashmesh node's keys and its trust store", "hashmesh-keys"};
  app.footer(kFooter);
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "print help for every command");
#ifdef HASHMESH_VERSION
  app.set_version_flag("--version", HASHMESH_VERSION);
#endif
  Options o;
  // Global flags may also follow the command: `hashmesh-keys init ... --json`.
  app.fallthrough();
  app.add_flag("--json", o.json, "print one JSON document on stdout");

  CLI::App* init = app.add_subcommand(
      "init", "Create a key directory: member key, node key, manifest (seq 1), TLS certificate");
  init->add_option("--dir", o.dir, "key directory to create (made 0700)")->required();
  init->add_option("--name", o.name, "node name, e.g. acme-1 (letters, digits, . _ -)")->required();
  init->footer(
      "Example: hashmesh-keys init --dir ./hashmesh-data/keys --name acme-1\n"
      "Refuses to overwrite existing keys.\n");

  CLI::App* show = app.add_subcommand("show", "Print the identity held in a key directory");
  show->add_option("--dir", o.dir, "key directory")->required();
  show->footer("Example: hashmesh-keys show --dir ./hashmesh-data/keys --json\n");

  CLI::App* trust = app.add_subcommand("trust", "Edit or list the trust store (trust.toml)");
  trust->require_subcommand(1);
  trust->footer(
      "Examples:\n"
      "  hashmesh-keys trust add --trust trust.toml --name acme --member ed25519:<hex> "
      "--role platform\n"
      "  hashmesh-keys trust remove --trust trust.toml --name acme\n"
      "  hashmesh-keys trust list --trust trust.toml --json\n");

  CLI::App* add = trust->add_subcommand("add", "Trust a member; creates the file if missing");
  add->add_option("--trust", o.trust, "trust store file")->required();
  add->add_option("--name", o.name, "member name (letters, digits, . _ -)")->required();
  add->add_option("--member", o.member, "member id, ed25519:<64 hex>")->required();
  add->add_option("--role", o.roles, "platform, authority, auditor or replica (repeatable)")
      ->required();
  add->add_option("--address", o.address, "HOST:PORT of the member's node (optional)");
  add->footer(
      "Example: hashmesh-keys trust add --trust trust.toml --name acme --member ed25519:<hex> "
      "--role platform --address 10.0.0.2:7000\n");

  CLI::App* remove = trust->add_subcommand("remove", "Stop trusting a member");
  remove->add_option("--trust", o.trust, "trust store file")->required();
  CLI::Option* remove_name = remove->add_option("--name", o.name, "member name");
  CLI::Option* remove_member = remove->add_option("--member", o.member, "member id");
  remove_name->excludes(remove_member);
  remove->footer(
      "Example: hashmesh-keys trust remove --trust trust.toml --name acme (or --member ID)\n");

  CLI::App* list = trust->add_subcommand("list", "List the trusted members");
  list->add_option("--trust", o.trust, "trust store file")->required();
  list->footer("Example: hashmesh-keys trust list --trust trust.toml --json\n");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }
  if (remove->parsed() && remove_name->count() == 0 && remove_member->count() == 0) {
    std::cerr << "hashmesh-keys trust remove: give --name NAME or --member ID\n";
    return kExitUsage;
  }

  if (!InitCrypto()) {
    std::cerr << "hashmesh-keys: cannot initialise libsodium\n";
    return kExitError;
  }
  Status status;
  if (init->parsed()) {
    status = RunInit(o);
  } else if (show->parsed()) {
    status = RunShow(o);
  } else if (add->parsed()) {
    status = RunTrustAdd(o);
  } else if (remove->parsed()) {
    status = RunTrustRemove(o);
  } else if (list->parsed()) {
    status = RunTrustList(o);
  }
  if (!status.ok()) {
    std::cerr << "hashmesh-keys: " << status.message() << "\n";
    return kExitError;
  }
  return 0;
}

}  // namespace
}  // namespace hashmesh

int main(int argc, char** argv) {
  // Nothing is expected to throw past Main; this keeps a surprise (bad_alloc, a library's
  // exception) an error message and an exit status rather than an abort.
  try {
    return hashmesh::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "hashmesh-keys: internal error: " << e.what() << "\n";
  } catch (...) {
    std::cerr << "hashmesh-keys: internal error\n";
  }
  return 1;
}
