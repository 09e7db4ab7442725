// What an operator relies on, against real hashmeshd processes: /metrics parsed by promtool and
// by a strict grammar, readiness, socket permissions, log levels and SIGHUP reloads of log level,
// policy and trust store without dropping peers.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <thread>

#include "common/json.h"
#include "proto/api.pb.h"
#include "tests/support/federation.h"
#include "tests/support/test_node.h"

namespace hashmesh::testing {
namespace {

const std::string kPdq = "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteAll(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

// The body of GET /metrics on 127.0.0.1:port, or "" with *error set.
std::string Scrape(int port, std::string* error) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    *error = "cannot connect to metrics port " + std::to_string(port);
    return "";
  }
  const std::string request = "GET /metrics HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
  (void)!send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string raw;
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 10000) <= 0) break;
    char buf[8192];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    raw.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  if (!raw.starts_with("HTTP/1.1 200")) {
    *error = "unexpected answer: " + raw.substr(0, 200);
    return "";
  }
  if (raw.find("text/plain; version=0.0.4") == std::string::npos) {
    *error = "wrong content type: " + raw.substr(0, raw.find("\r\n\r\n"));
    return "";
  }
  return raw.substr(raw.find("\r\n\r\n") + 4);
}

// A strict reading of the text format 0.0.4: every line is HELP, TYPE or a sample of a family
// whose TYPE came first; names, labels, escapes and values as the format defines them; histogram
// buckets cumulative and ending in +Inf equal to _count. Returns the samples as
// "name{labels}" -> value, or an error naming the line.
Result<std::map<std::string, double>> ParseExposition(const std::string& text) {
  static const std::regex kHelp(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$)");
  static const std::regex kType(
      R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)");
  static const std::regex kSample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")*\})? ([-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?|[-+]?Inf|NaN)$)");
  std::map<std::string, std::string> types;
  std::map<std::string, double> samples;
  std::map<std::string, double> last_bucket;  // family+labels without le -> last cumulative
  if (text.empty() || text.back() != '\n') return InvalidArgument("must end with a newline");
  std::istringstream in(text);
  std::string line;
  int n = 0;
  std::string current;
  while (std::getline(in, line)) {
    ++n;
    const std::string where = "line " + std::to_string(n) + ": " + line;
    std::smatch m;
    if (std::regex_match(line, m, kHelp)) continue;
    if (std::regex_match(line, m, kType)) {
      if (types.count(m[1])) return InvalidArgument("TYPE given twice, " + where);
      types[m[1]] = m[2];
      current = m[1];
      continue;
    }
    if (line.starts_with("#")) return InvalidArgument("unknown comment, " + where);
    if (!std::regex_match(line, m, kSample)) return InvalidArgument("bad sample, " + where);
    std::string name = m[1];
    std::string family = name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (types.count(family) == 0 && name.ends_with(suffix)) {
        family = name.substr(0, name.size() - std::strlen(suffix));
      }
    }
    if (family != current) return InvalidArgument("sample outside its family's block, " + where);
    const std::string labels = m[2];
    const std::string key = name + labels;
    if (samples.count(key)) return InvalidArgument("duplicate sample, " + where);
    const std::string value_text = m[7];
    double value = value_text == "+Inf" || value_text == "Inf" ? HUGE_VAL
                   : value_text == "-Inf"                      ? -HUGE_VAL
                                                               : std::strtod(value_text.c_str(), nullptr);
    samples[key] = value;
    if (types[family] == "histogram") {
      static const std::regex kLe(R"(,le="[^"]*"|le="[^"]*",?)");
      std::string series = std::regex_replace(labels, kLe, "");
      if (series == "{}") series.clear();
      if (name.ends_with("_bucket")) {
        if (series == labels) return InvalidArgument("bucket without le, " + where);
        auto [it, fresh] = last_bucket.emplace(family + series, value);
        if (!fresh && value < it->second) return InvalidArgument("buckets decrease, " + where);
        it->second = value;
      } else if (name.ends_with("_count")) {
        auto it = last_bucket.find(family + series);
        if (it == last_bucket.end() || it->second != value) {
          return InvalidArgument("+Inf bucket differs from _count, " + where);
        }
      }
    } else if (types[family] == "counter" && value < 0) {
      return InvalidArgument("negative counter, " + where);
    }
  }
  return samples;
}

