// The one HOST:PORT parser: every form the configs and the trust store accept, and the errors
// that say what to write instead.
#include "common/host_port.h"

#include <gtest/gtest.h>

namespace hashmesh {
namespace {

std::string ErrorOf(std::string_view text, PortZero zero = PortZero::kRefuse) {
  Result<HostPort> r = ParseHostPort(text, zero);
  EXPECT_FALSE(r.ok()) << text;
  if (!r.ok()) EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.ok() ? "" : r.status().message();
}

TEST(HostPortTest, ParsesEveryForm) {
  struct Case {
    const char* text;
    const char* host;
    uint16_t port;
  };
  const Case cases[] = {
      {"127.0.0.1:7000", "127.0.0.1", 7000},
      {"node-1.example.org:443", "node-1.example.org", 443},
      {"hashmesh_b:1", "hashmesh_b", 1},
      {"[::1]:7000", "::1", 7000},
      {"[2001:db8::2]:65535", "2001:db8::2", 65535},
      {"[::ffff:10.0.0.1]:9", "::ffff:10.0.0.1", 9},
  };
  for (const Case& c : cases) {
    Result<HostPort> r = ParseHostPort(c.text);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.status().ToString();
    EXPECT_EQ(r->host, c.host);
    EXPECT_EQ(r->port, c.port);
    EXPECT_EQ(FormatHostPort(*r), c.text);  // the formatter writes what the parser reads
  }
}

TEST(HostPortTest, PortZeroOnlyForListeners) {
  EXPECT_NE(ErrorOf("127.0.0.1:0").find("port must be a number from 1 to 65535"),
            std::string::npos);
  Result<HostPort> any = ParseHostPort("127.0.0.1:0", PortZero::kAllow);
  ASSERT_TRUE(any.ok());
  EXPECT_EQ(any->port, 0);
  EXPECT_NE(ErrorOf("[::1]:65536", PortZero::kAllow).find("from 0 to 65535"), std::string::npos);
}

TEST(HostPortTest, ErrorsSayWhatIsWrong) {
  struct Case {
    const char* text;
    const char* error;
  };
  const Case cases[] = {
      {"host", "'host' must be HOST:PORT"},
      {"", "'' must be HOST:PORT"},
      {"host:", "'host:': port must be a number from 1 to 65535"},
      {"host:70000", "'host:70000': port must be a number from 1 to 65535"},
      {"host:123456", "'host:123456': port must be"},
      {"host:-1", "'host:-1': port must be"},
      {"host:+1", "'host:+1': port must be"},
      {"host:7000 ", "'host:7000 ': port must be"},
      {"host:0x10", "'host:0x10': port must be"},
      {":7000", "':7000': empty host"},
      {"[]:7000", "'[]:7000': empty host"},
      {"::1:7000", "'::1:7000': put an IPv6 host in brackets: [::1]:7000"},
      {"fe80::2:1", "'fe80::2:1': put an IPv6 host in brackets: [fe80::2]:1"},
      {"[::1]", "'[::1]' must be HOST:PORT"},
      {"[::1]7000", "'[::1]7000' must be HOST:PORT"},
      {"[::1:7000", "'[::1:7000': bad bracketed IPv6 host"},
      {"[host]:7000", "'[host]:7000': bad bracketed IPv6 host"},
      {"two words:7000", "'two words:7000': host may hold only"},
      {"a/b:1", "'a/b:1': host may hold only"},
  };
  for (const Case& c : cases) {
    std::string error = ErrorOf(c.text);
    EXPECT_EQ(error.substr(0, std::string(c.error).size()), c.error) << c.text;
  }
  EXPECT_NE(ErrorOf(std::string(254, 'a') + ":1").find("1-253 characters"), std::string::npos);
}

TEST(HostPortTest, FormatsIpv6InBrackets) {
  EXPECT_EQ(FormatHostPort("::1", 7000), "[::1]:7000");
  EXPECT_EQ(FormatHostPort("10.0.0.1", 0), "10.0.0.1:0");
  EXPECT_EQ(FormatHostPort("example.org", 80), "example.org:80");
}

}  // namespace
}  // namespace hashmesh
