// Child processes of the tests and benches: the real hashmeshd, hashmesh and hashmesh-keys from
// the same build tree's bin/, run with fork/exec; one way to start them and to wait for a daemon.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "common/status.h"

namespace hashmesh::testing {

// build/bin/<program> of this build tree.
std::string BinPath(const std::string& program);

// fork + exec of BinPath(program) with stdout and stderr on the given descriptors, stdin on
// /dev/null and `env` ("NAME=value") added. Returns the child's pid (-1 if fork failed).
pid_t Spawn(const std::string& program, const std::vector<std::string>& args, int out_fd,
            int err_fd, const std::vector<std::string>& env = {});

// Reaps `pid`; after `timeout` kills it with SIGKILL first. The exit code, -1 if killed by a
// signal (or by the timeout).
int WaitExit(pid_t pid, std::chrono::seconds timeout);

// How to wait for a daemon to serve.
struct ServeWait {
  bool need_ready = false;  // also "ready": true in the status (its own feed recovered)
  std::chrono::milliseconds poll{20};
  std::chrono::milliseconds call_timeout{500};  // of each GET /v1/status
};
// Waits until the hashmeshd `pid` answers GET /v1/status on `socket` with 200 until `deadline`.
// kExited: the daemon exited first (it is reaped, its exit code in *exit_code, -1 for a signal);
// kTimedOut: it is left running.
enum class Serving { kYes, kExited, kTimedOut };
Serving WaitServing(pid_t pid, const std::string& socket, const ServeWait& how,
                    std::chrono::steady_clock::time_point deadline, int* exit_code);

std::string ReadFile(const std::string& path);

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

// Fails the running test when `output` of `what` holds a sanitizer report, and shows all of it.
void CheckSanitizerReport(const std::string& what, const std::string& output);

// A fresh temporary directory, removed with the object.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace hashmesh::testing
