// Propagation benchmark: real hashmeshd nodes on loopback in a seeded random connected graph of
// degree 3-4; records published one at a time on random nodes; the time from the commit on the
// publisher to the commit on the last node, each commit seen on that node's GET /v1/stream.
// Run: build/bin/bench_fed_propagation [--nodes 20 --records 100]   (see docs/benchmarks.md)
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

#include "common/json.h"
#include "daemon/cli/api_client.h"
#include "tests/bench/fed_bench_util.h"
#include "tests/support/test_member.h"
#include "tests/support/federation.h"

namespace hashmesh::fedbench {
namespace {

struct Options {
  int nodes = 20;
  int records = 100;
  int interval_ms = 50;
  uint64_t seed = 1;
  int min_degree = 3;
  int max_degree = 4;
  int warmup = 5;
  double timeout_s = 60;
};

using Graph = std::vector<std::vector<int>>;

// Hop counts from `from` (-1: unreachable).
std::vector<int> Distances(const Graph& g, int from) {
  std::vector<int> dist(g.size(), -1);
  std::vector<int> queue = {from};
  dist[from] = 0;
  for (size_t head = 0; head < queue.size(); ++head) {
    for (int next : g[queue[head]]) {
      if (dist[next] < 0) {
        dist[next] = dist[queue[head]] + 1;
        queue.push_back(next);
      }
    }
  }
  return dist;
}

// A simple connected graph whose degrees are drawn in [min_degree, max_degree]: random stub
// matching (configuration model), retried until simple and connected. Only rng() is used, never
// std::shuffle or a std distribution, so a seed gives the same graph with any standard library.
Graph RandomGraph(int n, int min_degree, int max_degree, std::mt19937_64& rng) {
  for (int attempt = 0; attempt < 1000000; ++attempt) {
    std::vector<int> stubs;
    for (int i = 0; i < n; ++i) {
      const int degree = min_degree + static_cast<int>(rng() % (max_degree - min_degree + 1));
      stubs.insert(stubs.end(), degree, i);
    }
    if (stubs.size() % 2 == 1) continue;
    for (size_t i = stubs.size() - 1; i > 0; --i) std::swap(stubs[i], stubs[rng() % (i + 1)]);
    Graph g(n);
    bool simple = true;
    for (size_t k = 0; k < stubs.size() && simple; k += 2) {
      const int a = stubs[k], b = stubs[k + 1];
      simple = a != b && std::find(g[a].begin(), g[a].end(), b) == g[a].end();
      g[a].push_back(b);
      g[b].push_back(a);
    }
    if (!simple) continue;
    const auto dist = Distances(g, 0);
    if (std::find(dist.begin(), dist.end(), -1) != dist.end()) continue;
    for (auto& edges : g) std::sort(edges.begin(), edges.end());
    return g;
  }
  return {};
}

// Holds GET /v1/stream open on one node and notes when each record id arrives.
class StreamWatcher {
 public:
  explicit StreamWatcher(std::string socket) : socket_(std::move(socket)) {}
  ~StreamWatcher() { Join(); }

  void Start() {
    thread_ = std::thread([this] {
      auto r = HttpStreamLines(
          socket_, "/v1/stream",
          [this](std::string_view line) {
            const auto now = Clock::now();  // first: parsing is not part of the delay
            api::RecordView view;
            Status parsed = FromJson(line, &view);
            std::lock_guard lock(mu_);
            if (parsed.ok()) {
              seen_.emplace(view.id(), now);
            } else {
              end_ = "unparsable line: " + parsed.ToString();
            }
            return true;
          },
          std::chrono::seconds(5));
      std::lock_guard lock(mu_);
      if (!r.ok()) end_ = r.status().message();
    });
  }
  // The stream ends when its daemon stops.
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  // Why the stream ended or what went wrong, for diagnostics.
  std::string trouble() const {
    std::lock_guard lock(mu_);
    return end_ + " (" + std::to_string(seen_.size()) + " records seen)";
  }
  std::optional<Clock::time_point> Seen(const std::string& id) const {
    std::lock_guard lock(mu_);
    auto it = seen_.find(id);
    if (it == seen_.end()) return std::nullopt;
    return it->second;
  }

