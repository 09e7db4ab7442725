// Text forms of bytes: lowercase hex, and member/node public keys as "ed25519:<64 hex>".
// Pure functions; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace hashmesh {

using Bytes = std::vector<uint8_t>;
using PublicKey = std::array<uint8_t, 32>;
using RecordId = std::array<uint8_t, 32>;

std::string ToHex(std::span<const uint8_t> bytes);
inline std::string ToHex(std::string_view bytes) {
  return ToHex({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
}
// Accepts upper or lower case; refuses odd lengths and non-hex characters.
Result<Bytes> FromHex(std::string_view hex);
// Exactly N bytes of hex (2N characters).
template <size_t N>
Result<std::array<uint8_t, N>> FromHexFixed(std::string_view hex, std::string_view what);

// "ed25519:" + 64 lowercase hex.
std::string KeyToText(const PublicKey& key);
std::string KeyToText(std::string_view raw32);
// Accepts "ed25519:<hex>" and, for convenience, bare 64-character hex.
Result<PublicKey> KeyFromText(std::string_view text);
// Exactly 32 raw bytes (as keys and ids travel in protobuf); `what` names the field in the error.
Result<std::array<uint8_t, 32>> Bytes32(std::string_view raw, std::string_view what);

inline std::string_view AsStringView(std::span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

template <size_t N>
Result<std::array<uint8_t, N>> FromHexFixed(std::string_view hex, std::string_view what) {
  if (hex.size() != 2 * N) {
    return InvalidArgument(std::string(what) + " must be " + std::to_string(2 * N) +
                           " hex characters, got " + std::to_string(hex.size()));
  }
  auto bytes = FromHex(hex);
  if (!bytes.ok()) return bytes.status().WithContext(what);
  std::array<uint8_t, N> out;
  std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

}  // namespace hashmesh
