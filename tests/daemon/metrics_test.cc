// Tests for the metrics registry (rendered text compared whole) and the /metrics server on TCP,
// plus the socket group option of HttpServer.
#include "daemon/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <thread>

#include "daemon/api/http_server.h"
#include "gtest/gtest.h"

namespace hashmesh {
namespace {

// The whole answer to one request on 127.0.0.1:port (the server closes or we time out).
std::string TcpGet(uint16_t port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return "connect failed: " + std::string(std::strerror(errno));
  }
  (void)!send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string out;
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0) break;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

TEST(MetricsTest, RendersCountersGaugesAndHistogramsInRegistrationOrder) {
  MetricsRegistry r;
  auto& requests = r.AddCounter("t_requests_total", "Requests.");
  requests.With({{"outcome", "ok"}}).Inc();
  requests.With({{"outcome", "ok"}}).Inc(2);
  requests.With({{"outcome", "error"}}).Inc();
  r.AddGauge("t_temperature", "Line one\nand a back\\slash.").With().Set(-2.5);
  auto& h = r.AddHistogram("t_seconds", "Latency.", {0.001, 0.5, 1}).With({{"route", "x"}});
  h.Observe(0.0005);
  h.Observe(0.5);  // on a bound: counted in that bucket (le is "less or equal")
  h.Observe(7);
  EXPECT_EQ(r.Render(),
            "# HELP t_requests_total Requests.\n"
            "# TYPE t_requests_total counter\n"
            "t_requests_total{outcome=\"error\"} 1\n"
            "t_requests_total{outcome=\"ok\"} 3\n"
            "# HELP t_temperature Line one\\nand a back\\\\slash.\n"
            "# TYPE t_temperature gauge\n"
            "t_temperature -2.5\n"
            "# HELP t_seconds Latency.\n"
            "# TYPE t_seconds histogram\n"
            "t_seconds_bucket{route=\"x\",le=\"0.001\"} 1\n"
            "t_seconds_bucket{route=\"x\",le=\"0.5\"} 2\n"
            "t_seconds_bucket{route=\"x\",le=\"1\"} 2\n"
            "t_seconds_bucket{route=\"x\",le=\"+Inf\"} 3\n"
            "t_seconds_sum{route=\"x\"} 7.5005\n"
            "t_seconds_count{route=\"x\"} 3\n");
}

TEST(MetricsTest, CollectorsRunAtScrapeAndClearDropsVanishedSeries) {
  MetricsRegistry r;
  auto& peers = r.AddGauge("t_peers", "Peers.");
  std::vector<std::string> now = {"a", "b"};
  r.AddCollector([&] {
    peers.Clear();
    for (const auto& p : now) peers.With({{"peer", p}}).Set(1);
  });
  EXPECT_NE(r.Render().find("t_peers{peer=\"b\"} 1"), std::string::npos);
  now = {"a"};
  const std::string text = r.Render();
  EXPECT_NE(text.find("t_peers{peer=\"a\"} 1"), std::string::npos);
  EXPECT_EQ(text.find("peer=\"b\""), std::string::npos) << text;
}

TEST(MetricsTest, TextEscapingAndNumbers) {
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(FormatMetricValue(3), "3");
  EXPECT_EQ(FormatMetricValue(0.0001), "0.0001");
  EXPECT_EQ(FormatMetricValue(1e20), "1e+20");
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatMetricValue(std::nan("")), "NaN");
  EXPECT_TRUE(IsValidMetricName("hashmesh_peers"));
  EXPECT_TRUE(IsValidMetricName("a:b_c9"));
  EXPECT_FALSE(IsValidMetricName("9a"));
  EXPECT_FALSE(IsValidMetricName("a-b"));
  EXPECT_TRUE(IsValidLabelName("state"));
  EXPECT_FALSE(IsValidLabelName("__name"));
  EXPECT_FALSE(IsValidLabelName("a:b"));
}

TEST(MetricsTest, ConcurrentUpdatesAreNotLost) {
  MetricsRegistry r;
  Counter& c = r.AddCounter("t_total", "x").With();
  Histogram& h = r.AddHistogram("t_h", "x", {1}).With();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.Inc();
        h.Observe(0.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000);
  EXPECT_EQ(h.snapshot().count, 40000u);
  EXPECT_EQ(h.snapshot().sum, 20000);
}

TEST(MetricsTest, ServerAnswersMetricsOnLoopbackTcp) {
  MetricsRegistry r;
  r.AddGauge("t_up", "Up.").With().Set(1);
  auto server = StartMetricsServer("127.0.0.1:0", &r);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const uint16_t port = (*server)->tcp_port();
  ASSERT_NE(port, 0);
  const std::string raw =
      TcpGet(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(raw.starts_with("HTTP/1.1 200")) << raw;
  EXPECT_NE(raw.find("Content-Type: text/plain; version=0.0.4; charset=utf-8"), std::string::npos)
      << raw;
  EXPECT_TRUE(raw.ends_with("\r\n\r\n# HELP t_up Up.\n# TYPE t_up gauge\nt_up 1\n")) << raw;
  EXPECT_TRUE(TcpGet(port, "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                  .starts_with("HTTP/1.1 404"));
  EXPECT_TRUE(TcpGet(port, "POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                  .starts_with("HTTP/1.1 405"));
  (*server)->Stop();
  EXPECT_TRUE(TcpGet(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").starts_with("connect"));
}

TEST(MetricsTest, ShortAddressMeansLoopback) {
  MetricsRegistry r;
  auto server = StartMetricsServer(":0", &r);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  EXPECT_TRUE(TcpGet((*server)->tcp_port(), "GET /metrics HTTP/1.1\r\nHost: x\r\n"
                                            "Connection: close\r\n\r\n")
                  .starts_with("HTTP/1.1 200"));
}

TEST(MetricsTest, PortInUseIsAClearError) {
  MetricsRegistry r;
  auto first = StartMetricsServer("127.0.0.1:0", &r);
  ASSERT_TRUE(first.ok());
  auto second =
      StartMetricsServer("127.0.0.1:" + std::to_string((*first)->tcp_port()), &r);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("cannot listen on 127.0.0.1:"), std::string::npos)
      << second.status().message();
}

// Not metrics, but the same change to HttpServer: the query socket's group is set before listen.
TEST(MetricsTest, UnixSocketGetsTheRequestedGroup) {
  char tmpl[] = "/tmp/hm-group-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  HttpServerOptions o;
  o.socket_path = dir + "/query.sock";
  o.mode = 0660;
  // Any process may give its file to a group it is in; its own primary group always works.
  o.group = getgid();
  auto server = HttpServer::Start(
      o, [](HttpRequest&&, Responder respond) { respond(HttpResponse{}); }, 1);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  struct stat st {};
  ASSERT_EQ(stat(o.socket_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_gid, getgid());
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  (*server)->Stop();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hashmesh