 private:
  const std::string socket_;
  std::thread thread_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Clock::time_point> seen_;  // GUARDED_BY(mu_)
  std::string end_;                                          // GUARDED_BY(mu_)
};

Result<std::string> Publish(testing::TestNode& node, const std::string& pdq) {
  HM_ASSIGN_OR_RETURN(ClientResponse r, node.Admin("POST", "/v1/signals",
                                                   R"({"type":"pdq","value":")" + pdq +
                                                       R"(","labels":["bench/propagation"]})"));
  // 201 Created since the API names the new record; 200 before.
  if (r.status / 100 != 2) return Unavailable("HTTP " + std::to_string(r.status) + ": " + r.body);
  api::PublishResponse out;
  HM_RETURN_IF_ERROR(FromJson(r.body, &out));
  return out.id();
}

struct Published {
  int node = 0;
  std::string id;
  Clock::time_point requested, answered;
};

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Every node holds every feed at the same head: "author:seq ..." equal everywhere.
bool Converged(testing::Federation& fed) {
  std::string first;
  for (size_t i = 0; i < fed.size(); ++i) {
    auto r = fed.node(i).Query("GET", "/v1/feeds");
    if (!r.ok() || r->status != 200) return false;
    api::FeedsResponse feeds;
    if (!FromJson(r->body, &feeds).ok() || feeds.feeds_size() != static_cast<int>(fed.size())) {
      return false;
    }
    std::map<std::string, uint32_t> heads;
    for (const auto& f : feeds.feeds()) heads[f.author()] = f.seq();
    std::string line;
    for (const auto& [author, seq] : heads) line += author + ":" + std::to_string(seq) + " ";
    if (i == 0) first = line;
    if (line != first) return false;
  }
  return true;
}

// Starts node i with --peer for each neighbour j < i: each edge is dialled once, by its
// higher-numbered end, so the nodes can start in order.
Status StartNodes(testing::Federation& fed, const Graph& graph) {
  for (size_t i = 0; i < graph.size(); ++i) {
    std::vector<size_t> dial;
    for (int j : graph[i]) {
      if (static_cast<size_t>(j) < i) dial.push_back(j);
    }
    Status s = fed.Start(i, dial);
    if (!s.ok()) return s.WithContext("node " + std::to_string(i));
  }
  return Status::Ok();
}

int Run(const Options& o) {
  if (o.nodes <= o.max_degree || o.min_degree < 1 || o.min_degree > o.max_degree) {
    std::fprintf(stderr, "need nodes > max degree >= min degree >= 1\n");
    return 2;
  }
  PrintMachine("bench_fed_propagation");
  std::mt19937_64 rng(o.seed);
  const Graph graph = RandomGraph(o.nodes, o.min_degree, o.max_degree, rng);
  if (graph.empty()) {
    std::fprintf(stderr, "no connected graph with these degrees\n");
    return 2;
  }
  int diameter = 0;
  size_t edges = 0;
  std::vector<std::vector<int>> dist;
  for (int i = 0; i < o.nodes; ++i) {
    dist.push_back(Distances(graph, i));
    diameter = std::max(diameter, *std::max_element(dist[i].begin(), dist[i].end()));
    edges += graph[i].size();
  }
  std::printf("# graph: %d nodes, %zu edges, seed %lu, diameter %d; edges:", o.nodes, edges / 2,
              (unsigned long)o.seed, diameter);
  for (int i = 0; i < o.nodes; ++i) {
    for (int j : graph[i]) {
      if (j > i) std::printf(" %d-%d", i, j);
    }
  }
  std::printf("\n");
  std::fflush(stdout);

  std::vector<testing::MemberSpec> members;
  for (int i = 0; i < o.nodes; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "n%02d", i);
    members.push_back({name});
  }
  const auto setup_started = Clock::now();
  // Declared before the federation so that, on every way out, the daemons are gone (ending the
  // streams) before the watchers join their threads.
  std::vector<std::unique_ptr<StreamWatcher>> watchers;
  std::unique_ptr<testing::Federation> federation;
  for (int attempt = 1;; ++attempt) {
    federation = std::make_unique<testing::Federation>(members);
    Status started = StartNodes(*federation, graph);
    if (started.ok()) break;
    // The harness picks free ports up front; an outgoing connection of an earlier node may take
    // one of them (same ephemeral range) before its node listens. New ports, and start again.
    const bool port_taken = started.message().find("Address already in use") != std::string::npos;
    std::fprintf(stderr, "%s%s\n", started.ToString().c_str(),
                 port_taken && attempt < 3 ? "; starting again on new ports" : "");
    if (!port_taken || attempt == 3) return 1;
  }
  testing::Federation& fed = *federation;
  const bool meshed = testing::WaitFor(
      [&] {
        for (int i = 0; i < o.nodes; ++i) {
          auto s = ReadStatus(fed.node(i));
          if (!s.ok() || !s->own_feed_ready() ||
              s->peers_connected() != static_cast<uint32_t>(graph[i].size())) {
            return false;
          }
        }
        return true;
      },
      60);
  if (!meshed) {
    std::fprintf(stderr, "the nodes did not all connect to their peers within 60 s\n");
    return 1;
  }
  PrintFigure("setup.nodes_up_and_meshed_s", SecondsSince(setup_started), "s",
              "keys, trust store, start, sessions");

