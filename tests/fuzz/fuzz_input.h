// Helpers shared by the fuzz targets and the seed writer: an input made of several byte strings,
// each a 2-byte big-endian length then the bytes (a length past the end takes the rest), so that
// one input can hold a feed of records, and seeds can be written in the same shape.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hashmesh::fuzz {

inline std::vector<std::string_view> SplitChunks(const uint8_t* data, size_t size) {
  std::vector<std::string_view> chunks;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  while (rest.size() >= 2) {
    const size_t n = (size_t{static_cast<uint8_t>(rest[0])} << 8) | static_cast<uint8_t>(rest[1]);
    rest.remove_prefix(2);
    const size_t take = n < rest.size() ? n : rest.size();
    chunks.push_back(rest.substr(0, take));
    rest.remove_prefix(take);
  }
  return chunks;
}

inline std::string JoinChunks(const std::vector<std::string>& chunks) {
  std::string out;
  for (const auto& c : chunks) {
    const size_t n = c.size() < 0xFFFF ? c.size() : 0xFFFF;
    out += static_cast<char>(n >> 8);
    out += static_cast<char>(n & 0xFF);
    out.append(c, 0, n);
  }
  return out;
}

}  // namespace hashmesh::fuzz
