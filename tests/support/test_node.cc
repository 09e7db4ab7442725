// Test harness implementation: fork/exec of the real binaries.
#include "tests/support/test_node.h"

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

// Fails the running test when `output` of `what` holds a sanitizer report, and shows all of it.
void CheckSanitizerReport(const std::string& what, const std::string& output) {
  std::string report = SanitizerReport(output);
  if (!report.empty()) ADD_FAILURE() << what << ": sanitizer report: " << report << "\n" << output;
}

std::string BinPath(const std::string& program) { return std::string(HASHMESH_BIN_DIR) + "/" + program; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

pid_t Spawn(const std::string& program, const std::vector<std::string>& args, int out_fd,
            int err_fd, const std::vector<std::string>& env) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  dup2(out_fd, STDOUT_FILENO);
  dup2(err_fd, STDERR_FILENO);
  int devnull = open("/dev/null", O_RDONLY);
  dup2(devnull, STDIN_FILENO);
  for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
  std::string path = BinPath(program);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(path.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
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

}  // namespace

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
  r.exit_code = WaitExit(pid, timeout);
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

TestNode::TestNode(const std::string& dir, const std::string& name)
    : name_(name), data_dir_(dir + "/" + name), log_path_(dir + "/" + name + ".log") {}

TestNode::~TestNode() {
  // A clean stop, not SIGKILL: shutdown paths and LeakSanitizer get to run for every node, and
  // the log is checked once more for whatever a sanitizer said at any time.
  if (pid_ > 0) Stop();
  CheckLog();
}

Status TestNode::Start(const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--data", data_dir_, "--name", name_, "--log-level", "debug"};
  args.insert(args.end(), extra.begin(), extra.end());
  int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  pid_ = Spawn("hashmeshd", args, log_fd, log_fd, {});
  close(log_fd);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      CheckLog();
      return Unavailable("hashmeshd exited with " +
                         std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ": " +
                         log());
    }
    auto r = HttpCall(socket(), "GET", "/v1/status", "", std::chrono::milliseconds(500));
    if (r.ok() && r->status == 200) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Kill();
  return Unavailable("hashmeshd did not answer within 30 s: " + log());
}

int TestNode::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int code = WaitExit(pid_, std::chrono::seconds(30));
  pid_ = -1;
  CheckLog();
  return code;
}

void TestNode::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

CommandResult TestNode::Cli(const std::vector<std::string>& args) const {
  std::vector<std::string> full = {"--socket", socket(), "--admin-socket", admin_socket()};
  full.insert(full.end(), args.begin(), args.end());
  return RunProgram("hashmesh", full);
}

Result<ClientResponse> TestNode::Query(std::string_view method, std::string_view target,
                                       std::string_view body) const {
  return HttpCall(socket(), method, target, body, std::chrono::seconds(10));
}

Result<ClientResponse> TestNode::Admin(std::string_view method, std::string_view target,
                                       std::string_view body) const {
  return HttpCall(admin_socket(), method, target, body, std::chrono::seconds(10));
}

std::string TestNode::log() const { return ReadFile(log_path_); }

void TestNode::CheckLog() {
  std::string all = log();
  if (all.size() <= log_checked_) return;
  CheckSanitizerReport("hashmeshd " + name_, all.substr(log_checked_));
  log_checked_ = all.size();
}

}  // namespace hashmesh::testing
