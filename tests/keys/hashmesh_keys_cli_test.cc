// Runs the built hashmesh-keys binary (HASHMESH_BIN_DIR) and checks its command-line contract:
// one JSON document on stdout with --json, errors on stderr with a non-zero exit status.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/json.h"
#include "proto/reports.pb.h"

#ifndef HASHMESH_BIN_DIR
#error "HASHMESH_BIN_DIR must name the directory holding hashmesh-keys"
#endif

namespace hashmesh {
namespace {

namespace fs = std::filesystem;

struct RunResult {
  int exit_code = -1;  // -1 if it did not exit normally (e.g. a crash)
  std::string out;
  std::string err;
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class HashmeshKeysCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "hashmesh_keys_cli_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    ASSERT_TRUE(fs::exists(Binary())) << Binary() << " is not built";
  }
  void TearDown() override { fs::remove_all(root_); }

  static std::string Binary() { return std::string(HASHMESH_BIN_DIR) + "/hashmesh-keys"; }

  // Runs hashmesh-keys with `args` (no shell), capturing stdout and stderr in files.
  RunResult Run(const std::vector<std::string>& args) {
    std::string out_path = root_ + "/stdout", err_path = root_ + "/stderr";
    std::vector<std::string> argv_strings = {Binary()};
    argv_strings.insert(argv_strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& s : argv_strings) argv.push_back(s.data());
    argv.push_back(nullptr);

    RunResult result;
    pid_t pid = fork();
    if (pid == 0) {
      int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (out < 0 || err < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) _exit(127);
      execv(argv[0], argv.data());
      _exit(127);
    }
    EXPECT_GT(pid, 0);
    int status = 0;
    EXPECT_EQ(waitpid(pid, &status, 0), pid);
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    result.out = Slurp(out_path);
    result.err = Slurp(err_path);
    return result;
  }

