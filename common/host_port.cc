// HOST:PORT parsing: brackets first, then the last colon, then the host's characters and the port.
#include "common/host_port.h"

#include <charconv>

namespace hashmesh {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

bool IsIpv6Char(char c) {
  return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == ':' ||
         c == '.';
}

}  // namespace

Result<HostPort> ParseHostPort(std::string_view text, PortZero zero) {
  const std::string quoted = "'" + std::string(text) + "'";
  std::string_view host;
  std::string_view port;
  bool bracketed = text.starts_with('[');
  if (bracketed) {
    size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return InvalidArgument(quoted + ": bad bracketed IPv6 host (no ']')");
    }
    if (close + 1 == text.size() || text[close + 1] != ':') {
      return InvalidArgument(quoted + " must be HOST:PORT (no port after ']')");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return InvalidArgument(quoted + " must be HOST:PORT");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }

  if (host.empty()) return InvalidArgument(quoted + ": empty host");
  if (bracketed) {
    for (char c : host) {
      if (!IsIpv6Char(c)) return InvalidArgument(quoted + ": bad bracketed IPv6 host");
    }
  } else if (host.find(':') != std::string_view::npos) {
    return InvalidArgument(quoted + ": put an IPv6 host in brackets: [" + std::string(host) +
                           "]:" + std::string(port));
  } else {
    if (host.size() > 253) return InvalidArgument(quoted + ": host must be 1-253 characters");
    for (char c : host) {
      if (!IsNameChar(c)) {
        return InvalidArgument(quoted + ": host may hold only letters, digits, '-', '_' and '.'");
      }
    }
  }

  const unsigned min = zero == PortZero::kAllow ? 0 : 1;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || port.size() > 5 || ec != std::errc() || end != port.data() + port.size() ||
      value < min || value > 65535) {
    return InvalidArgument(quoted + ": port must be a number from " + std::to_string(min) +
                           " to 65535");
  }
  return HostPort{std::string(host), static_cast<uint16_t>(value)};
}

std::string FormatHostPort(std::string_view host, uint16_t port) {
  std::string out;
  if (host.find(':') != std::string_view::npos) {
    out = "[" + std::string(host) + "]";
  } else {
    out = std::string(host);
  }
  return out + ":" + std::to_string(port);
}

}  // namespace hashmesh
