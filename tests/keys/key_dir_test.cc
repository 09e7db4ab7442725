// Tests for keys/key_dir and keys/tls_cert: key text forms, init and load of a key directory with
// each way it can be wrong, atomic writes, and the TLS certificate read back with OpenSSL.
#include "keys/key_dir.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "common/crypto.h"
#include "common/manifest.h"
#include "keys/tls_cert.h"

namespace hashmesh {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void WriteFile(const std::string& path, const std::string& contents, mode_t mode) {
  ASSERT_TRUE(WriteFileAtomic(path, contents, mode, /*replace=*/true).ok()) << path;
}

uint32_t Mode(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 0xffffffff;
  return st.st_mode & 07777;
}

class KeyDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitCrypto());
    std::string tmpl = ::testing::TempDir() + "key_dir_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/keys";
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string Path(std::string_view file) const { return dir_ + "/" + std::string(file); }

  void Init() {
    Result<KeyDirInfo> info = InitKeyDir(dir_, "node-a");
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    info_ = *info;
  }

  // Loads and expects failure with `code` and a message holding each of `parts`.
  void ExpectLoadError(StatusCode code, std::initializer_list<std::string> parts) {
    Result<NodeIdentity> identity = LoadNodeIdentity(dir_);
    ASSERT_FALSE(identity.ok());
    EXPECT_EQ(identity.status().code(), code) << identity.status().ToString();
    for (const std::string& part : parts) {
      EXPECT_NE(identity.status().message().find(part), std::string::npos)
          << "'" << identity.status().message() << "' lacks '" << part << "'";
    }
  }

  std::string root_;
  std::string dir_;
  KeyDirInfo info_;
};

TEST(KeyTextTest, SeedRoundTrip) {
  ASSERT_TRUE(InitCrypto());
  SecretKey key = SecretKey::Generate();
  std::string text = SeedToText(key.seed());
  EXPECT_EQ(text.size(), 15u + 64u);
  EXPECT_EQ(text.rfind("ed25519-secret:", 0), 0u);
  Result<Seed> back = SeedFromText(text + "\n");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, key.seed());
  EXPECT_EQ(SecretKey::FromSeed(*back).public_key(), key.public_key());
}

TEST(KeyTextTest, SeedRejectsMalformedText) {
  std::string hex(64, 'a');
  EXPECT_FALSE(SeedFromText(hex).ok());                                // no prefix
  EXPECT_FALSE(SeedFromText("ed25519:" + hex).ok());                   // the public prefix
  EXPECT_FALSE(SeedFromText("ed25519-secret:" + hex.substr(2)).ok());  // short
  EXPECT_FALSE(SeedFromText("ed25519-secret:" + hex + "aa").ok());     // long
  EXPECT_FALSE(SeedFromText("ed25519-secret:" + std::string(64, 'g')).ok());
  EXPECT_FALSE(SeedFromText("").ok());
}

TEST(KeyTextTest, PublicKeyRoundTrip) {
  ASSERT_TRUE(InitCrypto());
  SecretKey key = SecretKey::Generate();
  std::string text = KeyToText(key.public_key());
  EXPECT_EQ(text.rfind("ed25519:", 0), 0u);
  Result<PublicKey> back = KeyFromText(text);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, key.public_key());
}

TEST(KeyTextTest, ValidateName) {
  EXPECT_TRUE(ValidateName("node-a", "n").ok());
  EXPECT_TRUE(ValidateName("Acme_1.eu", "n").ok());
  EXPECT_FALSE(ValidateName("", "n").ok());
  EXPECT_FALSE(ValidateName(std::string(65, 'a'), "n").ok());
  EXPECT_FALSE(ValidateName("has space", "n").ok());
  EXPECT_FALSE(ValidateName("-flag", "n").ok());
  EXPECT_FALSE(ValidateName(".hidden", "n").ok());
  EXPECT_FALSE(ValidateName("a\"b", "n").ok());
}

TEST_F(KeyDirTest, InitCreatesFilesWithModes) {
  Init();
  EXPECT_EQ(Mode(dir_), 0700u);
  EXPECT_EQ(Mode(Path("member.key")), 0600u);
  EXPECT_EQ(Mode(Path("node.key")), 0600u);
  EXPECT_EQ(Mode(Path("manifest.bin")), 0644u);
  EXPECT_EQ(Mode(Path("node.crt")), 0644u);
  EXPECT_EQ(ReadFile(Path("name")), "node-a\n");
  // Nothing but the five files: no temporary files left behind.
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 5);

  EXPECT_EQ(info_.name, "node-a");
  EXPECT_EQ(info_.dir, dir_);
  EXPECT_EQ(info_.manifest_seq, 1u);
  EXPECT_TRUE(info_.member_key_present);
  EXPECT_EQ(info_.certificate_path, Path("node.crt"));
}

