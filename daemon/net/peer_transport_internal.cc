// Address printing and small helpers for the peer transport.
#include "daemon/net/peer_transport_internal.h"

#include <boost/asio/ssl/error.hpp>

#include "common/host_port.h"

namespace hashmesh::transport_internal {

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
  return FormatHostPort(ip, endpoint.port());
}

std::string Seconds(std::chrono::seconds s) { return std::to_string(s.count()) + " s"; }

bool IsTlsError(const ErrorCode& ec) { return ec.category() == net::error::get_ssl_category(); }

}  // namespace hashmesh::transport_internal
