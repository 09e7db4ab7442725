// Tests for daemon/frame_decoder: frames split anywhere, zero-length frames, the size limit.
#include "daemon/net/frame_decoder.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace hashmesh {
namespace {

std::string Frame(const std::string& body) {
  const uint32_t n = static_cast<uint32_t>(body.size());
  std::string out = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                     static_cast<char>(n >> 8), static_cast<char>(n)};
  return out + body;
}

// Feeds `stream` in pieces of `piece` bytes and renders the frames as "a|bc|" or "error: ...".
std::string Decode(const std::string& stream, size_t piece, size_t limit = 16) {
  FrameDecoder decoder(limit);
  std::string out;
  for (size_t at = 0; at < stream.size(); at += piece) {
    std::string_view rest = std::string_view(stream).substr(at, piece);
    while (true) {
      std::optional<std::string> frame;
      auto used = decoder.Consume(rest, &frame);
      if (!used.ok()) return "error: " + used.status().message();
      rest.remove_prefix(*used);
      if (!frame) break;
      out += *frame + "|";
    }
  }
  if (decoder.mid_frame()) out += "(" + decoder.Progress() + ")";
  return out;
}

TEST(FrameDecoderTest, SplitsFramesWhereverTheBytesArrive) {
  const std::string stream = Frame("a") + Frame("") + Frame("bcd") + Frame("0123456789abcdef");
  for (size_t piece : {1, 2, 3, 5, 7, 64}) {
    EXPECT_EQ(Decode(stream, piece), "a||bcd|0123456789abcdef|") << "piece " << piece;
  }
}

TEST(FrameDecoderTest, ReportsACutFrame) {
  EXPECT_EQ(Decode(Frame("abc").substr(0, 2), 1), "(2 of 4 header bytes)");
  EXPECT_EQ(Decode(Frame("abc").substr(0, 5), 2), "(1 of 3 body bytes)");
}

TEST(FrameDecoderTest, RefusesAHeaderOverTheLimitBeforeItsBody) {
  EXPECT_EQ(Decode(Frame("a") + Frame(std::string(17, 'x')).substr(0, 4), 64),
            "error: frame header announces 17 bytes, more than the 16-byte limit");
  EXPECT_EQ(Decode(std::string("\xff\xff\xff\xff", 4), 4),
            "error: frame header announces 4294967295 bytes, more than the 16-byte limit");
}

}  // namespace
}  // namespace hashmesh
