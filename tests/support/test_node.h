// Test harness: one real hashmeshd from the same build tree's bin/ in a temporary directory,
// talked to over its real unix sockets and through the hashmesh CLI (RunProgram, process.h).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "common/status.h"
#include "daemon/cli/api_client.h"
#include "tests/support/process.h"

namespace hashmesh::testing {

class TestNode {
 public:
  // The node's data directory is `dir`/name.
  TestNode(const std::string& dir, const std::string& name);
  ~TestNode();  // stops the daemon if still running (SIGTERM, then SIGKILL after 30 s)

  // Starts hashmeshd with --data and --name plus `extra` flags; waits until the query socket
  // answers /v1/status (or the process exits: returns its stderr as the error).
  Status Start(const std::vector<std::string>& extra = {});
  // SIGTERM and wait; returns the exit code.
  int Stop();
  // SIGKILL and wait.
  void Kill();
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }  // the daemon's, while running

  // Runs the hashmesh CLI against this node's sockets.
  CommandResult Cli(const std::vector<std::string>& args) const;
  // Raw HTTP on the query or admin socket.
  Result<ClientResponse> Query(std::string_view method, std::string_view target,
                               std::string_view body = "") const;
  Result<ClientResponse> Admin(std::string_view method, std::string_view target,
                               std::string_view body = "") const;

  const std::string& data_dir() const { return data_dir_; }
  std::string socket() const { return data_dir_ + "/query.sock"; }
  std::string admin_socket() const { return data_dir_ + "/admin.sock"; }
  std::string log() const;  // the daemon's stderr so far

 private:
  // Fails the running test if the log written since the last check holds a sanitizer report.
  void CheckLog();

  std::string name_;
  std::string data_dir_;
  std::string log_path_;
  pid_t pid_ = -1;
  size_t log_checked_ = 0;  // bytes of the log already checked by CheckLog
};

}  // namespace hashmesh::testing