  // Runs a command that must succeed and print one JSON document, parsed into `message`.
  void RunJson(const std::vector<std::string>& args, google::protobuf::Message* message) {
    RunResult r = Run(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    // FromJson refuses trailing text and unknown fields: this checks "exactly one document"
    // and the contract's field names at once.
    Status parsed = FromJson(r.out, message);
    ASSERT_TRUE(parsed.ok()) << parsed.ToString() << "\nstdout:\n" << r.out;
  }

  std::string root_;
};

TEST_F(HashmeshKeysCliTest, InitAndShowJson) {
  std::string dir = root_ + "/keys";
  api::KeysInfo init;
  RunJson({"init", "--dir", dir, "--name", "node-a", "--json"}, &init);
  EXPECT_EQ(init.member_id().rfind("ed25519:", 0), 0u);
  EXPECT_EQ(init.member_id().size(), 8u + 64u);
  EXPECT_EQ(init.signing_key().rfind("ed25519:", 0), 0u);
  EXPECT_NE(init.member_id(), init.signing_key());
  EXPECT_EQ(init.manifest_seq(), 1u);
  EXPECT_EQ(init.name(), "node-a");
  EXPECT_EQ(init.dir(), dir);
  EXPECT_EQ(init.certificate(), dir + "/node.crt");
  EXPECT_TRUE(init.member_key_present());
  EXPECT_TRUE(fs::exists(dir + "/node.crt"));

  // The JSON contract spells these names; check them in the raw text too.
  RunResult raw = Run({"show", "--dir", dir, "--json"});
  ASSERT_EQ(raw.exit_code, 0) << raw.err;
  for (const char* field : {"\"member_id\"", "\"signing_key\"", "\"manifest_seq\": 1"}) {
    EXPECT_NE(raw.out.find(field), std::string::npos) << field << " in " << raw.out;
  }

  api::KeysInfo show;
  RunJson({"show", "--dir", dir, "--json"}, &show);
  EXPECT_EQ(show.member_id(), init.member_id());
  EXPECT_EQ(show.signing_key(), init.signing_key());
  EXPECT_EQ(show.manifest_seq(), 1u);

  fs::remove(dir + "/member.key");
  RunJson({"show", "--dir", dir, "--json"}, &show);
  EXPECT_FALSE(show.member_key_present());
}

TEST_F(HashmeshKeysCliTest, InitHumanOutput) {
  RunResult r = Run({"init", "--dir", root_ + "/keys", "--name", "node-a"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("member id"), std::string::npos);
  EXPECT_NE(r.out.find("ed25519:"), std::string::npos);
  EXPECT_NE(r.out.find("trust add"), std::string::npos);
}

TEST_F(HashmeshKeysCliTest, InitRefusesExistingKeys) {
  std::string dir = root_ + "/keys";
  ASSERT_EQ(Run({"init", "--dir", dir, "--name", "node-a"}).exit_code, 0);
  RunResult r = Run({"init", "--dir", dir, "--name", "node-b", "--json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("already exists"), std::string::npos) << r.err;
}

TEST_F(HashmeshKeysCliTest, ShowErrors) {
  RunResult missing = Run({"show", "--dir", root_ + "/nope", "--json"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.out, "");
  EXPECT_NE(missing.err.find("does not exist"), std::string::npos) << missing.err;

  std::string dir = root_ + "/keys";
  ASSERT_EQ(Run({"init", "--dir", dir, "--name", "node-a"}).exit_code, 0);
  std::ofstream(dir + "/node.key", std::ios::trunc) << "ed25519-secret:nothex\n";
  RunResult corrupt = Run({"show", "--dir", dir});
  EXPECT_EQ(corrupt.exit_code, 1);
  EXPECT_NE(corrupt.err.find("node.key: corrupt"), std::string::npos) << corrupt.err;
}

TEST_F(HashmeshKeysCliTest, TrustAddListRemove) {
  std::string trust = root_ + "/trust.toml";
  std::string alice = "ed25519:" + std::string(64, 'a');
  std::string bob = std::string(64, 'b');  // bare hex is accepted on the command line

  api::TrustMember added;
  RunJson({"trust", "add", "--trust", trust, "--name", "alice", "--member", alice, "--role",
           "platform", "--role", "auditor", "--address", "127.0.0.1:7001", "--json"},
          &added);
  EXPECT_EQ(added.name(), "alice");
  EXPECT_EQ(added.member(), alice);
  ASSERT_EQ(added.roles_size(), 2);
  EXPECT_EQ(added.roles(0), "platform");
  EXPECT_EQ(added.roles(1), "auditor");
  EXPECT_EQ(added.address(), "127.0.0.1:7001");
  RunJson({"trust", "add", "--trust", trust, "--name", "bob", "--member", bob, "--role",
           "authority", "--json"},
          &added);
  EXPECT_EQ(added.member(), "ed25519:" + bob);

  RunResult duplicate = Run({"trust", "add", "--trust", trust, "--name", "carol", "--member", alice,
                             "--role", "platform", "--json"});
  EXPECT_EQ(duplicate.exit_code, 1);
  EXPECT_EQ(duplicate.out, "");
  EXPECT_NE(duplicate.err.find("already trusted"), std::string::npos) << duplicate.err;

  api::TrustList list;
  RunJson({"trust", "list", "--trust", trust, "--json"}, &list);
  ASSERT_EQ(list.members_size(), 2);
  EXPECT_EQ(list.members(0).name(), "alice");
  EXPECT_EQ(list.members(1).name(), "bob");
  EXPECT_EQ(list.members(1).roles(0), "authority");

  api::TrustMember removed;
  RunJson({"trust", "remove", "--trust", trust, "--member", alice, "--json"}, &removed);
  EXPECT_EQ(removed.name(), "alice");
  RunJson({"trust", "list", "--trust", trust, "--json"}, &list);
  ASSERT_EQ(list.members_size(), 1);
  EXPECT_EQ(list.members(0).name(), "bob");

  RunJson({"trust", "remove", "--trust", trust, "--name", "bob", "--json"}, &removed);
  EXPECT_EQ(removed.member(), "ed25519:" + bob);
  RunJson({"trust", "list", "--trust", trust, "--json"}, &list);
  EXPECT_EQ(list.members_size(), 0);

  RunResult gone = Run({"trust", "remove", "--trust", trust, "--name", "bob"});
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_NE(gone.err.find("no trusted member"), std::string::npos) << gone.err;

  RunResult human = Run({"trust", "list", "--trust", trust});
  EXPECT_EQ(human.exit_code, 0);
  EXPECT_NE(human.out.find("No trusted members"), std::string::npos) << human.out;
}

TEST_F(HashmeshKeysCliTest, TrustAddRejectsBadInput) {
  std::string trust = root_ + "/trust.toml";
  std::string id = "ed25519:" + std::string(64, 'a');
  RunResult bad_id = Run({"trust", "add", "--trust", trust, "--name", "a", "--member",
                          "ed25519:1234", "--role", "platform", "--json"});
  EXPECT_EQ(bad_id.exit_code, 1);
  EXPECT_EQ(bad_id.out, "");
  EXPECT_NE(bad_id.err.find("--member"), std::string::npos) << bad_id.err;

  RunResult bad_role =
      Run({"trust", "add", "--trust", trust, "--name", "a", "--member", id, "--role", "admin"});
  EXPECT_EQ(bad_role.exit_code, 1);
  EXPECT_NE(bad_role.err.find("unknown role 'admin'"), std::string::npos) << bad_role.err;

  RunResult bad_address = Run({"trust", "add", "--trust", trust, "--name", "a", "--member", id,
                               "--role", "platform", "--address", "nohost"});
  EXPECT_EQ(bad_address.exit_code, 1);
  EXPECT_NE(bad_address.err.find("HOST:PORT"), std::string::npos) << bad_address.err;
  EXPECT_FALSE(fs::exists(trust));  // nothing written on failure

  RunResult no_dir = Run({"trust", "add", "--trust", root_ + "/no/such/dir/trust.toml", "--name",
                          "a", "--member", id, "--role", "platform"});
  EXPECT_EQ(no_dir.exit_code, 1);
  EXPECT_NE(no_dir.err.find("No such file or directory"), std::string::npos) << no_dir.err;

  RunResult missing = Run({"trust", "list", "--trust", trust});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("does not exist"), std::string::npos) << missing.err;

  std::ofstream(trust) << "[[member]]\nname = \"a\"\nbogus = 1\n";
  RunResult corrupt = Run({"trust", "list", "--trust", trust, "--json"});
  EXPECT_EQ(corrupt.exit_code, 1);
  EXPECT_EQ(corrupt.out, "");
  EXPECT_NE(corrupt.err.find(trust + ":3: member.bogus"), std::string::npos) << corrupt.err;
}

TEST_F(HashmeshKeysCliTest, UsageErrors) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {},
           {"frobnicate"},
           {"init", "--dir", root_ + "/k", "--name", "n", "--bogus"},
           {"init", "--dir", root_ + "/k"},
           {"show"},
           {"trust"},
           {"trust", "remove", "--trust", root_ + "/t.toml"},
           {"trust", "remove", "--trust", root_ + "/t.toml", "--name", "a", "--member", "b"},
       }) {
    RunResult r = Run(args);
    std::string joined;
    for (const std::string& a : args) joined += a + " ";
    EXPECT_EQ(r.exit_code, 2) << joined << "\n" << r.err;
    EXPECT_EQ(r.out, "") << joined;
    EXPECT_NE(r.err, "") << joined;
  }
  EXPECT_FALSE(fs::exists(root_ + "/k"));
}

TEST_F(HashmeshKeysCliTest, Help) {
  RunResult r = Run({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* text : {"init", "show", "trust add", "trust remove", "trust list",
                           "hashmesh-keys init --dir", "--json"}) {
    EXPECT_NE(r.out.find(text), std::string::npos) << text;
  }
  RunResult sub = Run({"trust", "add", "--help"});
  EXPECT_EQ(sub.exit_code, 0);
  EXPECT_NE(sub.out.find("Example:"), std::string::npos) << sub.out;
  EXPECT_NE(sub.out.find("--role"), std::string::npos) << sub.out;
}

}  // namespace
}  // namespace hashmesh

namespace hashmesh {
namespace {

TEST_F(HashmeshKeysCliTest, RotateOfflineSignInstallAndRevokeJson) {
  std::string dir = root_ + "/keys", offline = root_ + "/offline.key";
  api::KeysInfo init;
  RunJson({"init", "--dir", dir, "--name", "node-a", "--json"}, &init);

  api::KeysInfo rotated;
  RunJson({"rotate", "--dir", dir, "--compromised-after", "9", "--json"}, &rotated);
  EXPECT_EQ(rotated.manifest_seq(), 2u);
  EXPECT_EQ(rotated.member_id(), init.member_id());
  EXPECT_NE(rotated.signing_key(), init.signing_key());

  fs::rename(dir + "/member.key", offline);
  RunResult refused = Run({"rotate", "--dir", dir});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("--request"), std::string::npos) << refused.err;

