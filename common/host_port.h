// HOST:PORT, the one text form of a TCP address in configs, trust stores and logs: "1.2.3.4:7000",
// "node.example.org:7000", "[::1]:7000". An IPv6 host needs its brackets, so that the last colon
// is never a guess. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace hashmesh {

struct HostPort {
  std::string host;  // without the brackets of an IPv6 address
  uint16_t port = 0;
};

enum class PortZero { kRefuse, kAllow };  // kAllow for a listener: port 0 asks for a free one

// Parses `text`. Errors name the text and what to write instead: "'h' must be HOST:PORT",
// "'::1:7000': put an IPv6 host in brackets: [::1]:7000", "'h:0': port must be a number from 1
// to 65535", an empty host, a bad bracketed host, characters a host name cannot hold.
Result<HostPort> ParseHostPort(std::string_view text, PortZero zero = PortZero::kRefuse);

// The text form ParseHostPort reads back: brackets around a host that holds a colon.
std::string FormatHostPort(std::string_view host, uint16_t port);
inline std::string FormatHostPort(const HostPort& hp) { return FormatHostPort(hp.host, hp.port); }

}  // namespace hashmesh
