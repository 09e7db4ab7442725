// LocalIdentity: who this node is to its peers. The node key and manifest change when the key
// rotates; the member stays.
#pragma once

#include <string>

#include "common/crypto.h"

namespace hashmesh {

// Our node key and serialised manifest as peers see them.
struct LocalPeerKeys {
  PublicKey node_key{};
  std::string manifest;
};

// Thread-safe: PeerKeys() may be called from any thread.
class LocalIdentity {
 public:
  virtual ~LocalIdentity() = default;
  // For Hello, and to recognise a connection to ourselves or a duplicate session.
  virtual LocalPeerKeys PeerKeys() const = 0;
};

}  // namespace hashmesh
