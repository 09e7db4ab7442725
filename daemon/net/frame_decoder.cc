// Peer frame decoding: header, limit, body.
#include "daemon/net/frame_decoder.h"

#include <algorithm>
#include <cstring>

namespace hashmesh {

Result<size_t> FrameDecoder::Consume(std::string_view data, std::optional<std::string>* frame) {
  frame->reset();
  size_t used = 0;
  if (!have_header_) {
    const size_t take = std::min(sizeof(header_) - header_got_, data.size());
    std::memcpy(header_ + header_got_, data.data(), take);
    header_got_ += take;
    used += take;
    if (header_got_ < sizeof(header_)) return used;
    const uint32_t length = (uint32_t{header_[0]} << 24) | (uint32_t{header_[1]} << 16) |
                            (uint32_t{header_[2]} << 8) | uint32_t{header_[3]};
    header_got_ = 0;
    if (length > max_frame_bytes_) {
      return InvalidArgument("frame header announces " + std::to_string(length) +
                             " bytes, more than the " + std::to_string(max_frame_bytes_) +
                             "-byte limit");
    }
    have_header_ = true;
    body_length_ = length;
    body_.clear();
    body_.reserve(std::min(body_length_, kInitialReserve));
  }
  const size_t take = std::min(body_length_ - body_.size(), data.size() - used);
  body_.append(data.data() + used, take);
  used += take;
  if (body_.size() < body_length_) return used;
  have_header_ = false;
  *frame = std::move(body_);
  body_ = std::string();
  return used;
}

std::string FrameDecoder::Progress() const {
  if (have_header_) {
    return std::to_string(body_.size()) + " of " + std::to_string(body_length_) + " body bytes";
  }
  return std::to_string(header_got_) + " of 4 header bytes";
}

}  // namespace hashmesh
