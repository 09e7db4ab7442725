// Tests for keys/key_rotation: rotation with the member key at hand and kept offline, a rotation
// interrupted after its commit point, and revocation.
#include "keys/key_rotation.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/clock.h"
#include "common/manifest.h"
#include "keys/tls_cert.h"
#include "proto/records.pb.h"

namespace hashmesh {
namespace {

namespace fs = std::filesystem;

class KeyRotationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitCrypto());
    std::string tmpl = ::testing::TempDir() + "key_rotation_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/keys";
    auto info = InitKeyDir(dir_, "node-a");
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    first_ = *info;
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string Path(std::string_view file) const { return KeyDirPath(dir_, file); }

  // Moves member.key out of the node's directory, as a trust admin keeping it offline would.
  std::string TakeMemberKeyOffline() {
    std::string offline = root_ + "/offline.key";
    fs::rename(Path(kMemberKeyFile), offline);
    return offline;
  }

  std::string root_, dir_;
  KeyDirInfo first_;
};

TEST_F(KeyRotationTest, RotateWithTheMemberKeyInTheDirectory) {
  auto rotated = RotateNodeKey(dir_, /*compromised_after=*/0);
  ASSERT_TRUE(rotated.ok()) << rotated.status().ToString();
  EXPECT_EQ(rotated->member_key, first_.member_key);
  EXPECT_EQ(rotated->manifest_seq, 2u);
  EXPECT_NE(rotated->signing_key, first_.signing_key);
  EXPECT_FALSE(fs::exists(Path(kNextNodeKeyFile)));

  auto identity = LoadNodeIdentity(dir_);
  ASSERT_TRUE(identity.ok()) << identity.status().ToString();
  EXPECT_EQ(identity->node_key.public_key(), rotated->signing_key);
  EXPECT_EQ(*identity->manifest.signing_key, rotated->signing_key);
  EXPECT_EQ(*CertificatePublicKey(identity->certificate_pem), rotated->signing_key);

  // A compromise point is carried in the next manifest.
  auto again = RotateNodeKey(dir_, /*compromised_after=*/17);
  ASSERT_TRUE(again.ok());
  auto bytes = ReadSmallFile(Path(kManifestFile), kMaxManifestFileBytes);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  auto manifest = VerifySignedManifest(*bytes);
  ASSERT_TRUE(manifest.ok());
  EXPECT_EQ(manifest->seq, 3u);
  EXPECT_EQ(manifest->compromised_after, 17u);
}