  for (int i = 0; i < o.nodes; ++i) {
    watchers.push_back(std::make_unique<StreamWatcher>(fed.node(i).socket()));
    watchers.back()->Start();
  }
  auto seen_by_all = [&](const std::string& id) {
    for (const auto& w : watchers) {
      if (!w->Seen(id)) return false;
    }
    return true;
  };
  // Warm-up records, not measured: they also prove that every stream is open (a stream opened
  // after a commit does not show it), so a record missing later is a real loss.
  uint32_t pdq_seed = static_cast<uint32_t>(o.seed << 16);
  int warmed = 0;
  for (int attempt = 0; warmed < o.warmup && attempt < o.warmup + 20; ++attempt) {
    auto id = Publish(fed.node(attempt % o.nodes), testing::RandomPdqHex(pdq_seed++));
    if (id.ok() && testing::WaitFor([&] { return seen_by_all(*id); }, 10)) {
      ++warmed;
    } else {
      std::fprintf(stderr, "warm-up record %s: %s\n", id.ok() ? id->c_str() : "-",
                   id.ok() ? "not on every stream within 10 s" : id.status().ToString().c_str());
    }
  }
  if (warmed < o.warmup) {
    std::fprintf(stderr, "warm-up records did not reach every stream\n");
    for (int i = 0; i < o.nodes; ++i) {
      std::fprintf(stderr, "  stream of node %d: %s\n", i, watchers[i]->trouble().c_str());
    }
    return 1;
  }

  double cpu_before = 0;
  for (int i = 0; i < o.nodes; ++i) cpu_before += DaemonCpuSeconds(fed.node(i).data_dir());
  std::vector<Published> published;
  int failed = 0;
  const auto start = Clock::now() + std::chrono::milliseconds(100);
  for (int k = 0; k < o.records; ++k) {
    std::this_thread::sleep_until(start + std::chrono::milliseconds(int64_t(k) * o.interval_ms));
    Published p;
    p.node = static_cast<int>(rng() % o.nodes);
    p.requested = Clock::now();
    auto id = Publish(fed.node(p.node), testing::RandomPdqHex(pdq_seed++));
    p.answered = Clock::now();
    if (!id.ok()) {
      ++failed;
      std::fprintf(stderr, "publish on node %d: %s\n", p.node, id.status().ToString().c_str());
      continue;
    }
    p.id = *id;
    published.push_back(std::move(p));
  }
  const bool all_arrived = testing::WaitFor(
      [&] {
        for (const auto& p : published) {
          if (!seen_by_all(p.id)) return false;
        }
        return true;
      },
      o.timeout_s);
  const double publish_wall = SecondsSince(start);
  double cpu_after = 0;
  for (int i = 0; i < o.nodes; ++i) cpu_after += DaemonCpuSeconds(fed.node(i).data_dir());

