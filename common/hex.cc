// Hex and key text forms.
#include "common/hex.h"

namespace hashmesh {
namespace {

constexpr char kDigits[] = "0123456789abcdef";
constexpr std::string_view kKeyPrefix = "ed25519:";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string ToHex(std::span<const uint8_t> bytes) {
  std::string out(bytes.size() * 2, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return out;
}

Result<Bytes> FromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) return InvalidArgument("hex has an odd number of characters");
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return InvalidArgument("not a hex character at position " +
                             std::to_string(hi < 0 ? 2 * i : 2 * i + 1));
    }
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

std::string KeyToText(const PublicKey& key) { return std::string(kKeyPrefix) + ToHex(key); }

std::string KeyToText(std::string_view raw32) { return std::string(kKeyPrefix) + ToHex(raw32); }

Result<std::array<uint8_t, 32>> Bytes32(std::string_view raw, std::string_view what) {
  if (raw.size() != 32) return InvalidArgument(std::string(what) + " is not 32 bytes");
  std::array<uint8_t, 32> out;
  std::copy(raw.begin(), raw.end(), out.begin());
  return out;
}

Result<PublicKey> KeyFromText(std::string_view text) {
  if (text.starts_with(kKeyPrefix)) {
    text.remove_prefix(kKeyPrefix.size());
  } else if (text.find(':') != std::string_view::npos) {
    return InvalidArgument("key must look like ed25519:<64 hex characters>");
  }
  return FromHexFixed<32>(text, "ed25519 key");
}

}  // namespace hashmesh
