// Node: one running hashmesh node. Owns the key identity, trust store, LMDB store, PDQ index,
// writer, matcher and the local API servers, and wires the writer's commits to the index and
// to the live streams. Start/Stop/Reload are called from the main thread; everything else runs
// on the threads the parts own.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <vector>

#include "common/status.h"
#include "daemon/node_config.h"

namespace hashmesh {

namespace api {
class ReloadResponse;
}

class Node {
 public:
  // Creates keys and a trust store on first start, opens the store, builds the index, publishes
  // the node's manifest if its feed lacks it, and starts serving. Errors say what to fix.
  static Result<std::unique_ptr<Node>> Start(NodeConfig config);
  ~Node();
  // Stops serving, finishes queued writes, closes the store. Idempotent.
  void Stop();
  // Re-reads the config file (policy, log level) and the trust store, swapping them in whole.
  Result<api::ReloadResponse> Reload();

  struct Impl;

 private:
  explicit Node(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hashmesh
