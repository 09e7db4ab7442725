// Test harness: runs the real hashmeshd, hashmesh and hashmesh-keys binaries from build/bin in a
// temporary directory, and talks to the daemon over its real unix sockets.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "common/status.h"
#include "daemon/api_client.h"

namespace hashmesh::testing {

struct CommandResult {
  int exit_code = -1;  // -1: killed by a signal or not run
  std::string out;
  std::string err;
};

// Runs build/bin/<program> with `args`, waits (at most `timeout`), and captures its output.
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
  ~TestNode();  // kills the daemon if still running

  // Starts hashmeshd with --data and --name plus `extra` flags; waits until the query socket
  // answers /v1/status (or the process exits: returns its stderr as the error).
  Status Start(const std::vector<std::string>& extra = {});
  // SIGTERM and wait; returns the exit code.
  int Stop();
  // SIGKILL and wait.
  void Kill();
  bool running() const { return pid_ > 0; }

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
  std::string name_;
  std::string data_dir_;
  std::string log_path_;
  pid_t pid_ = -1;
};

}  // namespace hashmesh::testing