TEST_F(KeyDirTest, InitManifestVerifiesAndCertifiesNodeKey) {
  Init();
  Result<SecretKey> member = ReadSecretKeyFile(Path("member.key"));
  Result<SecretKey> node = ReadSecretKeyFile(Path("node.key"));
  ASSERT_TRUE(member.ok() && node.ok());
  Result<ManifestInfo> manifest = VerifySignedManifest(ReadFile(Path("manifest.bin")));
  ASSERT_TRUE(manifest.ok()) << manifest.status().ToString();
  EXPECT_EQ(manifest->seq, 1u);
  EXPECT_EQ(manifest->member_key, member->public_key());
  ASSERT_TRUE(manifest->signing_key.has_value());
  EXPECT_EQ(*manifest->signing_key, node->public_key());
  EXPECT_EQ(manifest->compromised_after, 0u);
  EXPECT_NE(member->public_key(), node->public_key());
  EXPECT_EQ(info_.member_key, member->public_key());
  EXPECT_EQ(info_.signing_key, node->public_key());
}

TEST_F(KeyDirTest, InitRefusesToOverwrite) {
  Init();
  std::string node_key = ReadFile(Path("node.key"));
  Result<KeyDirInfo> again = InitKeyDir(dir_, "node-b");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(again.status().message().find("member.key"), std::string::npos);
  EXPECT_EQ(ReadFile(Path("node.key")), node_key);
  EXPECT_EQ(ReadFile(Path("name")), "node-a\n");
}

TEST_F(KeyDirTest, InitRefusesAnyExistingKeyFile) {
  fs::create_directories(dir_);
  WriteFile(Path("node.key"), "ed25519-secret:" + std::string(64, '1') + "\n", 0600);
  Result<KeyDirInfo> info = InitKeyDir(dir_, "node-a");
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(info.status().message().find("node.key"), std::string::npos);
  EXPECT_FALSE(fs::exists(Path("member.key")));
}

TEST_F(KeyDirTest, InitRejectsBadName) {
  Result<KeyDirInfo> info = InitKeyDir(dir_, "bad name");
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(dir_));
}

TEST_F(KeyDirTest, LoadReturnsWhatInitWrote) {
  Init();
  Result<NodeIdentity> identity = LoadNodeIdentity(dir_);
  ASSERT_TRUE(identity.ok()) << identity.status().ToString();
  EXPECT_EQ(identity->node_key.public_key(), info_.signing_key);
  EXPECT_EQ(identity->member_key(), info_.member_key);
  EXPECT_EQ(identity->manifest_bytes, ReadFile(Path("manifest.bin")));
  EXPECT_EQ(identity->manifest.seq, 1u);
  EXPECT_EQ(identity->name, "node-a");
  EXPECT_TRUE(identity->member_key_present);
  EXPECT_EQ(identity->certificate_path, Path("node.crt"));
  EXPECT_EQ(identity->certificate_pem, ReadFile(Path("node.crt")));
  KeyDirInfo info = identity->Info();
  EXPECT_EQ(info.signing_key, info_.signing_key);
  EXPECT_EQ(info.manifest_seq, 1u);
}

TEST_F(KeyDirTest, LoadWithoutMemberKey) {
  Init();
  fs::remove(Path("member.key"));
  Result<NodeIdentity> identity = LoadNodeIdentity(dir_);
  ASSERT_TRUE(identity.ok()) << identity.status().ToString();
  EXPECT_FALSE(identity->member_key_present);
  EXPECT_EQ(identity->member_key(), info_.member_key);
}

TEST_F(KeyDirTest, LoadMissingDir) {
  ExpectLoadError(StatusCode::kNotFound, {dir_, "does not exist"});
}

TEST_F(KeyDirTest, LoadMissingFiles) {
  Init();
  for (std::string file : {"node.key", "manifest.bin", "node.crt", "name"}) {
    SCOPED_TRACE(file);
    std::string saved = ReadFile(Path(file));
    fs::remove(Path(file));
    ExpectLoadError(StatusCode::kNotFound, {Path(file), "missing"});
    WriteFile(Path(file), saved, file == "node.key" ? 0600 : 0644);
  }
  EXPECT_TRUE(LoadNodeIdentity(dir_).ok());
}

TEST_F(KeyDirTest, LoadCorruptSeed) {
  Init();
  WriteFile(Path("node.key"), "ed25519-secret:xyz\n", 0600);
  ExpectLoadError(StatusCode::kCorruption, {Path("node.key"), "corrupt"});
}