  // Per record: from the publisher's own stream line (its commit) to each other node's.
  std::vector<double> last_ms, from_answer_ms, local_ms;
  std::map<int, std::vector<double>> by_hops;
  int missing = 0;
  for (const auto& p : published) {
    auto t0 = watchers[p.node]->Seen(p.id);
    if (!t0) {
      ++missing;
      continue;
    }
    local_ms.push_back(Ms(*t0 - p.requested));
    Clock::time_point last = *t0;
    bool complete = true;
    for (int q = 0; q < o.nodes; ++q) {
      if (q == p.node) continue;
      auto t = watchers[q]->Seen(p.id);
      if (!t) {
        complete = false;
        continue;
      }
      by_hops[dist[p.node][q]].push_back(Ms(*t - *t0));
      last = std::max(last, *t);
    }
    if (!complete) {
      ++missing;
      continue;
    }
    last_ms.push_back(Ms(last - *t0));
    from_answer_ms.push_back(Ms(last - p.answered));
  }

  const double one_hop = Percentile(by_hops[1], 50);
  const double median = Percentile(last_ms, 50);
  PrintFigure("propagation.records", static_cast<double>(last_ms.size()), "records",
              std::to_string(missing + failed) + " not everywhere or not published");
  PrintFigure("propagation.median_ms", median, "ms", "publisher commit -> last of all nodes");
  PrintFigure("propagation.p99_ms", Percentile(last_ms, 99), "ms");
  PrintFigure("propagation.max_ms", Percentile(last_ms, 100), "ms");
  PrintFigure("propagation.median_from_answer_ms", Percentile(from_answer_ms, 50), "ms",
              "publish answer -> last node");
  PrintFigure("baseline.local_commit_ms", Percentile(local_ms, 50), "ms",
              "publish request -> own stream line");
  PrintFigure("baseline.one_hop_median_ms", one_hop, "ms", "publisher -> a direct peer");
  for (const auto& [hops, values] : by_hops) {
    PrintFigure("by_hops." + std::to_string(hops) + ".median_ms", Percentile(values, 50), "ms",
                "p99 " + std::to_string(Percentile(values, 99)).substr(0, 6) + " ms, " +
                    std::to_string(values.size()) + " samples");
  }
  PrintFigure("ratio.median_to_one_hop", one_hop > 0 ? median / one_hop : 0, "x",
              "diameter " + std::to_string(diameter));
  PrintFigure("cpu.all_daemons_cores", (cpu_after - cpu_before) / publish_wall, "cores",
              "while publishing and propagating");

  const bool converged = all_arrived && testing::WaitFor([&] { return Converged(fed); }, 30);
  PrintFigure("converged", converged ? 1 : 0, "bool", "every node: every feed at the same head");
  int bad_exits = 0;
  for (int i = 0; i < o.nodes; ++i) bad_exits += fed.node(i).Stop() != 0;
  for (auto& w : watchers) w->Join();
  if (bad_exits > 0) std::fprintf(stderr, "%d daemons did not exit cleanly\n", bad_exits);
  return converged && missing == 0 && failed == 0 && bad_exits == 0 ? 0 : 1;
}

}  // namespace
}  // namespace hashmesh::fedbench

int main(int argc, char** argv) {
  hashmesh::fedbench::Options o;
  CLI::App app{
      "Propagation benchmark: hashmeshd nodes on loopback in a seeded random graph; records\n"
      "published one at a time on random nodes; publisher commit -> last node commit."};
  app.add_option("--nodes", o.nodes, "Number of nodes")->capture_default_str();
  app.add_option("--records", o.records, "Records to publish and time")->capture_default_str();
  app.add_option("--interval-ms", o.interval_ms, "Time between two publications")
      ->capture_default_str();
  app.add_option("--seed", o.seed, "Seed of the graph and of the choice of publishers")
      ->capture_default_str();
  app.add_option("--min-degree", o.min_degree, "Fewest peers of a node")->capture_default_str();
  app.add_option("--max-degree", o.max_degree, "Most peers of a node")->capture_default_str();
  app.add_option("--warmup", o.warmup, "Records published first and not timed")
      ->capture_default_str();
  app.add_option("--timeout", o.timeout_s, "Seconds to wait for every record everywhere")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  return hashmesh::fedbench::Run(o);
}
