// Tests for keys/trust_store and keys/roles: the publishing matrix, trust.toml round trips, and
// every load error carrying the file, line and key.
#include "keys/trust_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "keys/key_dir.h"
#include "keys/roles.h"

namespace hashmesh {
namespace {

namespace fs = std::filesystem;

constexpr RecordKind kAllRecordKinds[] = {RecordKind::kSignal, RecordKind::kNotice,
                                          RecordKind::kOpinion, RecordKind::kRetraction,
                                          RecordKind::kManifest};

PublicKey KeyOf(uint8_t fill) {
  PublicKey key;
  key.fill(fill);
  return key;
}

std::string IdOf(uint8_t fill) { return KeyToText(KeyOf(fill)); }

// One line per role: the kinds it may publish.
std::string RenderMatrix() {
  std::string out;
  for (Role role : kAllRoles) {
    out += std::string(RoleName(role)) + ":";
    for (RecordKind kind : kAllRecordKinds) {
      if (RoleMayPublish(role, kind)) out += " " + std::string(RecordKindName(kind));
    }
    out += "\n";
  }
  return out;
}

TEST(RolesTest, PublishingMatrix) {
  EXPECT_EQ(RenderMatrix(),
            "platform: signal notice opinion retraction manifest\n"
            "authority: signal notice retraction manifest\n"
            "auditor: opinion retraction manifest\n"
            "replica: manifest\n");
}

TEST(RolesTest, NamesRoundTrip) {
  for (Role role : kAllRoles) {
    Result<Role> back = ParseRole(RoleName(role));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, role);
  }
  EXPECT_FALSE(ParseRole("Platform").ok());
  EXPECT_FALSE(ParseRole("admin").ok());
}

TEST(RolesTest, AnyRoleMayPublish) {
  std::vector<Role> roles = {Role::kAuditor, Role::kAuthority};
  EXPECT_TRUE(RolesMayPublish(roles, RecordKind::kOpinion));
  EXPECT_TRUE(RolesMayPublish(roles, RecordKind::kNotice));
  EXPECT_FALSE(RolesMayPublish(std::vector<Role>{Role::kReplica}, RecordKind::kSignal));
  EXPECT_FALSE(RolesMayPublish(std::vector<Role>{}, RecordKind::kManifest));
}

TEST(PeerAddressTest, Validates) {
  for (const char* good : {"127.0.0.1:7001", "node.example.org:443", "[::1]:7000",
                           "[2001:db8::1]:65535", "localhost:1"}) {
    EXPECT_TRUE(ValidatePeerAddress(good).ok()) << good;
  }
  for (const char* bad :
       {"", "127.0.0.1", "host:", ":7000", "host:0", "host:65536", "host:7x", "::1:7000",
        "[::1:7000", "[]:7000", "ho st:1", "host:+1", "host:000007000"}) {
    EXPECT_FALSE(ValidatePeerAddress(bad).ok()) << bad;
  }
}

TrustMember Member(std::string name, uint8_t fill, std::vector<Role> roles,
                   std::string address = "") {
  TrustMember member;
  member.name = std::move(name);
  member.member_key = KeyOf(fill);
  member.roles = std::move(roles);
  member.address = std::move(address);
  return member;
}

TEST(TrustStoreTest, LookupsAddAndRemove) {
  TrustStore store;
  ASSERT_TRUE(store.Add(Member("alice", 1, {Role::kPlatform})).ok());
  ASSERT_TRUE(store.Add(Member("bka", 2, {Role::kAuthority}, "bka.example:7000")).ok());
  ASSERT_TRUE(store.Add(Member("carol", 3, {Role::kAuditor})).ok());
  EXPECT_EQ(store.size(), 3u);

  ASSERT_NE(store.FindByKey(KeyOf(2)), nullptr);
  EXPECT_EQ(store.FindByKey(KeyOf(2))->name, "bka");
  EXPECT_EQ(store.FindByKey(KeyOf(9)), nullptr);
  ASSERT_NE(store.FindByName("carol"), nullptr);
  EXPECT_EQ(store.FindByName("carol")->member_key, KeyOf(3));
  EXPECT_TRUE(store.MayPublish(KeyOf(1), RecordKind::kOpinion));
  EXPECT_FALSE(store.MayPublish(KeyOf(2), RecordKind::kOpinion));
  EXPECT_FALSE(store.MayPublish(KeyOf(9), RecordKind::kManifest));

  EXPECT_EQ(store.Add(Member("alice", 4, {Role::kPlatform})).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(store.Add(Member("dave", 1, {Role::kPlatform})).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(store.Add(Member("dave", 4, {})).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store.Add(Member("dave", 4, {Role::kPlatform, Role::kPlatform})).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store.Add(Member("dave", 4, {Role::kPlatform}, "nope")).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store.Add(Member("bad name", 4, {Role::kPlatform})).code(),
            StatusCode::kInvalidArgument);

  // Removing from the front must keep key lookups of the later members right.
  Result<TrustMember> removed = store.RemoveByName("alice");
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(removed->member_key, KeyOf(1));
  ASSERT_NE(store.FindByKey(KeyOf(3)), nullptr);
  EXPECT_EQ(store.FindByKey(KeyOf(3))->name, "carol");
  EXPECT_EQ(store.FindByKey(KeyOf(1)), nullptr);
  ASSERT_TRUE(store.RemoveByKey(KeyOf(2)).ok());
  EXPECT_EQ(store.RemoveByKey(KeyOf(2)).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store.RemoveByName("alice").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store.size(), 1u);
}

class TrustFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "trust_store_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    path_ = root_ + "/trust.toml";
  }
  void TearDown() override { fs::remove_all(root_); }

  void Write(const std::string& text) {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out << text;
  }

  // The load error for `text`, which must fail.
  std::string LoadError(const std::string& text) {
    Write(text);
    Result<TrustStore> store = LoadTrustStore(path_);
    if (store.ok()) return "(loaded)";
    EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument);
    return store.status().message();
  }