// `promtool check metrics` on the text; nullopt when promtool is not installed.
std::optional<CommandResult> Promtool(const std::string& text, const std::string& dir) {
  if (access("/usr/bin/promtool", X_OK) != 0) return std::nullopt;
  const std::string in = dir + "/metrics.txt";
  const std::string out = dir + "/promtool.out";
  WriteAll(in, text);
  CommandResult r;
  int status = std::system(("/usr/bin/promtool check metrics < " + in + " > " + out + " 2>&1").c_str());
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadAll(out);
  return r;
}

int DaemonPid(const TestNode& node) {
  return std::atoi(ReadAll(node.data_dir() + "/hashmeshd.lock").c_str());
}

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t p = haystack.find(needle); p != std::string::npos; p = haystack.find(needle, p + 1)) {
    ++n;
  }
  return n;
}

std::string MatchAction(TestNode& node, const std::string& value) {
  auto r = node.Query("POST", "/v1/match", R"({"type": "pdq", "value": ")" + value + R"("})");
  if (!r.ok()) return r.status().ToString();
  api::MatchResponse match;
  if (!FromJson(r->body, &match).ok()) return "bad json: " + r->body;
  return match.verdict().action();
}

TEST(OperationsTest, MetricsScrapeIsValidPrometheusText) {
  TempDir dir;
  TestNode node(dir.path(), "alice");
  const int port = FreePort();
  ASSERT_TRUE(node.Start({"--metrics", "127.0.0.1:" + std::to_string(port)}).ok()) << node.log();
  auto published = PublishSignal(node, kPdq, "terrorism/x");
  ASSERT_TRUE(published.ok()) << published.status().ToString();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(MatchAction(node, kPdq), "review");
  EXPECT_EQ(node.Query("POST", "/v1/match", "{}")->status, 400);

  std::string error;
  const std::string text = Scrape(port, &error);
  ASSERT_FALSE(text.empty()) << error;

  auto samples = ParseExposition(text);
  ASSERT_TRUE(samples.ok()) << samples.status().message() << "\n" << text;
  if (auto promtool = Promtool(text, dir.path())) {
    EXPECT_EQ(promtool->exit_code, 0) << promtool->out << "\n" << text;
  } else {
    std::fprintf(stderr,
                 "promtool not installed (Debian package prometheus): checked with the in-test "
                 "grammar only\n");
  }

  const auto status = NodeStatus(node);
  const std::string author = "author=\"" + status.member_id() + "\"";
  auto value = [&](const std::string& key) {
    auto it = samples->find(key);
    return it == samples->end() ? -1.0 : it->second;
  };
  EXPECT_EQ(value("hashmesh_build_info{version=\"" + status.version() + "\"}"), 1);
  EXPECT_EQ(value("hashmesh_ready"), 1);
  EXPECT_GE(value("hashmesh_uptime_seconds"), 0);
  EXPECT_EQ(value("hashmesh_records_committed_total{" + author + ",kind=\"signal\"}"), 1);
  EXPECT_EQ(value("hashmesh_records_committed_total{" + author + ",kind=\"manifest\"}"), 1);
  EXPECT_EQ(value("hashmesh_feed_records{" + author + "}"), 2);
  EXPECT_EQ(value("hashmesh_store_records"), 2);
  EXPECT_EQ(value("hashmesh_pdq_index_hashes"), 1);
  EXPECT_GT(value("hashmesh_pdq_index_memory_bytes"), 0);
  EXPECT_GT(value("hashmesh_lmdb_map_size_bytes"), 0);
  EXPECT_GT(value("hashmesh_lmdb_used_bytes"), 0);
  EXPECT_EQ(value("hashmesh_writer_records_total"), 2);
  EXPECT_EQ(value("hashmesh_writer_rejected_total"), 0);
  EXPECT_EQ(value("hashmesh_writer_committed_batch_records_count"), 2);
  EXPECT_EQ(value("hashmesh_match_requests_total{outcome=\"ok\"}"), 3);
  EXPECT_EQ(value("hashmesh_match_requests_total{outcome=\"error\"}"), 1);
  EXPECT_EQ(value("hashmesh_match_duration_seconds_count"), 4);
  EXPECT_EQ(value("hashmesh_match_duration_seconds_bucket{le=\"+Inf\"}"), 4);
  EXPECT_EQ(value("hashmesh_own_seq"), 2);
  EXPECT_EQ(value("hashmesh_member_info{" + author + ",name=\"alice\",roles=\"platform\"}"), 1);
  EXPECT_EQ(node.Stop(), 0) << node.log();
}

