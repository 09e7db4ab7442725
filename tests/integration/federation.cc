// Federation test fixture.
#include "tests/integration/federation.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "common/json.h"
#include "proto/api.pb.h"

namespace hashmesh::testing {

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

bool WaitFor(const std::function<bool()>& fn, double seconds) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(int64_t(seconds * 1000));
  while (std::chrono::steady_clock::now() < deadline) {
    if (fn()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return fn();
}

Federation::Federation(const std::vector<MemberSpec>& members) {
  trust_file_ = dir_.path() + "/trust.toml";
  for (const auto& m : members) {
    names_.push_back(m.name);
    nodes_.push_back(std::make_unique<TestNode>(dir_.path(), m.name));
    ports_.push_back(FreePort());
    auto init = RunProgram("hashmesh-keys",
                           {"--json", "init", "--dir", keys_dir(nodes_.size() - 1), "--name", m.name});
    api::KeysInfo info;
    (void)FromJson(init.out, &info);
    member_ids_.push_back(info.member_id());
    RunProgram("hashmesh-keys", {"trust", "add", "--trust", trust_file_, "--name", m.name,
                                 "--member", info.member_id(), "--role", m.role});
  }
}

std::string Federation::keys_dir(size_t i) const { return dir_.path() + "/" + names_[i] + "-keys"; }

Status Federation::Start(size_t i, const std::vector<size_t>& dial,
                         const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--keys", keys_dir(i), "--trust", trust_file_, "--listen",
                                   address(i)};
  for (size_t d : dial) {
    args.push_back("--peer");
    args.push_back(address(d));
  }
  args.insert(args.end(), extra.begin(), extra.end());
  return nodes_[i]->Start(args);
}

}  // namespace hashmesh::testing
