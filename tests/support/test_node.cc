// Test harness implementation: one hashmeshd child and its log.
#include "tests/support/test_node.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace hashmesh::testing {

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
  pid_ = Spawn("hashmeshd", args, log_fd, log_fd);
  close(log_fd);
  int code = -1;
  switch (WaitServing(pid_, socket(), {}, std::chrono::steady_clock::now() + std::chrono::seconds(30),
                      &code)) {
    case Serving::kYes:
      return Status::Ok();
    case Serving::kExited:
      pid_ = -1;
      CheckLog();
      return Unavailable("hashmeshd exited with " + std::to_string(code) + ": " + log());
    case Serving::kTimedOut:
      break;
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
