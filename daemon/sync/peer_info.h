// What the node knows of one peer (a dial target, a session, or a banned key), for the API's
// /v1/peers and the metrics; the node renders it as api.PeerView. Plain data.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/hex.h"

namespace hashmesh {

struct PeerInfo {
  std::optional<PublicKey> member;  // admitted sessions and banned keys
  std::string name;
  std::string address;
  std::string state;  // connecting, handshaking, connected, backoff, banned
  uint64_t last_seen_ms = 0;  // 0: never
  uint64_t records_in = 0;
  uint64_t records_out = 0;
  bool outbound = false;
  uint64_t banned_until_ms = 0;  // 0: not banned
  std::string last_error;
  uint64_t bytes_in = 0;  // decrypted bytes (frames and headers) of this session
  uint64_t bytes_out = 0;
  uint64_t frames_in = 0;
  uint64_t frames_out = 0;
  std::optional<PublicKey> node_key;  // of the session's TLS certificate
};

}  // namespace hashmesh
