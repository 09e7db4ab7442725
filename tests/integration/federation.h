// A federation of real hashmeshd processes on loopback for tests: keys made with hashmesh-keys,
// one shared trust store naming every member, ports chosen free, edges given as dial lists.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/test_node.h"

namespace hashmesh::testing {

struct MemberSpec {
  std::string name;
  std::string role = "platform";
};

class Federation {
 public:
  // Makes keys for every member and a trust store listing all of them (no addresses).
  explicit Federation(const std::vector<MemberSpec>& members);

  // Starts node i with --listen on its port and --peer for each of `dial`.
  Status Start(size_t i, const std::vector<size_t>& dial, const std::vector<std::string>& extra = {});
  TestNode& node(size_t i) { return *nodes_[i]; }
  const std::string& member_id(size_t i) const { return member_ids_[i]; }
  std::string address(size_t i) const { return "127.0.0.1:" + std::to_string(ports_[i]); }
  std::string keys_dir(size_t i) const;
  const std::string& trust_file() const { return trust_file_; }
  const std::string& dir() const { return dir_.path(); }
  size_t size() const { return nodes_.size(); }

 private:
  TempDir dir_;
  std::string trust_file_;
  std::vector<std::unique_ptr<TestNode>> nodes_;
  std::vector<std::string> names_;
  std::vector<std::string> member_ids_;
  std::vector<int> ports_;
};

int FreePort();

// Polls `fn` every 20 ms until it returns true or `seconds` pass.
bool WaitFor(const std::function<bool()>& fn, double seconds = 10);

}  // namespace hashmesh::testing
