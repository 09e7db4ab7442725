// TrustSource: where the writer and sync read the trust store. The node swaps in a new store on reload; a
// caller keeps the snapshot it got for one decision.
#pragma once

#include <memory>

#include "keys/trust_store.h"

namespace hashmesh {

// Thread-safe: Trust() may be called from any thread.
class TrustSource {
 public:
  virtual ~TrustSource() = default;
  // The current trust store; never null.
  virtual std::shared_ptr<const TrustStore> Trust() const = 0;
};

}  // namespace hashmesh
