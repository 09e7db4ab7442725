// hashmesh-keys: the trust admin's tool for a node's key directory and for the trust store.
// With --json every command prints exactly one JSON document (proto/api.proto) on stdout.
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "common/json.h"
#include "common/manifest.h"
#include "keys/key_dir.h"
#include "keys/key_rotation.h"
#include "keys/roles.h"
#include "keys/trust_store.h"
#include "proto/records.pb.h"
#include "proto/reports.pb.h"

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
  uint64_t compromised_after = 0;
  std::string request;     // rotate: write a request here; sign: read it from here
  std::string out;         // sign, revoke: write the manifest here
  std::string manifest;    // install: the signed manifest
  std::string member_key;  // sign, revoke: the member key file
  bool yes = false;
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
  out.set_revoked(info.revoked);
  out.set_rotation_pending(info.rotation_pending);
  return out;
}

api::ManifestView ToProto(const ManifestInfo& info, const std::string& file) {
  api::ManifestView out;
  out.set_member_id(KeyToText(info.member_key));
  if (info.signing_key) out.set_signing_key(KeyToText(*info.signing_key));
  out.set_manifest_seq(info.seq);
  out.set_compromised_after(static_cast<uint32_t>(info.compromised_after));
  out.set_revocation(info.revoked());
  out.set_file(file);
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
  if (info.revoked) std::cout << "  REVOKED       this member can no longer publish\n";
  if (info.rotation_pending) {
    std::cout << "  rotation      node.key.next waits for a signed manifest (hashmesh-keys "
                 "install)\n";
  }
}

constexpr const char* kReloadHint =
    "A running hashmeshd picks this up on reload (systemctl reload hashmeshd, or hashmesh "
    "reload): it publishes the new manifest (or the revocation) through its feed, and after a "
    "rotation reconnects its peers with the new key.\n";

void PrintManifestView(const api::ManifestView& view) {
  std::cout << "  member id          " << view.member_id() << "\n";
  if (view.revocation()) {
    std::cout << "  revocation         the member key is dead for good\n";
  } else {
    std::cout << "  signing key        " << view.signing_key() << "\n"
              << "  manifest seq       " << view.manifest_seq() << "\n";
  }
  if (view.compromised_after() != 0) {
    std::cout << "  compromised after  feed seq " << view.compromised_after()
              << " (later records signed by the old key become void)\n";
  }
}

