// Signal type names and canonical values.
#include "common/signal_value.h"

#include <gtest/gtest.h>

namespace hashmesh {
namespace {

TEST(SignalValueTest, Types) {
  EXPECT_EQ(*ParseSignalKind("PDQ"), SignalKind::kPdq);
  EXPECT_EQ(*ParseSignalKind("video_md5"), SignalKind::kMd5);
  EXPECT_EQ(SignalKindName(SignalKind::kSha256), "sha256");
  auto bad = ParseSignalKind("phash");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("unknown signal type 'phash'"), std::string::npos);
}

TEST(SignalValueTest, HashValues) {
  EXPECT_EQ(*CanonicalSignalValue(SignalKind::kMd5, "900150983CD24FB0D6963F7D28E17F72"),
            "900150983cd24fb0d6963f7d28e17f72");
  auto short_pdq = CanonicalSignalValue(SignalKind::kPdq, "abcd");
  ASSERT_FALSE(short_pdq.ok());
  EXPECT_EQ(short_pdq.status().message(), "pdq value must be 64 hex characters, got 4");
  EXPECT_FALSE(CanonicalSignalValue(SignalKind::kSha256, std::string(63, 'a') + "x").ok());
  EXPECT_FALSE(CanonicalSignalValue(SignalKind::kUnspecified, "x").ok());
}

TEST(SignalValueTest, Urls) {
  EXPECT_EQ(*NormaliseUrl(" HTTP://Example.COM:80/a?b#frag "), "http://example.com/a?b");
  EXPECT_EQ(*NormaliseUrl("https://EXAMPLE.com:443"), "https://example.com/");
  EXPECT_EQ(*NormaliseUrl("https://example.com:8443/Path"), "https://example.com:8443/Path");
  EXPECT_EQ(*NormaliseUrl("https://example.com?q=1"), "https://example.com/?q=1");
  EXPECT_FALSE(NormaliseUrl("example.com/x").ok());
  EXPECT_FALSE(NormaliseUrl("https:///x").ok());
  EXPECT_FALSE(NormaliseUrl("https://a b.com/").ok());
}

}  // namespace
}  // namespace hashmesh
