// Federation test fixture: keys, trust stores and ports for several real nodes, and readable views
// of their state.
#include "tests/support/federation.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "common/json.h"
#include "proto/reports.pb.h"
#include "tests/support/test_member.h"

namespace hashmesh::testing {

// A port below the kernel's ephemeral range (32768-60999 by default), so that no outgoing
// connection of this or a concurrent test is given it between now and the daemon's bind; picked
// at random and checked free. Falls back to one the kernel picks.
int FreePort() {
  static std::mt19937 pick(std::random_device{}());
  auto bindable = [](int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    socklen_t len = sizeof addr;
    if (ok) getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    close(fd);
    return ok ? ntohs(addr.sin_port) : 0;
  };
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int port = std::uniform_int_distribution<int>(20000, 32000)(pick);
    if (bindable(port) != 0) return port;
  }
  return bindable(0);
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
    roles_.push_back(m.role);
    key_dirs_.push_back(dir_.path() + "/" + m.name + "-keys");
    trust_files_.emplace_back();
    nodes_.push_back(std::make_unique<TestNode>(dir_.path(), m.name));
    ports_.push_back(FreePort());
    auto init = RunProgram("hashmesh-keys",
                           {"--json", "init", "--dir", key_dirs_.back(), "--name", m.name});
    api::KeysInfo info;
    (void)FromJson(init.out, &info);
    member_ids_.push_back(info.member_id());
    if (!m.trusted) continue;
    RunProgram("hashmesh-keys", {"trust", "add", "--trust", trust_file_, "--name", m.name,
                                 "--member", info.member_id(), "--role", m.role});
  }
}

std::string Federation::keys_dir(size_t i) const { return key_dirs_[i]; }

size_t Federation::AddClone(size_t of, const std::string& name) {
  const std::string dir = dir_.path() + "/" + name + "-keys";
  std::filesystem::copy(key_dirs_[of], dir, std::filesystem::copy_options::recursive);
  names_.push_back(name);
  roles_.push_back(roles_[of]);
  key_dirs_.push_back(dir);
  trust_files_.push_back(trust_files_[of]);
  nodes_.push_back(std::make_unique<TestNode>(dir_.path(), name));
  ports_.push_back(FreePort());
  member_ids_.push_back(member_ids_[of]);
  return nodes_.size() - 1;
}

void Federation::SetOwnTrust(size_t i, const std::vector<size_t>& members) {
  trust_files_[i] = dir_.path() + "/" + names_[i] + "-trust.toml";
  for (size_t m : members) {
    RunProgram("hashmesh-keys", {"trust", "add", "--trust", trust_files_[i], "--name", names_[m],
                                 "--member", member_ids_[m], "--role", roles_[m]});
  }
}

Status Federation::Start(size_t i, const std::vector<size_t>& dial,
                         const std::vector<std::string>& extra) {
  const std::string& trust = trust_files_[i].empty() ? trust_file_ : trust_files_[i];
  std::vector<std::string> args = {"--keys", keys_dir(i), "--trust", trust, "--listen", address(i)};
  for (size_t d : dial) {
    args.push_back("--peer");
    args.push_back(address(d));
  }
  args.insert(args.end(), extra.begin(), extra.end());
  return nodes_[i]->Start(args);
}

api::StatusResponse NodeStatus(TestNode& node) {
  api::StatusResponse status;
  auto r = node.Query("GET", "/v1/status");
  if (r.ok() && r->status == 200) (void)FromJson(r->body, &status);
  return status;
}

std::string HeadsLine(TestNode& node) {
  auto r = node.Query("GET", "/v1/feeds");
  if (!r.ok()) return "<unreachable: " + r.status().message() + ">";
  if (r->status != 200) return "<status " + std::to_string(r->status) + ">";
  api::FeedsResponse feeds;
  if (Status s = FromJson(r->body, &feeds); !s.ok()) return "<bad json: " + s.message() + ">";
  std::vector<std::string> heads;
  for (const auto& f : feeds.feeds()) {
    heads.push_back((f.name().empty() ? f.author() : f.name()) + ":" + std::to_string(f.seq()));
  }
  std::sort(heads.begin(), heads.end());
  std::string line;
  for (const auto& h : heads) line += (line.empty() ? "" : " ") + h;
  return line;
}

uint32_t FeedSeq(TestNode& node, const std::string& member) {
  auto r = node.Query("GET", "/v1/feeds");
  if (!r.ok() || r->status != 200) return 0;
  api::FeedsResponse feeds;
  if (!FromJson(r->body, &feeds).ok()) return 0;
  for (const auto& f : feeds.feeds()) {
    if (f.author() == member) return f.seq();
  }
  return 0;
}

bool WaitConverged(Federation& fed, const std::vector<size_t>& nodes, double seconds,
                   std::string* detail, const std::string& expected) {
  auto converged = [&] {
    const std::string first = HeadsLine(fed.node(nodes.front()));
    if (!expected.empty() && first != expected) return false;
    for (size_t i : nodes) {
      if (HeadsLine(fed.node(i)) != first) return false;
    }
    return true;
  };
  if (WaitFor(converged, seconds)) return true;
  detail->clear();
  if (!expected.empty()) *detail += "expected  " + expected + "\n";
  for (size_t i : nodes) *detail += fed.name(i) + ": " + HeadsLine(fed.node(i)) + "\n";
  return false;
}

Result<api::PublishResponse> PublishSignal(TestNode& node, const std::string& pdq_hex,
                                           const std::string& label) {
  HM_ASSIGN_OR_RETURN(ClientResponse r, node.Admin("POST", "/v1/signals",
                                                   R"({"type":"pdq","value":")" + pdq_hex +
                                                       R"(","labels":[")" + label + R"("]})"));
  if (r.status == 503) return Unavailable(r.body);
  if (r.status != 200 && r.status != 201)
    return Internal("HTTP " + std::to_string(r.status) + ": " + r.body);
  api::PublishResponse out;
  HM_RETURN_IF_ERROR(FromJson(r.body, &out));
  return out;
}

Status PublishMany(TestNode& node, int count, uint32_t seed) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (int i = 0; i < count; ++i) {
    for (;;) {
      auto r = PublishSignal(node, RandomPdqHex(seed + i));
      if (r.ok()) break;
      if (r.status().code() != StatusCode::kUnavailable ||
          std::chrono::steady_clock::now() > deadline) {
        return r.status().WithContext("publishing signal " + std::to_string(i));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  return Status::Ok();
}

}  // namespace hashmesh::testing