TEST_F(KeyDirTest, LoadRefusesGroupReadableSecret) {
  Init();
  ASSERT_EQ(chmod(Path("node.key").c_str(), 0640), 0);
  ExpectLoadError(StatusCode::kPermissionDenied, {Path("node.key"), "0640", "chmod 600"});
  ASSERT_EQ(chmod(Path("node.key").c_str(), 0600), 0);
  ASSERT_EQ(chmod(Path("member.key").c_str(), 0604), 0);
  ExpectLoadError(StatusCode::kPermissionDenied, {Path("member.key"), "0604"});
}

TEST_F(KeyDirTest, LoadRejectsManifestForAnotherKey) {
  Init();
  Result<SecretKey> member = ReadSecretKeyFile(Path("member.key"));
  ASSERT_TRUE(member.ok());
  SecretKey other = SecretKey::Generate();
  Result<std::string> manifest = BuildSignedManifest(*member, &other, 2, 1000, 0);
  ASSERT_TRUE(manifest.ok());
  WriteFile(Path("manifest.bin"), *manifest, 0644);
  ExpectLoadError(StatusCode::kCorruption,
                  {Path("manifest.bin"), "mismatched", KeyToText(other.public_key())});
}

TEST_F(KeyDirTest, LoadRejectsCorruptManifest) {
  Init();
  std::string manifest = ReadFile(Path("manifest.bin"));
  manifest[manifest.size() - 1] ^= 1;  // inside the signing-key signature
  WriteFile(Path("manifest.bin"), manifest, 0644);
  ExpectLoadError(StatusCode::kCorruption, {Path("manifest.bin"), "corrupt", "verify"});
  WriteFile(Path("manifest.bin"), "not a protobuf \xff\xff", 0644);
  ExpectLoadError(StatusCode::kCorruption, {Path("manifest.bin"), "corrupt"});
}

TEST_F(KeyDirTest, LoadRejectsRevokedMember) {
  Init();
  Result<SecretKey> member = ReadSecretKeyFile(Path("member.key"));
  ASSERT_TRUE(member.ok());
  Result<std::string> revocation =
      BuildSignedManifest(*member, nullptr, kRevocationManifestSeq, 1000, 0);
  ASSERT_TRUE(revocation.ok());
  WriteFile(Path("manifest.bin"), *revocation, 0644);
  ExpectLoadError(StatusCode::kFailedPrecondition, {Path("manifest.bin"), "revokes"});
}

TEST_F(KeyDirTest, LoadRejectsMemberKeyOfAnotherMember) {
  Init();
  fs::remove(Path("member.key"));
  ASSERT_TRUE(WriteSecretKeyFile(Path("member.key"), SecretKey::Generate()).ok());
  ExpectLoadError(StatusCode::kCorruption, {Path("member.key"), "mismatched"});
}

TEST_F(KeyDirTest, LoadRejectsCertificateForAnotherKey) {
  Init();
  Result<std::string> cert = MakeSelfSignedCertificate(SecretKey::Generate(), "node-a", 0);
  ASSERT_TRUE(cert.ok());
  WriteFile(Path("node.crt"), *cert, 0644);
  ExpectLoadError(StatusCode::kCorruption, {Path("node.crt"), "mismatched"});
  WriteFile(Path("node.crt"), "-----BEGIN CERTIFICATE-----\nAAAA\n", 0644);
  ExpectLoadError(StatusCode::kCorruption, {Path("node.crt"), "corrupt"});
}

TEST_F(KeyDirTest, LoadRejectsCorruptName) {
  Init();
  WriteFile(Path("name"), "two words\n", 0644);
  ExpectLoadError(StatusCode::kCorruption, {Path("name"), "corrupt"});
}

TEST_F(KeyDirTest, EnsureCreatesThenLoads) {
  Result<NodeIdentity> first = EnsureNodeIdentity(dir_, "default-node");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->name, "default-node");
  Result<NodeIdentity> second = EnsureNodeIdentity(dir_, "other-name");
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->name, "default-node");
  EXPECT_EQ(second->member_key(), first->member_key());
  EXPECT_EQ(second->node_key.public_key(), first->node_key.public_key());
}

TEST_F(KeyDirTest, EnsureReportsBrokenDirInsteadOfReplacingIt) {
  Init();
  fs::remove(Path("manifest.bin"));
  Result<NodeIdentity> identity = EnsureNodeIdentity(dir_, "node-a");
  ASSERT_FALSE(identity.ok());
  EXPECT_NE(identity.status().message().find("manifest.bin"), std::string::npos);
}

