// Benchmark harness: a hashmeshd child started with exactly the caller's flags (a TestNode adds
// its own and debug logging), timed to ready, and the daemon's CPU time and memory from /proc.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace hashmesh::testing {

// Runs build/bin/<program> with `args` to completion (RunProgram); returns its stdout, or an
// error with its stderr if it exits non-zero.
Result<std::string> RunTool(const std::string& program, const std::vector<std::string>& args);

// One hashmeshd child. Not thread-safe. The destructor kills a daemon still running.
class DaemonProcess {
 public:
  DaemonProcess() = default;
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  // Starts hashmeshd with `args`, its stderr and stdout appended to `log_path`, and waits until
  // GET /v1/status on `socket` answers 200 with "ready": true. Returns the time from fork to that
  // answer. Errors: the daemon exited (with the log's tail) or was not ready within `timeout`.
  Result<double> StartAndWaitReady(const std::vector<std::string>& args,
                                   const std::string& log_path, const std::string& socket,
                                   std::chrono::seconds timeout);
  // SIGTERM and wait; the exit code (-1 if killed by a signal or not running).
  int Stop();

  // User + system CPU seconds the daemon has used so far (all threads).
  double CpuSeconds() const;
  // A size field of /proc/PID/status in bytes ("VmRSS", "RssAnon", "RssFile"); 0 if absent.
  // RssFile counts the LMDB map's pages in the page cache, RssAnon the daemon's own memory.
  uint64_t StatusBytes(std::string_view field) const;
  // Context switches (voluntary + involuntary) of all the daemon's threads so far: a server that
  // hands each request between threads pays for it in wake-ups.
  uint64_t ContextSwitches() const;
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

// User + system CPU seconds used so far by the process `pid` (all threads); 0 if unknown.
double ProcessCpuSeconds(pid_t pid);

// User + system CPU seconds used so far by this process (all threads).
double OwnCpuSeconds();

// CPU seconds the whole machine has spent so far, from /proc/stat: `busy` by any process (all
// cores together), `steal` taken by the hypervisor. The difference to the daemon's and the
// benchmark's own time is what other work on the machine took from the run.
struct MachineCpu {
  double busy = 0;
  double steal = 0;
};
MachineCpu MachineCpuSeconds();

}  // namespace hashmesh::testing
