// FrameDecoder: splits the peer byte stream into frames (4-byte big-endian body length, then the
// body), refusing a header that announces more than the limit before any of its body is read.
// Pure and socket-free so that it can be unit-tested and fuzzed. Thread-compatible.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace hashmesh {

class FrameDecoder {
 public:
  explicit FrameDecoder(size_t max_frame_bytes) : max_frame_bytes_(max_frame_bytes) {}

  // Consumes bytes from the front of `data` until one frame is complete or `data` runs out, and
  // returns how many it consumed; a complete frame is moved into *frame (else it is reset). Call
  // again with the rest. InvalidArgument when a header announces more than max_frame_bytes (the
  // stream cannot be resynchronised: close it).
  Result<size_t> Consume(std::string_view data, std::optional<std::string>* frame);

  // True between the first byte of a frame and its last.
  bool mid_frame() const { return have_header_ || header_got_ > 0; }
  // "12 of 100 body bytes" or "2 of 4 header bytes", for errors about a cut stream.
  std::string Progress() const;

 private:
  // Body memory grows as bytes arrive: a bare header must not make us allocate the whole frame.
  static constexpr size_t kInitialReserve = 16 << 10;

  const size_t max_frame_bytes_;
  unsigned char header_[4] = {};
  size_t header_got_ = 0;
  bool have_header_ = false;
  size_t body_length_ = 0;
  std::string body_;
};

}  // namespace hashmesh
