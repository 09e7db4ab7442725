// PdqHash text form.
#include "common/pdq_hash.h"

#include "common/hex.h"

namespace hashmesh {

Result<PdqHash> PdqHash::FromHex(std::string_view hex) {
  auto bytes = FromHexFixed<32>(hex, "pdq value");
  if (!bytes.ok()) return bytes.status();
  return FromBytes(*bytes);
}

std::string PdqHash::ToHex() const { return hashmesh::ToHex(ToBytes()); }

PdqHash PdqHash::FromBytes(const std::array<uint8_t, 32>& bytes) {
  PdqHash h;
  for (int i = 0; i < 32; ++i) {
    int from_lsb = 31 - i;
    h.words[from_lsb / 8] |= uint64_t{bytes[i]} << (8 * (from_lsb % 8));
  }
  return h;
}

std::array<uint8_t, 32> PdqHash::ToBytes() const {
  std::array<uint8_t, 32> bytes;
  for (int i = 0; i < 32; ++i) {
    int from_lsb = 31 - i;
    bytes[i] = static_cast<uint8_t>(words[from_lsb / 8] >> (8 * (from_lsb % 8)));
  }
  return bytes;
}

}  // namespace hashmesh
