// Address parsing and printing for the peer transport.
#include "daemon/net/peer_transport_internal.h"

#include <boost/asio/ssl/error.hpp>

namespace hashmesh::transport_internal {

// "host:port", "1.2.3.4:7000", "[::1]:7000".
Result<HostPort> ParseHostPort(std::string_view text, bool allow_port_zero) {
  std::string_view host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return InvalidArgument("expected [IPV6]:PORT, got \"" + std::string(text) + "\"");
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return InvalidArgument("expected HOST:PORT, got \"" + std::string(text) + "\"");
    }
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return InvalidArgument("IPv6 addresses need brackets: [" + std::string(host) + "]:PORT");
    }
  }
  if (host.empty()) return InvalidArgument("empty host in \"" + std::string(text) + "\"");
  uint32_t port = 0;
  bool digits = !port_text.empty() && port_text.size() <= 5;
  for (char c : port_text) {
    if (c < '0' || c > '9') digits = false;
    port = port * 10 + static_cast<uint32_t>(c - '0');
  }
  if (!digits || port > 65535 || (port == 0 && !allow_port_zero)) {
    return InvalidArgument("bad port \"" + std::string(port_text) + "\" in \"" + std::string(text) +
                           "\"");
  }
  return HostPort{std::string(host), static_cast<uint16_t>(port)};
}

// IPv4-mapped IPv6 addresses (from a dual-stack listener) in IPv4 form, so that bans and logs
// see one spelling per host.
std::string AddressText(const net::ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6()).to_string();
  }
  return address.to_string();
}

std::string EndpointText(const tcp::endpoint& endpoint) {
  std::string ip = AddressText(endpoint.address());
  std::string port = std::to_string(endpoint.port());
  return ip.find(':') == std::string::npos ? ip + ":" + port : "[" + ip + "]:" + port;
}

std::string Seconds(std::chrono::seconds s) { return std::to_string(s.count()) + " s"; }

bool IsTlsError(const ErrorCode& ec) { return ec.category() == net::error::get_ssl_category(); }

}  // namespace hashmesh::transport_internal
