// fork/exec of the built binaries, waits with a deadline, and the sanitizer check of their output.
#include "tests/support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "daemon/cli/api_client.h"

namespace hashmesh::testing {
namespace {

// The first line of a sanitizer report in a child's output, or "". A sanitized child that
// reports still answers or exits like a healthy one often enough (LeakSanitizer only speaks at
// exit, UBSan may recover), so the output is what tells.
std::string SanitizerReport(const std::string& output) {
  static constexpr const char* kMarkers[] = {
      "ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer",
      "ERROR: ThreadSanitizer", "runtime error: ", "ERROR: UndefinedBehaviorSanitizer"};
  for (const char* marker : kMarkers) {
    size_t at = output.find(marker);
    if (at == std::string::npos) continue;
    size_t begin = output.rfind('\n', at);
    begin = begin == std::string::npos ? 0 : begin + 1;
    return output.substr(begin, output.find('\n', at) - begin);
  }
  return "";
}

}  // namespace

void CheckSanitizerReport(const std::string& what, const std::string& output) {
  std::string report = SanitizerReport(output);
  if (!report.empty()) ADD_FAILURE() << what << ": sanitizer report: " << report << "\n" << output;
}

std::string BinPath(const std::string& program) {
  return std::string(HASHMESH_BIN_DIR) + "/" + program;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

pid_t Spawn(const std::string& program, const std::vector<std::string>& args, int out_fd,
            int err_fd, const std::vector<std::string>& env) {
  // argv is built before fork: the child only calls async-signal-safe functions.
  const std::string path = BinPath(program);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(path.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid != 0) return pid;
  dup2(out_fd, STDOUT_FILENO);
  dup2(err_fd, STDERR_FILENO);
  int devnull = open("/dev/null", O_RDONLY);
  dup2(devnull, STDIN_FILENO);
  for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
  execv(path.c_str(), argv.data());
  _exit(127);
}

int WaitExit(pid_t pid, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Serving WaitServing(pid_t pid, const std::string& socket, const ServeWait& how,
                    std::chrono::steady_clock::time_point deadline, int* exit_code) {
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      return Serving::kExited;
    }
    auto r = HttpCall(socket, "GET", "/v1/status", "", how.call_timeout);
    if (r.ok() && r->status == 200 &&
        (!how.need_ready || r->body.find("\"ready\":true") != std::string::npos)) {
      return Serving::kYes;
    }
    std::this_thread::sleep_for(how.poll);
  }
  return Serving::kTimedOut;
}

CommandResult RunProgram(const std::string& program, const std::vector<std::string>& args,
                         std::chrono::seconds timeout, const std::vector<std::string>& env) {
  TempDir tmp;
  const std::string out_path = tmp.path() + "/out", err_path = tmp.path() + "/err";
  int out_fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  int err_fd = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = Spawn(program, args, out_fd, err_fd, env);
  close(out_fd);
  close(err_fd);
  CommandResult r;
  r.exit_code = pid > 0 ? WaitExit(pid, timeout) : -1;
  r.out = ReadFile(out_path);
  r.err = ReadFile(err_path);
  CheckSanitizerReport(program, r.err);
  return r;
}

TempDir::TempDir() {
  std::string pattern = std::filesystem::temp_directory_path().string() + "/hashmesh-test-XXXXXX";
  char* made = mkdtemp(pattern.data());
  path_ = made != nullptr ? made : "";
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

}  // namespace hashmesh::testing