// A manifest, request or revocation just written to `file`: with --json its view, else
// `headline`, its fields and `next` (what to do with it).
void ReportManifestFile(const Options& o, const ManifestInfo& info, const std::string& file,
                        const std::string& headline, const std::string& next) {
  api::ManifestView view = ToProto(info, file);
  if (o.json) {
    PrintJson(view);
    return;
  }
  std::cout << headline << "\n";
  PrintManifestView(view);
  std::cout << next << "\n";
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

Status RunRotate(const Options& o) {
  if (!o.request.empty()) {
    HM_ASSIGN_OR_RETURN(std::string request, RequestRotation(o.dir, o.compromised_after));
    HM_RETURN_IF_ERROR(WriteFileAtomic(o.request, request, kPublicFileMode, /*replace=*/false));
    pb::SignedManifest parsed;
    if (!parsed.ParseFromString(request)) return Internal("the request just built does not parse");
    HM_ASSIGN_OR_RETURN(ManifestInfo info, ReadVerifiedManifest(parsed));
    ReportManifestFile(o, info, o.request,
                       "Wrote a rotation request to " + o.request + " (new key in " +
                           KeyDirPath(o.dir, kNextNodeKeyFile) + ")",
                       "Next: where the member key is, run\n  hashmesh-keys sign --member-key "
                       "member.key --request " +
                           o.request + " --out manifest.signed\nthen on this node\n"
                           "  hashmesh-keys install --dir " +
                           o.dir + " --manifest manifest.signed");
    return Status::Ok();
  }
  HM_ASSIGN_OR_RETURN(KeyDirInfo info, RotateNodeKey(o.dir, o.compromised_after));
  if (o.json) {
    PrintJson(ToProto(info));
    return Status::Ok();
  }
  std::cout << "Rotated the node key of " << info.name << " (manifest seq " << info.manifest_seq
            << ")\n";
  PrintKeysInfo(info);
  std::cout << kReloadHint;
  return Status::Ok();
}

Status RunSign(const Options& o) {
  HM_ASSIGN_OR_RETURN(SecretKey member, ReadSecretKeyFile(o.member_key));
  HM_ASSIGN_OR_RETURN(std::string request, ReadSmallFile(o.request, kMaxManifestFileBytes));
  ManifestInfo info;
  auto manifest = SignManifestRequest(member, request, &info);
  if (!manifest.ok()) return manifest.status().WithContext(o.request);
  HM_RETURN_IF_ERROR(WriteFileAtomic(o.out, *manifest, kPublicFileMode, /*replace=*/false));
  ReportManifestFile(o, info, o.out, "Signed the manifest in " + o.out,
                     "Install it on the node: hashmesh-keys install --dir DIR --manifest " + o.out);
  return Status::Ok();
}

Status RunInstall(const Options& o) {
  HM_ASSIGN_OR_RETURN(std::string manifest, ReadSmallFile(o.manifest, kMaxManifestFileBytes));
  auto installed = InstallManifest(o.dir, manifest);
  if (!installed.ok()) return installed.status().WithContext(o.manifest);
  if (o.json) {
    PrintJson(ToProto(*installed));
    return Status::Ok();
  }
  std::cout << (installed->revoked ? "Installed the revocation of member "
                                   : "Installed manifest seq " +
                                         std::to_string(installed->manifest_seq) + " of member ")
            << KeyToText(installed->member_key) << "\n";
  PrintKeysInfo(*installed);
  std::cout << kReloadHint;
  return Status::Ok();
}

Status RunRevoke(const Options& o) {
  if (!o.yes) {
    return InvalidArgument(
        "revocation is irreversible: the member key can never publish again, on any node. "
        "Add --yes to go ahead");
  }
  if (!o.member_key.empty()) {  // offline: write the revocation to a file
    HM_ASSIGN_OR_RETURN(SecretKey member, ReadSecretKeyFile(o.member_key));
    HM_ASSIGN_OR_RETURN(std::string revocation, BuildRevocation(member));
    HM_RETURN_IF_ERROR(WriteFileAtomic(o.out, revocation, kPublicFileMode, /*replace=*/false));
    HM_ASSIGN_OR_RETURN(ManifestInfo info, VerifySignedManifest(revocation));
    ReportManifestFile(
        o, info, o.out, "Wrote the revocation to " + o.out,
        "Install it on the member's node: hashmesh-keys install --dir DIR --manifest " + o.out);
    return Status::Ok();
  }
  HM_ASSIGN_OR_RETURN(KeyDirInfo info, RevokeMemberKey(o.dir));
  if (o.json) {
    PrintJson(ToProto(info));
    return Status::Ok();
  }
  std::cout << "Revoked member " << KeyToText(info.member_key) << "\n";
  PrintKeysInfo(info);
  std::cout << "A running hashmeshd publishes the revocation on reload (systemctl reload "
               "hashmeshd) and never publishes again.\n";
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
  rotate       new node signing key under a new manifest (member.key in --dir)
                 hashmesh-keys rotate --dir /var/lib/hashmesh/keys [--compromised-after SEQ]
               or, with the member key offline, three steps:
                 hashmesh-keys rotate --dir /var/lib/hashmesh/keys --request rotation.req
                 hashmesh-keys sign --member-key member.key --request rotation.req --out m.bin
                 hashmesh-keys install --dir /var/lib/hashmesh/keys --manifest m.bin
  revoke       revoke the member key for good (member.key in --dir, or offline with --out)
                 hashmesh-keys revoke --dir /var/lib/hashmesh/keys --yes
                 hashmesh-keys revoke --member-key member.key --out revocation.bin --yes
  install      install a manifest or revocation signed elsewhere (see rotate, revoke)

After rotate, install or revoke, reload the running node: systemctl reload hashmeshd.

Roles: platform, authority, auditor, replica. With --json each command prints one JSON document on
stdout; errors go to stderr with a non-zero exit status (1: failed, 2: bad command line).
)";

int Main(int argc, char** argv) {
  CLI::App app{"hashmesh-keys: manage a hashmesh node's keys and its trust store", "hashmesh-keys"};
  app.footer(kFooter);
  // Not require_subcommand(1): CLI11 would then answer a misspelt command or flag with "A
  // subcommand is required" instead of naming the word it did not expect.
  app.require_subcommand(0, 1);
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return std::string("hashmesh-keys: ") + e.what() + "\nRun with --help for more information.\n";
  });
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

  CLI::App* rotate = app.add_subcommand(
      "rotate", "Rotate the node signing key: new key, manifest seq + 1, new certificate");
  rotate->add_option("--dir", o.dir, "key directory")->required();
  rotate->add_option("--compromised-after", o.compromised_after,
                     "feed seq after which this member's records signed by the old key are void "
                     "(the old key was compromised)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{0xFFFFFFFE}));
  rotate->add_option("--request", o.request,
                     "member key kept offline: write a rotation request to this file (then "
                     "hashmesh-keys sign, then hashmesh-keys install)");
  rotate->footer(
      "Examples:\n"
      "  hashmesh-keys rotate --dir /var/lib/hashmesh/keys\n"
      "  hashmesh-keys rotate --dir /var/lib/hashmesh/keys --compromised-after 1200\n"
      "  hashmesh-keys rotate --dir /var/lib/hashmesh/keys --request rotation.req\n"
      "Then reload the node (systemctl reload hashmeshd).\n");

  CLI::App* sign = app.add_subcommand(
      "sign", "Sign a rotation request with the member key (on the machine that holds it)");
  sign->add_option("--member-key", o.member_key, "the member key file (member.key)")->required();
  sign->add_option("--request", o.request, "request written by hashmesh-keys rotate --request")
      ->required();
  sign->add_option("--out", o.out, "file to write the signed manifest to (must not exist)")
      ->required();
  sign->footer(
      "Example: hashmesh-keys sign --member-key /media/offline/member.key --request "
      "rotation.req --out manifest.signed\n");

  CLI::App* install = app.add_subcommand(
      "install", "Install a manifest signed elsewhere: a rotation or a revocation");
  install->add_option("--dir", o.dir, "key directory")->required();
  install->add_option("--manifest", o.manifest, "file written by hashmesh-keys sign or revoke")
      ->required();
  install->footer(
      "Example: hashmesh-keys install --dir /var/lib/hashmesh/keys --manifest manifest.signed\n"
      "Then reload the node (systemctl reload hashmeshd).\n");

  CLI::App* revoke = app.add_subcommand(
      "revoke", "Revoke the member key for good: its node publishes the revocation, then nothing");
  CLI::Option* revoke_dir = revoke->add_option("--dir", o.dir, "key directory holding member.key");
  CLI::Option* revoke_member =
      revoke->add_option("--member-key", o.member_key, "member key file (offline revocation)");
  CLI::Option* revoke_out =
      revoke->add_option("--out", o.out, "with --member-key: file to write the revocation to");
  revoke->add_flag("--yes", o.yes, "confirm: this cannot be undone");
  revoke_dir->excludes(revoke_member);
  revoke_member->needs(revoke_out);
  revoke_out->needs(revoke_member);
  revoke->footer(
      "Examples:\n"
      "  hashmesh-keys revoke --dir /var/lib/hashmesh/keys --yes\n"
      "  hashmesh-keys revoke --member-key /media/offline/member.key --out revocation.bin --yes\n"
      "     (then on the node: hashmesh-keys install --dir DIR --manifest revocation.bin)\n");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }
  if (remove->parsed() && remove_name->count() == 0 && remove_member->count() == 0) {
    std::cerr << "hashmesh-keys trust remove: give --name NAME or --member ID\n";
    return kExitUsage;
  }
  if (revoke->parsed() && revoke_dir->count() == 0 && revoke_member->count() == 0) {
    std::cerr << "hashmesh-keys revoke: give --dir DIR, or --member-key FILE --out FILE\n";
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
  } else if (rotate->parsed()) {
    status = RunRotate(o);
  } else if (sign->parsed()) {
    status = RunSign(o);
  } else if (install->parsed()) {
    status = RunInstall(o);
  } else if (revoke->parsed()) {
    status = RunRevoke(o);
  } else {
    std::cerr << "hashmesh-keys: give a command, e.g. `hashmesh-keys show --dir DIR`; see "
                 "hashmesh-keys --help\n";
    return kExitUsage;
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