  std::string root_;
  std::string path_;
};

TEST_F(TrustFileTest, SaveLoadRoundTrip) {
  TrustStore store;
  ASSERT_TRUE(
      store.Add(Member("alice", 0xa1, {Role::kPlatform, Role::kAuditor}, "127.0.0.1:7001")).ok());
  ASSERT_TRUE(store.Add(Member("bka", 0xb2, {Role::kAuthority})).ok());
  ASSERT_TRUE(SaveTrustStore(path_, store).ok());
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);

  Result<TrustStore> loaded = LoadTrustStore(path_);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ASSERT_EQ(loaded->size(), 2u);
  const TrustMember& alice = loaded->members()[0];
  EXPECT_EQ(alice.name, "alice");
  EXPECT_EQ(alice.member_key, KeyOf(0xa1));
  EXPECT_EQ(alice.roles, (std::vector<Role>{Role::kPlatform, Role::kAuditor}));
  EXPECT_EQ(alice.address, "127.0.0.1:7001");
  EXPECT_EQ(loaded->members()[1].address, "");
  EXPECT_EQ(FormatTrustStore(*loaded), FormatTrustStore(store));
  EXPECT_NE(FormatTrustStore(store).find("[[member]]\nname = \"bka\"\nid = \"" + IdOf(0xb2) +
                                         "\"\nroles = [\"authority\"]\n"),
            std::string::npos);

  // An admin's choice of mode survives a rewrite.
  ASSERT_EQ(chmod(path_.c_str(), 0640), 0);
  ASSERT_TRUE(SaveTrustStore(path_, *loaded).ok());
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
}

TEST_F(TrustFileTest, MissingFileIsNotFound) {
  Result<TrustStore> store = LoadTrustStore(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kNotFound);
  EXPECT_NE(store.status().message().find(path_), std::string::npos);
}