TEST(OperationsTest, GrammarRejectsMalformedExpositions) {
  EXPECT_TRUE(ParseExposition("# TYPE a counter\na 1\n").ok());
  EXPECT_FALSE(ParseExposition("a 1\n").ok()) << "sample before its TYPE";
  EXPECT_FALSE(ParseExposition("# TYPE a counter\na{b=\"c} 1\n").ok());
  EXPECT_FALSE(ParseExposition("# TYPE a counter\na 1 2 3\n").ok());
  EXPECT_FALSE(ParseExposition("# TYPE a counter\na -1\n").ok());
  EXPECT_FALSE(ParseExposition("# TYPE a gauge\na 1").ok()) << "no final newline";
  EXPECT_FALSE(ParseExposition("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
                               "h_sum 1\nh_count 1\n")
                   .ok());
}

TEST(OperationsTest, MetricsPortInUseStopsStartWithAClearError) {
  TempDir dir;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  TestNode node(dir.path(), "alice");
  Status s = node.Start({"--metrics", "127.0.0.1:" + std::to_string(ntohs(addr.sin_port))});
  close(fd);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cannot listen on 127.0.0.1:"), std::string::npos) << s.message();
}

TEST(OperationsTest, ReadyNeedsAPeerOnlyWhenPeersAreConfigured) {
  TempDir dir;
  TestNode alone(dir.path(), "alone");
  ASSERT_TRUE(alone.Start().ok()) << alone.log();
  auto status = NodeStatus(alone);
  EXPECT_TRUE(status.ready());
  EXPECT_TRUE(status.own_feed_ready());
  EXPECT_EQ(status.not_ready_reasons_size(), 0);

  // A peer address where nobody listens: the node serves, but is not ready for a balancer.
  TestNode lonely(dir.path(), "lonely");
  ASSERT_TRUE(lonely.Start({"--peer", "127.0.0.1:" + std::to_string(FreePort())}).ok())
      << lonely.log();
  status = NodeStatus(lonely);
  EXPECT_FALSE(status.ready());
  EXPECT_NE(std::find(status.not_ready_reasons().begin(), status.not_ready_reasons().end(),
                      "no peer connected"),
            status.not_ready_reasons().end())
      << status.DebugString();
}

