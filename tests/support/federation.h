// A federation of real hashmeshd processes on loopback for tests: keys made with hashmesh-keys,
// a shared trust store naming the trusted members (or a node's own), ports chosen free, edges
// given as dial lists; and readable views of each node's state ("alice:3 bob:2" heads lines).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/host_port.h"
#include "proto/api.pb.h"
#include "tests/support/test_node.h"

namespace hashmesh::testing {

struct MemberSpec {
  std::string name;
  std::string role = "platform";
  // Listed in the shared trust store. An untrusted member still gets keys and a node.
  bool trusted = true;
};

class Federation {
 public:
  // Makes keys for every member and a trust store listing the trusted ones (no addresses).
  explicit Federation(const std::vector<MemberSpec>& members);

  // Starts node i with --listen on its port and --peer for each of `dial`.
  Status Start(size_t i, const std::vector<size_t>& dial,
               const std::vector<std::string>& extra = {});
  // A new node (returned index) running under a copy of node `of`'s key directory: the same
  // member and the same node key, as a cloned machine would. It is not in any trust store twice.
  size_t AddClone(size_t of, const std::string& name);
  // Node i reads its own trust store instead of the shared one, listing only `members` (by index)
  // with their roles. Call before Start(i).
  void SetOwnTrust(size_t i, const std::vector<size_t>& members);

  TestNode& node(size_t i) { return *nodes_[i]; }
  const std::string& name(size_t i) const { return names_[i]; }
  const std::string& member_id(size_t i) const { return member_ids_[i]; }
  std::string address(size_t i) const { return FormatHostPort("127.0.0.1", ports_[i]); }
  std::string keys_dir(size_t i) const;
  const std::string& trust_file() const { return trust_file_; }
  const std::string& dir() const { return dir_.path(); }
  size_t size() const { return nodes_.size(); }

 private:
  TempDir dir_;
  std::string trust_file_;
  std::vector<std::unique_ptr<TestNode>> nodes_;
  std::vector<std::string> names_;
  std::vector<std::string> roles_;
  std::vector<std::string> key_dirs_;
  std::vector<std::string> member_ids_;
  std::vector<std::string> trust_files_;  // per node; empty: the shared one
  std::vector<int> ports_;
};

int FreePort();

// Polls `fn` every 20 ms until it returns true or `seconds` pass.
bool WaitFor(const std::function<bool()>& fn, double seconds = 10);

// ---- reading a node's state, for assertions ----

// /v1/status, or an empty response (node_name "") when the node does not answer.
api::StatusResponse NodeStatus(TestNode& node);
// The node's feed heads as one sorted line, "alice:3 bob:2 carol:5" (names from its trust store,
// else the member id), or "<unreachable: ...>".
std::string HeadsLine(TestNode& node);
// The seq of `member`'s feed at the node, 0 when absent or unreachable.
uint32_t FeedSeq(TestNode& node, const std::string& member);
// Waits until every node in `nodes` shows the same HeadsLine and it is `expected` (if not empty).
// On timeout returns false and describes every node's line in *detail.
bool WaitConverged(Federation& fed, const std::vector<size_t>& nodes, double seconds,
                   std::string* detail, const std::string& expected = "");

// ---- writing ----

// Publishes one PDQ signal through the admin socket (raw HTTP, no CLI process).
Result<api::PublishResponse> PublishSignal(TestNode& node, const std::string& pdq_hex,
                                           const std::string& label = "test/x");
// Publishes `count` signals with values RandomPdqHex(seed), RandomPdqHex(seed + 1), ...; retries
// while the node answers 503 (still recovering its own feed), for at most 20 s in all.
Status PublishMany(TestNode& node, int count, uint32_t seed);

}  // namespace hashmesh::testing