TEST_F(TrustFileTest, EmptyFileIsEmptyStore) {
  Write("# nobody yet\n");
  Result<TrustStore> store = LoadTrustStore(path_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(store->size(), 0u);
}

TEST_F(TrustFileTest, AcceptsInlineFormAndComments) {
  Write(
      "# peers\n"
      "[[member]]  # the first\n"
      "name = \"alice\"\n"
      "id = \"" +
      IdOf(1) +
      "\"\n"
      "roles = [\"platform\",\n  \"auditor\"]\n");
  Result<TrustStore> store = LoadTrustStore(path_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(store->members()[0].roles.size(), 2u);
}

// Every error names the file, the line and the key.
TEST_F(TrustFileTest, ErrorsGiveFileLineAndKey) {
  const std::string id = "id = \"" + IdOf(1) + "\"\n";
  const std::string p = path_ + ":";
  struct Case {
    std::string text;
    std::string expected;  // the start of the message
  };
  const Case cases[] = {
      {"[[member]\n", p + "1: "},
      {"\n\nfoo = 1\n", p + "3: foo: unknown key"},
      {"[member]\nname = \"a\"\n", p + "1: member: must be written as [[member]] tables"},
      {"[[member]]\nname = \"a\"\n" + id + "roles = [\"platform\"]\ncolour = \"red\"\n",
       p + "5: member.colour: unknown key"},
      {"[[member]]\nname = \"a\"\nid = \"ed25519:1234\"\nroles = [\"platform\"]\n",
       p + "3: member.id: ed25519 key must be 64 hex characters"},
      {"[[member]]\nname = \"a\"\nid = \"" + std::string(64, 'a') + "\"\nroles = [\"platform\"]\n",
       p + "3: member.id: must look like ed25519:"},
      {"[[member]]\nname = \"a\"\nid = \"ed25519:" + std::string(64, 'z') +
           "\"\nroles = [\"platform\"]\n",
       p + "3: member.id: "},
      {"[[member]]\nname = \"a\"\n" + id + "roles = [\"platform\", \"admin\"]\n",
       p + "4: member.roles: unknown role 'admin'"},
      {"[[member]]\nname = \"a\"\n" + id + "roles = []\n",
       p + "4: member.roles: must name at least one role"},
      {"[[member]]\nname = \"a\"\n" + id + "roles = \"platform\"\n",
       p + "4: member.roles: must be an array"},
      {"[[member]]\nname = \"a\"\n" + id + "roles = [\"platform\", \"platform\"]\n",
       p + "4: member.roles: duplicate role 'platform'"},
      {"[[member]]\nname = \"a\"\n" + id + "roles = [\"platform\", 1]\n",
       p + "4: member.roles: each role must be a string"},
      {"[[member]]\nname = 7\n" + id + "roles = [\"platform\"]\n",
       p + "2: member.name: must be a string"},
      {"[[member]]\nname = \"two words\"\n" + id + "roles = [\"platform\"]\n",
       p + "2: member.name: member name 'two words' may hold only"},
      {"[[member]]\nname = \"a\"\n" + id + "roles = [\"platform\"]\naddress = \"host\"\n",
       p + "5: member.address: address 'host' must be HOST:PORT"},
      {"[[member]]\nname = \"a\"\n" + id + "roles = [\"platform\"]\naddress = \"h:0\"\n",
       p + "5: member.address: address 'h:0': port must be"},
      {"\n[[member]]\nname = \"a\"\nroles = [\"platform\"]\n", p + "2: member: missing key 'id'"},
      {"[[member]]\nname = \"a\"\n" + id + "roles = [\"platform\"]\n\n[[member]]\nname = \"b\"\n" +
           id + "roles = [\"auditor\"]\n",
       p + "6: member.id: duplicate id " + IdOf(1) + " (first at line 1)"},
      {"[[member]]\nname = \"a\"\n" + id + "roles = [\"platform\"]\n\n[[member]]\nname = \"a\"\n" +
           "id = \"" + IdOf(2) + "\"\nroles = [\"auditor\"]\n",
       p + "6: member.name: duplicate name 'a' (first at line 1)"},
  };
  for (const Case& c : cases) {
    std::string error = LoadError(c.text);
    EXPECT_EQ(error.substr(0, c.expected.size()), c.expected) << "text:\n" << c.text;
  }
}

TEST_F(TrustFileTest, RefusesOversizedFile) {
  Write(std::string(5 << 20, '#'));
  Result<TrustStore> store = LoadTrustStore(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("larger than"), std::string::npos);
}

}  // namespace
}  // namespace hashmesh
