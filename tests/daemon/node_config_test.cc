// hashmeshd's settings: addresses are refused as the file is read, with its line, and the error
// says what to write.
#include "daemon/node_config.h"

#include <gtest/gtest.h>

namespace hashmesh {
namespace {

Status Apply(const std::string& text) {
  auto file = ParseConfigText(text, "node.toml");
  EXPECT_TRUE(file.ok()) << file.status().ToString();
  if (!file.ok()) return file.status();
  NodeConfig config;
  HM_RETURN_IF_ERROR(ApplyConfigFile(*file, &config));
  return ValidateConfig(config);
}

TEST(NodeConfigTest, UnbracketedIpv6RefusedAtLoad) {
  Status s = Apply("data = \"x\"\npeers = [\"::1:7000\"]\n");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            "node.toml:2: key 'peers': peer '::1:7000': put an IPv6 host in brackets: [::1]:7000");
  s = Apply("listen = \"::1:7000\"\n");
  EXPECT_NE(s.message().find("node.toml:1: key 'listen'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("[::1]:7000"), std::string::npos) << s.message();
}

TEST(NodeConfigTest, AddressErrors) {
  EXPECT_NE(Apply("peers = [\"a:0\"]\n").message().find("port must be a number from 1"),
            std::string::npos);
  EXPECT_NE(Apply("peers = [\"a\"]\n").message().find("'a' must be HOST:PORT"), std::string::npos);
  EXPECT_NE(Apply("listen = \":7000\"\n").message().find("empty host"), std::string::npos);
  EXPECT_NE(Apply("metrics = \"127.0.0.1:70000\"\n").message().find("port must be"),
            std::string::npos);
}

TEST(NodeConfigTest, AddressesAccepted) {
  EXPECT_TRUE(Apply("listen = \"[::1]:0\"\npeers = [\"[::1]:7000\", \"b.example:7000\", "
                    "\"10.0.0.2:7000\"]\nmetrics = \":9464\"\n")
                  .ok());
  EXPECT_TRUE(Apply("listen = \"0.0.0.0:7000\"\nmetrics = \"[::1]:9464\"\n").ok());
}

TEST(NodeConfigTest, FlagsCheckedToo) {
  NodeConfig config;
  ASSERT_TRUE(ApplyConfigFlag("peers", "::1:7000", &config).ok());
  Status s = ValidateConfig(config);
  EXPECT_EQ(s.message(), "peer '::1:7000': put an IPv6 host in brackets: [::1]:7000");
}

}  // namespace
}  // namespace hashmesh
