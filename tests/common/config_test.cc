// TOML loading errors carry file and line.
#include "common/config.h"

#include <gtest/gtest.h>

namespace hashmesh {
namespace {

TEST(ConfigTest, FlattensTables) {
  auto c = ParseConfigText("data = \"/var/lib/x\"\n[policy]\nmin_platforms = 2\nact = true\n"
                           "peers = [\"a:1\", \"b:2\"]\n",
                           "node.toml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(std::get<std::string>(c->values.at("data").value), "/var/lib/x");
  EXPECT_EQ(std::get<int64_t>(c->values.at("policy.min_platforms").value), 2);
  EXPECT_EQ(c->values.at("policy.min_platforms").line, 3);
  EXPECT_EQ(std::get<std::vector<std::string>>(c->values.at("policy.peers").value).size(), 2u);
  EXPECT_EQ(c->Error("policy.act", "bad").message(), "node.toml:4: key 'policy.act': bad");
}

TEST(ConfigTest, SyntaxErrorHasLine) {
  auto c = ParseConfigText("a = 1\nb = \n", "node.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message().rfind("node.toml:2:", 0), 0u) << c.status().message();
}

TEST(ConfigTest, MissingFile) {
  auto c = LoadConfigFile("/nonexistent/hashmesh.toml");
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound);
}

TEST(ConfigTest, MixedArrayRefused) {
  auto c = ParseConfigText("peers = [\"a\", 1]\n", "n.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("array of strings"), std::string::npos);
}

}  // namespace
}  // namespace hashmesh
