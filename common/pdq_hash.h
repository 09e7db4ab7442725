// PdqHash: a 256-bit PDQ fingerprint. Bit k is the k-th least significant bit of the 256-bit
// number whose big-endian hex is the 64-character text form (PDQ's convention: word 15 first).
// A plain value type; thread-safe.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace hashmesh {

inline constexpr int kPdqBits = 256;
inline constexpr int kDefaultPdqThreshold = 31;
inline constexpr int kPdqMinQuality = 50;

struct PdqHash {
  std::array<uint64_t, 4> words{};  // words[0] holds bits 0..63

  static Result<PdqHash> FromHex(std::string_view hex);
  std::string ToHex() const;
  // The 32 bytes of the big-endian 256-bit number (byte 0 most significant), as the hex reads.
  static PdqHash FromBytes(const std::array<uint8_t, 32>& bytes);
  std::array<uint8_t, 32> ToBytes() const;

  bool Bit(int k) const { return (words[k >> 6] >> (k & 63)) & 1; }
  void SetBit(int k) { words[k >> 6] |= uint64_t{1} << (k & 63); }
  void FlipBit(int k) { words[k >> 6] ^= uint64_t{1} << (k & 63); }

  friend bool operator==(const PdqHash&, const PdqHash&) = default;
};

inline int HammingDistance(const PdqHash& a, const PdqHash& b) {
  return std::popcount(a.words[0] ^ b.words[0]) + std::popcount(a.words[1] ^ b.words[1]) +
         std::popcount(a.words[2] ^ b.words[2]) + std::popcount(a.words[3] ^ b.words[3]);
}

}  // namespace hashmesh