TEST_F(KeyDirTest, WriteFileAtomicModesAndNoReplace) {
  fs::create_directories(dir_);
  std::string path = Path("f");
  ASSERT_TRUE(WriteFileAtomic(path, "one", 0640, /*replace=*/false).ok());
  EXPECT_EQ(Mode(path), 0640u);
  Status again = WriteFileAtomic(path, "two", 0640, /*replace=*/false);
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(ReadFile(path), "one");
  ASSERT_TRUE(WriteFileAtomic(path, "three", 0600, /*replace=*/true).ok());
  EXPECT_EQ(ReadFile(path), "three");
  EXPECT_EQ(Mode(path), 0600u);
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1);
}

TEST_F(KeyDirTest, ReadSmallFileBounds) {
  fs::create_directories(dir_);
  WriteFile(Path("big"), std::string(100, 'x'), 0644);
  EXPECT_TRUE(ReadSmallFile(Path("big"), 100).ok());
  Result<std::string> too_big = ReadSmallFile(Path("big"), 99);
  ASSERT_FALSE(too_big.ok());
  EXPECT_NE(too_big.status().message().find("larger than"), std::string::npos);
  EXPECT_EQ(ReadSmallFile(Path("none"), 10).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(ReadSmallFile(dir_, 10).ok());  // a directory
}

// ---- the TLS certificate, read back with OpenSSL ----------------------------------------------

struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
};

std::unique_ptr<X509, X509Free> ParsePemCert(const std::string& pem) {
  std::unique_ptr<BIO, X509Free> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return std::unique_ptr<X509, X509Free>(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

TEST_F(KeyDirTest, CertificateIsEd25519OverNodeKey) {
  Init();
  auto cert = ParsePemCert(ReadFile(Path("node.crt")));
  ASSERT_NE(cert, nullptr);
  EVP_PKEY* pkey = X509_get0_pubkey(cert.get());
  ASSERT_NE(pkey, nullptr);
  EXPECT_EQ(EVP_PKEY_get_id(pkey), EVP_PKEY_ED25519);
  PublicKey raw;
  size_t len = raw.size();
  ASSERT_EQ(EVP_PKEY_get_raw_public_key(pkey, raw.data(), &len), 1);
  EXPECT_EQ(len, 32u);
  EXPECT_EQ(raw, info_.signing_key);
  EXPECT_EQ(X509_get_signature_nid(cert.get()), NID_ED25519);
  EXPECT_EQ(X509_verify(cert.get(), pkey), 1);  // self-signed by the node key

  char cn[128] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, cn, sizeof(cn));
  EXPECT_STREQ(cn, "node-a");
  // Valid now, and for a long time.
  EXPECT_LT(X509_cmp_current_time(X509_get0_notBefore(cert.get())), 0);
  EXPECT_GT(X509_cmp_current_time(X509_get0_notAfter(cert.get())), 0);
  ASN1_TIME* far = ASN1_TIME_new();
  ASSERT_TRUE(ASN1_TIME_set_string_X509(far, "21000101000000Z"));
  EXPECT_GT(ASN1_TIME_compare(X509_get0_notAfter(cert.get()), far), 0);
  ASN1_TIME_free(far);

  Result<PublicKey> ours = CertificatePublicKey(ReadFile(Path("node.crt")));
  ASSERT_TRUE(ours.ok());
  EXPECT_EQ(*ours, info_.signing_key);
}

TEST_F(KeyDirTest, PrivateKeyPemMatchesCertificate) {
  Init();
  Result<NodeIdentity> identity = LoadNodeIdentity(dir_);
  ASSERT_TRUE(identity.ok());
  Result<std::string> pem = PrivateKeyPem(identity->node_key.seed());
  ASSERT_TRUE(pem.ok()) << pem.status().ToString();
  EXPECT_EQ(pem->rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);
  std::unique_ptr<BIO, X509Free> bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  std::unique_ptr<EVP_PKEY, X509Free> pkey(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_NE(pkey, nullptr);
  Seed seed;
  size_t len = seed.size();
  ASSERT_EQ(EVP_PKEY_get_raw_private_key(pkey.get(), seed.data(), &len), 1);
  EXPECT_EQ(seed, identity->node_key.seed());
  auto cert = ParsePemCert(identity->certificate_pem);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_check_private_key(cert.get(), pkey.get()), 1);
}

TEST(TlsCertTest, RejectsBadInput) {
  ASSERT_TRUE(InitCrypto());
  SecretKey key = SecretKey::Generate();
  EXPECT_FALSE(MakeSelfSignedCertificate(key, "", 0).ok());
  EXPECT_FALSE(MakeSelfSignedCertificate(key, std::string(65, 'a'), 0).ok());
  EXPECT_FALSE(CertificatePublicKey("").ok());
  EXPECT_FALSE(CertificatePublicKey("garbage").ok());
}

}  // namespace
}  // namespace hashmesh