TEST_F(KeyRotationTest, OfflineMemberKeyRotatesInThreeSteps) {
  std::string offline = TakeMemberKeyOffline();
  EXPECT_EQ(RotateNodeKey(dir_, 0).status().code(), StatusCode::kFailedPrecondition);

  auto request = RequestRotation(dir_, 0);
  ASSERT_TRUE(request.ok()) << request.status().ToString();
  EXPECT_TRUE(fs::exists(Path(kNextNodeKeyFile)));
  // The node still loads with its current key while the request is out.
  auto pending = LoadNodeIdentity(dir_);
  ASSERT_TRUE(pending.ok()) << pending.status().ToString();
  EXPECT_EQ(pending->node_key.public_key(), first_.signing_key);
  EXPECT_TRUE(pending->Info().rotation_pending);
  // Asking again gives a request for the same next key.
  auto request2 = RequestRotation(dir_, 0);
  ASSERT_TRUE(request2.ok());
  pb::SignedManifest r1, r2;
  r1.ParseFromString(*request);
  r2.ParseFromString(*request2);
  EXPECT_EQ(ReadVerifiedManifest(r1)->signing_key, ReadVerifiedManifest(r2)->signing_key);

  // Signed elsewhere with the member key.
  auto member = ReadSecretKeyFile(offline);
  ASSERT_TRUE(member.ok());
  auto manifest = SignManifestRequest(*member, *request);
  ASSERT_TRUE(manifest.ok()) << manifest.status().ToString();

  // Another member's manifest, or a stale one, does not install.
  SecretKey stranger = SecretKey::Generate();
  SecretKey some_key = SecretKey::Generate();
  auto foreign = BuildSignedManifest(stranger, &some_key, 2, NowMs(), 0);
  EXPECT_EQ(InstallManifest(dir_, *foreign).status().code(), StatusCode::kInvalidArgument);
  auto other_key = BuildSignedManifest(*member, &some_key, 2, NowMs(), 0);
  EXPECT_EQ(InstallManifest(dir_, *other_key).status().code(), StatusCode::kInvalidArgument);

  auto installed = InstallManifest(dir_, *manifest);
  ASSERT_TRUE(installed.ok()) << installed.status().ToString();
  EXPECT_EQ(installed->manifest_seq, 2u);
  EXPECT_FALSE(installed->rotation_pending);
  EXPECT_EQ(installed->signing_key, ReadVerifiedManifest(r1)->signing_key);
  EXPECT_FALSE(installed->member_key_present);
  // Installing it twice is refused: it no longer supersedes.
  EXPECT_EQ(InstallManifest(dir_, *manifest).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(KeyRotationTest, RotationInterruptedAfterItsManifestIsFinishedOnLoad) {
  // The state a crash right after writing manifest.bin leaves: node.key.next certified, node.key
  // and node.crt still the old ones.
  auto request = RequestRotation(dir_, 0);
  ASSERT_TRUE(request.ok());
  auto member = ReadSecretKeyFile(Path(kMemberKeyFile));
  auto manifest = SignManifestRequest(*member, *request);
  ASSERT_TRUE(WriteFileAtomic(Path(kManifestFile), *manifest, 0644, /*replace=*/true).ok());
  auto next = ReadSecretKeyFile(Path(kNextNodeKeyFile));
  ASSERT_TRUE(next.ok());

  auto identity = LoadNodeIdentity(dir_);
  ASSERT_TRUE(identity.ok()) << identity.status().ToString();
  EXPECT_EQ(identity->node_key.public_key(), next->public_key());
  EXPECT_EQ(*CertificatePublicKey(identity->certificate_pem), next->public_key());
  EXPECT_EQ(identity->manifest.seq, 2u);
  EXPECT_FALSE(fs::exists(Path(kNextNodeKeyFile)));
}

TEST_F(KeyRotationTest, RevocationIsKeptAndEndsEveryChange) {
  auto revoked = RevokeMemberKey(dir_);
  ASSERT_TRUE(revoked.ok()) << revoked.status().ToString();
  EXPECT_TRUE(revoked->revoked);
  auto identity = LoadNodeIdentity(dir_);
  ASSERT_TRUE(identity.ok()) << identity.status().ToString();
  auto revocation = VerifySignedManifest(identity->revocation_bytes);
  ASSERT_TRUE(revocation.ok());
  EXPECT_TRUE(revocation->revoked());
  EXPECT_EQ(revocation->member_key, first_.member_key);
  // The node keeps its signing identity (it signs the revocation record), but nothing changes.
  EXPECT_EQ(identity->node_key.public_key(), first_.signing_key);
  EXPECT_EQ(RotateNodeKey(dir_, 0).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(RequestRotation(dir_, 0).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(RevokeMemberKey(dir_).status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(KeyRotationTest, OfflineRevocationInstalls) {
  std::string offline = TakeMemberKeyOffline();
  EXPECT_EQ(RevokeMemberKey(dir_).status().code(), StatusCode::kFailedPrecondition);
  auto member = ReadSecretKeyFile(offline);
  SecretKey stranger = SecretKey::Generate();
  EXPECT_EQ(InstallManifest(dir_, *BuildRevocation(stranger)).status().code(),
            StatusCode::kInvalidArgument);
  auto installed = InstallManifest(dir_, *BuildRevocation(*member));
  ASSERT_TRUE(installed.ok()) << installed.status().ToString();
  EXPECT_TRUE(installed->revoked);
}

TEST_F(KeyRotationTest, CorruptRevocationFileIsReported) {
  std::ofstream(Path(kRevocationFile)) << "not a manifest";
  auto identity = LoadNodeIdentity(dir_);
  EXPECT_EQ(identity.status().code(), StatusCode::kCorruption);
  EXPECT_NE(identity.status().message().find("revocation.bin"), std::string::npos);
}

}  // namespace
}  // namespace hashmesh
