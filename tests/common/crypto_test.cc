// Signing with domain separation, and hashing.
#include "common/crypto.h"

#include <gtest/gtest.h>

namespace hashmesh {
namespace {

class CryptoTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(InitCrypto()); }
};

TEST_F(CryptoTest, SignVerify) {
  SecretKey key = SecretKey::Generate();
  Signature sig = key.Sign(kRecordPurpose, "hello");
  EXPECT_TRUE(Verify(key.public_key(), kRecordPurpose, AsBytes("hello"), sig));
  EXPECT_FALSE(Verify(key.public_key(), kRecordPurpose, AsBytes("hellp"), sig));
  EXPECT_FALSE(Verify(key.public_key(), kManifestPurpose, AsBytes("hello"), sig))
      << "a signature for one purpose must not verify for another";
  Signature flipped = sig;
  flipped[10] ^= 1;
  EXPECT_FALSE(Verify(key.public_key(), kRecordPurpose, AsBytes("hello"), flipped));
  EXPECT_FALSE(Verify(key.public_key(), kRecordPurpose, AsBytes("hello"),
                      std::span<const uint8_t>(sig.data(), 63)));
  SecretKey other = SecretKey::Generate();
  EXPECT_FALSE(Verify(other.public_key(), kRecordPurpose, AsBytes("hello"), sig));
}

TEST_F(CryptoTest, SeedIsDeterministic) {
  Seed seed{};
  seed[0] = 7;
  SecretKey a = SecretKey::FromSeed(seed);
  SecretKey b = SecretKey::FromSeed(seed);
  EXPECT_EQ(a.public_key(), b.public_key());
  EXPECT_EQ(a.Sign("p", "m"), b.Sign("p", "m"));
}

TEST_F(CryptoTest, Digests) {
  EXPECT_EQ(ToHex(Sha256(AsBytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(ToHex(Md5(AsBytes("abc"))), "900150983cd24fb0d6963f7d28e17f72");
  // Purpose-prefixed hash equals the plain hash of "purpose\0data".
  std::string joined = std::string("hashmesh/id/v1") + '\0' + "abc";
  EXPECT_EQ(Sha256WithPurpose(kRecordIdPurpose, AsBytes("abc")), Sha256(AsBytes(joined)));
}

}  // namespace
}  // namespace hashmesh
