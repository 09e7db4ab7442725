// Hex and key text forms.
#include "common/hex.h"

#include <gtest/gtest.h>

#include "common/pdq_hash.h"

namespace hashmesh {
namespace {

TEST(HexTest, RoundTrip) {
  Bytes b = {0x00, 0x01, 0xab, 0xff};
  EXPECT_EQ(ToHex(b), "0001abff");
  auto back = FromHex("0001ABff");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, b);
}

TEST(HexTest, RejectsMalformed) {
  EXPECT_EQ(FromHex("abc").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(FromHex("zz").status().message(), "not a hex character at position 0");
  EXPECT_FALSE((FromHexFixed<4>("0011223", "id")).ok());
  EXPECT_EQ((FromHexFixed<2>("001122", "id")).status().message(),
            "id must be 4 hex characters, got 6");
}

TEST(HexTest, KeyText) {
  PublicKey key{};
  key[0] = 0xab;
  key[31] = 0x01;
  std::string text = KeyToText(key);
  EXPECT_EQ(text, "ed25519:ab" + std::string(60, '0') + "01");
  auto parsed = KeyFromText(text);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, key);
  EXPECT_TRUE(KeyFromText(text.substr(8)).ok()) << "bare hex is accepted";
  EXPECT_FALSE(KeyFromText("rsa:" + text.substr(8)).ok());
  EXPECT_FALSE(KeyFromText("ed25519:abcd").ok());
  EXPECT_FALSE(KeyFromText("ed25519:" + std::string(63, '0') + "g").ok());
}

TEST(PdqHashTest, HexBitOrder) {
  // Bit k is the k-th least significant bit of the big-endian number the hex spells.
  auto h = PdqHash::FromHex(std::string(63, '0') + "1");
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->Bit(0));
  EXPECT_FALSE(h->Bit(1));
  auto top = PdqHash::FromHex("8" + std::string(63, '0'));
  ASSERT_TRUE(top.ok());
  EXPECT_TRUE(top->Bit(255));
  EXPECT_EQ(HammingDistance(*h, *top), 2);
  const std::string ref = "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22";
  EXPECT_EQ(PdqHash::FromHex(ref)->ToHex(), ref);
  EXPECT_EQ(PdqHash::FromBytes(PdqHash::FromHex(ref)->ToBytes()).ToHex(), ref);
  EXPECT_FALSE(PdqHash::FromHex(ref.substr(1)).ok());
}

}  // namespace
}  // namespace hashmesh