  api::ManifestView request;
  RunJson({"rotate", "--dir", dir, "--request", root_ + "/r.req", "--json"}, &request);
  EXPECT_EQ(request.manifest_seq(), 3u);
  api::ManifestView signed_view;
  RunJson({"sign", "--member-key", offline, "--request", root_ + "/r.req", "--out",
           root_ + "/m.bin", "--json"},
          &signed_view);
  EXPECT_EQ(signed_view.signing_key(), request.signing_key());
  api::KeysInfo installed;
  RunJson({"install", "--dir", dir, "--manifest", root_ + "/m.bin", "--json"}, &installed);
  EXPECT_EQ(installed.manifest_seq(), 3u);
  EXPECT_EQ(installed.signing_key(), request.signing_key());

  // Revocation needs --yes; offline it is written to a file and installed.
  RunResult unconfirmed = Run({"revoke", "--member-key", offline, "--out", root_ + "/rev.bin"});
  EXPECT_EQ(unconfirmed.exit_code, 1);
  EXPECT_NE(unconfirmed.err.find("--yes"), std::string::npos) << unconfirmed.err;
  api::ManifestView revocation;
  RunJson({"revoke", "--member-key", offline, "--out", root_ + "/rev.bin", "--yes", "--json"},
          &revocation);
  EXPECT_TRUE(revocation.revocation());
  RunJson({"install", "--dir", dir, "--manifest", root_ + "/rev.bin", "--json"}, &installed);
  EXPECT_TRUE(installed.revoked());
  EXPECT_EQ(Run({"rotate", "--dir", dir, "--request", root_ + "/r2.req"}).exit_code, 1);
  EXPECT_EQ(Run({"revoke", "--yes"}).exit_code, 2);  // neither --dir nor --member-key
}

TEST_F(HashmeshKeysCliTest, UnknownFlagIsNamed) {
  RunResult r = Run({"--frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--frobnicate"), std::string::npos) << r.err;
  EXPECT_EQ(Run({}).exit_code, 2);
}

}  // namespace
}  // namespace hashmesh