TEST(OperationsTest, SocketModesAndMissingGroupIsOnlyANotice) {
  TempDir dir;
  TestNode node(dir.path(), "alice");
  ASSERT_TRUE(node.Start({"--socket-group", "no-such-group-hm"}).ok()) << node.log();
  struct stat st {};
  ASSERT_EQ(stat(node.socket().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  ASSERT_EQ(stat(node.admin_socket().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(node.log().find("<5>socket group does not exist"), std::string::npos) << node.log();

  // Admin actions name who asked (SO_PEERCRED): this test process.
  auto reload = node.Admin("POST", "/v1/reload");
  ASSERT_TRUE(reload.ok());
  EXPECT_EQ(reload->status, 200) << reload->body;
  EXPECT_NE(node.log().find("reload requested uid=" + std::to_string(getuid()) +
                            " pid=" + std::to_string(getpid())),
            std::string::npos)
      << node.log();
}

TEST(OperationsTest, ExistingGroupOwnsTheQuerySocket) {
  TempDir dir;
  TestNode node(dir.path(), "alice");
  // The test's own primary group exists and may be given away by its members.
  const std::string group = [] {
    std::string name = "root";
    if (FILE* p = popen("id -gn", "r")) {
      char buf[256] = {};
      if (fgets(buf, sizeof buf, p)) name = std::string(buf, strcspn(buf, "\n"));
      pclose(p);
    }
    return name;
  }();
  ASSERT_TRUE(node.Start({"--socket-group", group}).ok()) << node.log();
  struct stat st {};
  ASSERT_EQ(stat(node.socket().c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, getgid());
}

TEST(OperationsTest, NoInfoLinePerMatchAndSighupReloadsLogLevel) {
  TempDir dir;
  const std::string config = dir.path() + "/hashmeshd.toml";
  WriteAll(config, "log_level = \"info\"\n");
  TestNode node(dir.path(), "alice");
  // TestNode passes --log-level debug; flags win over the file at start and the last one counts.
  ASSERT_TRUE(node.Start({"--config", config, "--log-level", "info"}).ok()) << node.log();
  auto published = PublishSignal(node, kPdq);
  ASSERT_TRUE(published.ok()) << published.status().ToString() << node.log();
  const size_t lines_before = Count(node.log(), "\n");
  for (int i = 0; i < 20; ++i) EXPECT_EQ(MatchAction(node, kPdq), "review");
  const std::string after_matches = node.log();
  EXPECT_LT(Count(after_matches, "\n") - lines_before, 5u) << after_matches;
  EXPECT_EQ(Count(after_matches, "<7>"), 0u) << "debug lines at level info";

  // A reload re-reads the file, whose log_level then wins over the start-up flag.
  WriteAll(config, "log_level = \"debug\"\n");
  ASSERT_EQ(kill(DaemonPid(node), SIGHUP), 0);
  ASSERT_TRUE(WaitFor([&] { return node.log().find("reloaded") != std::string::npos; }))
      << node.log();
  EXPECT_NE(node.log().find("log_level=debug"), std::string::npos);
  EXPECT_EQ(MatchAction(node, kPdq), "review");
  EXPECT_GT(Count(node.log(), "<7>"), 0u) << "debug lines after SIGHUP: " << node.log();
}

TEST(OperationsTest, SighupReloadsPolicyAndTrustWithoutDroppingPeers) {
  Federation fed({{"alice"}, {"bob"}, {"carol", "platform", /*trusted=*/false}});
  const std::string config = fed.dir() + "/bob.toml";
  WriteAll(config, "[policy]\nmin_platforms = 2\n");
  ASSERT_TRUE(fed.Start(0, {}).ok()) << fed.node(0).log();
  ASSERT_TRUE(fed.Start(1, {0}, {"--config", config}).ok()) << fed.node(1).log();
  TestNode& bob = fed.node(1);
  // Ready: connected, and bob's (empty) own feed checked against alice's copy before publishing.
  ASSERT_TRUE(WaitFor([&] { return NodeStatus(bob).ready(); }, 20)) << bob.log();
  ASSERT_EQ(NodeStatus(bob).peers_connected(), 1u);
  ASSERT_TRUE(PublishSignal(bob, kPdq, "terrorism/x").ok());
  EXPECT_EQ(MatchAction(bob, kPdq), "review") << "one platform of the two policy needs";
  EXPECT_EQ(bob.Query("GET", "/v1/feeds/carol")->status, 404) << "carol is not trusted yet";
  const size_t admitted_before = Count(bob.log(), "peer admitted");
  const size_t closed_before = Count(bob.log(), "peer session closed");

  WriteAll(config, "[policy]\nmin_platforms = 1\n");
  auto added = RunProgram("hashmesh-keys", {"trust", "add", "--trust", fed.trust_file(), "--name",
                                            "carol", "--member", fed.member_id(2), "--role",
                                            "platform"});
  ASSERT_EQ(added.exit_code, 0) << added.err;
  ASSERT_EQ(kill(DaemonPid(bob), SIGHUP), 0);
  ASSERT_TRUE(WaitFor([&] { return bob.log().find("reloaded") != std::string::npos; }))
      << bob.log();
  EXPECT_NE(bob.log().find("trusted_members=3"), std::string::npos) << bob.log();

  EXPECT_EQ(MatchAction(bob, kPdq), "act") << "policy.min_platforms = 1 after SIGHUP";
  EXPECT_EQ(bob.Query("GET", "/v1/feeds/carol")->status, 200) << "carol trusted after SIGHUP";
  // The same session carries on: nothing closed, nothing re-admitted, records still flow.
  EXPECT_EQ(NodeStatus(bob).peers_connected(), 1u);
  ASSERT_TRUE(PublishSignal(fed.node(0), "0000000000000000000000000000000000000000000000000000000"
                                         "000000001")
                  .ok());
  ASSERT_TRUE(WaitFor([&] { return FeedSeq(bob, fed.member_id(0)) == 2; }, 10)) << bob.log();
  EXPECT_EQ(Count(bob.log(), "peer admitted"), admitted_before) << bob.log();
  EXPECT_EQ(Count(bob.log(), "peer session closed"), closed_before) << bob.log();
}

// hashmeshd under a fake systemd: NOTIFY_SOCKET is our datagram socket, WATCHDOG_USEC asks for
// pings. READY=1 must come when the sockets answer, WATCHDOG=1 after it, STOPPING=1 on TERM.
TEST(OperationsTest, NotifiesReadyThenWatchdogPingsThenStopping) {
  TempDir dir;
  const std::string notify_path = dir.path() + "/notify.sock";
  int notify = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, notify_path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(bind(notify, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string data = dir.path() + "/alice";
  const std::string daemon = std::string(HASHMESH_BIN_DIR) + "/hashmeshd";
  const std::string log = dir.path() + "/alice.log";
  pid_t pid = fork();
  if (pid == 0) {
    setenv("NOTIFY_SOCKET", notify_path.c_str(), 1);
    setenv("WATCHDOG_USEC", "200000", 1);  // pings every 100 ms
    freopen(log.c_str(), "w", stderr);
    execl(daemon.c_str(), daemon.c_str(), "--data", data.c_str(), "--log-level", "info",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  ASSERT_GT(pid, 0);
  auto next = [&](int timeout_ms) -> std::string {
    pollfd p{notify, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return "<timeout>";
    char buf[1024];
    ssize_t n = recv(notify, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "<error>";
  };
  const std::string first = next(30000);
  EXPECT_EQ(first, "READY=1") << ReadAll(log);
  // Ready means serving: the query socket answers at once.
  auto status = HttpCall(data + "/query.sock", "GET", "/v1/status", "", std::chrono::seconds(5));
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ(status->status, 200);
  int pings = 0;
  for (int i = 0; i < 3; ++i) pings += next(2000) == "WATCHDOG=1";
  EXPECT_EQ(pings, 3) << ReadAll(log);
  kill(pid, SIGTERM);
  std::string message;
  do {
    message = next(10000);
  } while (message == "WATCHDOG=1");
  EXPECT_EQ(message, "STOPPING=1");
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) << ReadAll(log);
  close(notify);
}

}  // namespace
}  // namespace hashmesh::testing
