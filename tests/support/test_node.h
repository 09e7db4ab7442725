// Test harness: runs the real hashmeshd, hashmesh and hashmesh-keys binaries from the same build
// tree's bin/ in a temporary directory, and talks to the daemon over its real unix sockets.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "common/status.h"
#include "daemon/cli/api_client.h"

namespace hashmesh::testing {

struct CommandResult {
  int exit_code = -1;  // -1: killed by a signal or not run
  std::string out;
  std::string err;
};

// Runs build/bin/<program> with `args`, waits (at most `timeout`), and captures its output.
// A sanitizer report on its stderr fails the running test (as it does in a TestNode's log).
CommandResult RunProgram(const std::string& program, const std::vector<std::string>& args,
                         std::chrono::seconds timeout = std::chrono::seconds(60),
                         const std::vector<std::string>& env = {});

// A fresh temporary directory, removed with the object.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

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
