// The benchmarks' daemon: started through process.h, ready when its status says so; /proc figures.
#include "tests/support/daemon_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/process.h"

namespace hashmesh::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string Tail(const std::string& text, size_t n) {
  return text.size() <= n ? text : "..." + text.substr(text.size() - n);
}

}  // namespace

Result<std::string> RunTool(const std::string& program, const std::vector<std::string>& args) {
  CommandResult r = RunProgram(program, args, std::chrono::seconds(600));
  if (r.exit_code != 0) return Internal(program + " failed: " + Tail(r.err, 2000));
  return r.out;
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

Result<double> DaemonProcess::StartAndWaitReady(const std::vector<std::string>& args,
                                                const std::string& log_path,
                                                const std::string& socket,
                                                std::chrono::seconds timeout) {
  int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) return IoError("cannot open " + log_path);
  const auto started = Clock::now();
  pid_ = Spawn("hashmeshd", args, log_fd, log_fd);
  close(log_fd);
  if (pid_ < 0) return IoError("fork failed");
  // Polls often: the start-up time is part of what is measured.
  int code = -1;
  switch (WaitServing(pid_, socket,
                      {.need_ready = true,
                       .poll = std::chrono::milliseconds(5),
                       .call_timeout = std::chrono::milliseconds(1000)},
                      started + timeout, &code)) {
    case Serving::kYes:
      return std::chrono::duration<double>(Clock::now() - started).count();
    case Serving::kExited:
      pid_ = -1;
      return Unavailable("hashmeshd exited: " + Tail(ReadFile(log_path), 2000));
    case Serving::kTimedOut:
      break;
  }
  return Unavailable("hashmeshd not ready within " + std::to_string(timeout.count()) +
                     " s: " + Tail(ReadFile(log_path), 2000));
}

int DaemonProcess::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

double DaemonProcess::CpuSeconds() const { return ProcessCpuSeconds(pid_); }

double ProcessCpuSeconds(pid_t pid) {
  // /proc/PID/stat: fields 14 and 15 (utime, stime) in clock ticks, after "(comm)", which may
  // hold spaces.
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream in(stat.substr(paren + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

uint64_t DaemonProcess::StatusBytes(std::string_view field) const {
  std::istringstream in(ReadFile("/proc/" + std::to_string(pid_) + "/status"));
  std::string line;
  const std::string prefix = std::string(field) + ":";
  while (std::getline(in, line)) {
    if (line.starts_with(prefix)) return std::stoull(line.substr(prefix.size())) * 1024;  // kB
  }
  return 0;
}

uint64_t DaemonProcess::ContextSwitches() const {
  uint64_t total = 0;
  std::error_code ec;
  const std::string tasks = "/proc/" + std::to_string(pid_) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::istringstream in(ReadFile(task.path().string() + "/status"));
    std::string line;
    while (std::getline(in, line)) {
      if (line.starts_with("voluntary_ctxt_switches:")) {
        total += std::stoull(line.substr(24));
      } else if (line.starts_with("nonvoluntary_ctxt_switches:")) {
        total += std::stoull(line.substr(27));
      }
    }
  }
  return total;
}

double OwnCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto secs = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

MachineCpu MachineCpuSeconds() {
  // "cpu  user nice system idle iowait irq softirq steal guest guest_nice" in clock ticks; guest
  // time is already counted in user.
  std::istringstream in(ReadFile("/proc/stat"));
  std::string cpu;
  unsigned long long v[8] = {};
  in >> cpu;
  for (auto& x : v) in >> x;
  const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
  MachineCpu out;
  out.busy = static_cast<double>(v[0] + v[1] + v[2] + v[5] + v[6]) / tick;
  out.steal = static_cast<double>(v[7]) / tick;
  return out;
}

}  // namespace hashmesh::testing
