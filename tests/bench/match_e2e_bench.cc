// End-to-end matching benchmark: a real hashmeshd with 1M PDQ signals answers POST /v1/match over
// its query socket to several concurrent clients (closed loop, then open loop at a fixed rate),
// against in-process baselines measured in the same run: the bare PdqIndex, the Matcher over the
// store, and the API handler with JSON but without HTTP.
// Run: build/bin/bench_match_e2e  (flags: --help; figures in docs/benchmarks.md)
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include "common/clock.h"
#include "common/crypto.h"
#include "common/json.h"
#include "common/pdq_index.h"
#include "daemon/api/match_codec.h"
#include "daemon/api/query_routes.h"
#include "daemon/match/matcher.h"
#include "daemon/match/pdq_signal_index.h"
#include "daemon/node_config.h"
#include "daemon/storage/store.h"
#include "keys/key_dir.h"
#include "keys/trust_store.h"
#include "proto/api.pb.h"
#include "tests/bench/bench_feed.h"
#include "tests/bench/http_load.h"
#include "tests/support/daemon_process.h"
#include "tests/support/fixed_node.h"

namespace hashmesh::bench {
namespace {

using Clock = std::chrono::steady_clock;
using testing::DaemonProcess;
using testing::MachineCpu;
using testing::MachineCpuSeconds;
using testing::OwnCpuSeconds;
using testing::RunTool;

struct Options {
  uint32_t hashes = 1'000'000;
  uint64_t seed = 1;
  uint32_t queries = 20'000;
  int distance = kDefaultPdqThreshold;
  std::vector<int> clients = {1, 4, 16};
  std::vector<int> http_call_clients = {1, 4};
  double closed_seconds = 5;
  double http_call_seconds = 3;
  double rate = 5000;
  double open_seconds = 10;
  int open_connections = 16;
  int api_threads = 0;  // 0: the daemon's default
  std::string workdir;  // empty: a temporary directory, removed afterwards
};

// Deterministic and fast: the same seed gives the same feed and queries on every run.
struct SplitMix64 {
  uint64_t state;
  uint64_t operator()() {
    uint64_t z = (state += 0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    return z ^ (z >> 31);
  }
};

// Other work on the machine skews every figure here: the load average is printed with them.
std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five;
  in >> one >> five;
  return one + " (1 min), " + five + " (5 min)";
}

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

void Die(const std::string& what, const Status& s) {
  std::fprintf(stderr, "bench_match_e2e: %s: %s\n", what.c_str(), s.ToString().c_str());
  std::exit(1);
}

// Indexed hashes, and queries: even ones an indexed hash with 10..20 bits flipped, odd ones
// random (as in bench_pdq_index).
void MakeData(const Options& o, std::vector<PdqHash>* hashes, std::vector<PdqHash>* queries) {
  SplitMix64 rng{o.seed};
  hashes->resize(o.hashes);
  for (auto& h : *hashes) {
    for (auto& w : h.words) w = rng();
  }
  queries->resize(o.queries);
  for (size_t i = 0; i < queries->size(); ++i) {
    PdqHash& q = (*queries)[i];
    if (i % 2 == 0) {
      const PdqHash& base = (*hashes)[rng() % hashes->size()];
      q = base;
      const int flips = 10 + static_cast<int>(rng() % 11);
      while (HammingDistance(q, base) < flips) {
        const int bit = static_cast<int>(rng() % kPdqBits);
        if (q.Bit(bit) == base.Bit(bit)) q.FlipBit(bit);
      }
    } else {
      for (auto& w : q.words) w = rng();
    }
  }
}

std::string MatchJson(const PdqHash& q, int distance) {
  return "{\"type\":\"pdq\",\"value\":\"" + q.ToHex() +
         "\",\"max_distance\":" + std::to_string(distance) + "}";
}

struct Timing {
  double mean_us = 0;
  double p50_us = 0;
  double p99_us = 0;
};

// Runs `one(i)` over the queries, repeating the pool until `min_seconds` have passed, timing each
// call: the tail shows whether slow answers come from the work itself or from the server.
template <typename F>
Timing TimePerQuery(size_t pool, double min_seconds, F&& one) {
  std::vector<double> each;
  const auto t = Clock::now();
  do {
    for (size_t i = 0; i < pool; ++i) {
      const auto t0 = Clock::now();
      one(i);
      each.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
  } while (Since(t) < min_seconds);
  Timing r;
  r.mean_us = Since(t) * 1e6 / static_cast<double>(each.size());
  r.p50_us = Quantile(each, 0.5);
  r.p99_us = Quantile(each, 0.99);
  return r;
}

std::string Us(double us) {
  char buf[32];
  std::snprintf(buf, sizeof buf, us < 100 ? "%.1f" : "%.0f", us);
  return buf;
}

// One in-process stage: mean cost (single thread) and the spread of single calls.
void PrintStage(const char* name, const Timing& t, const char* note) {
  std::printf("%-37s %6s us/query mean (%6.0f/s), p50 %s, p99 %s  %s\n", name,
              Us(t.mean_us).c_str(), 1e6 / t.mean_us, Us(t.p50_us).c_str(), Us(t.p99_us).c_str(),
              note);
}

struct Row {
  std::string what;
  LoadResult result;
  double daemon_cpu = 0;  // seconds during the phase
  double bench_cpu = 0;
  uint64_t daemon_switches = 0;
  double other_cores = 0;  // CPU that other processes used meanwhile, in cores
  double steal_cores = 0;
};

void PrintRowHeader() {
  std::printf("%-34s %7s %7s %7s %8s %7s %10s %9s %10s %6s %6s\n", "run", "req/s", "p50 us",
              "p99 us", "p99.9 us", "max us", "daemon", "daemon", "bench", "other", "errors");
  std::printf("%-34s %7s %7s %7s %8s %7s %10s %9s %10s %6s %6s\n", "", "", "", "", "", "",
              "CPU us/req", "cswch/req", "CPU us/req", "cores", "");
}

void PrintRow(Row& row) {
  auto& r = row.result;
  const double n = static_cast<double>(std::max<uint64_t>(r.requests + r.errors, 1));
  const double p50 = Quantile(r.latencies_us, 0.50), p99 = Quantile(r.latencies_us, 0.99);
  const double p999 = Quantile(r.latencies_us, 0.999), max = Quantile(r.latencies_us, 1.0);
  std::printf("%-34s %7.0f %7s %7s %8s %7s %10s %9.1f %10s %6.2f %6llu\n", row.what.c_str(),
              r.rate(), Us(p50).c_str(), Us(p99).c_str(), Us(p999).c_str(), Us(max).c_str(),
              Us(row.daemon_cpu * 1e6 / n).c_str(), row.daemon_switches / n,
              Us(row.bench_cpu * 1e6 / n).c_str(), row.other_cores,
              static_cast<unsigned long long>(r.errors));
  if (row.steal_cores > 0.05) std::printf("  hypervisor steal: %.2f cores\n", row.steal_cores);
  if (r.errors > 0) std::printf("  first error: %s\n", r.first_error.c_str());
  std::fflush(stdout);
}

int Run(const Options& o) {
  if (!InitCrypto()) Die("init", Internal("libsodium"));
  std::printf(
      "hashmesh end-to-end match benchmark: %u PDQ signals, distance %d, %u distinct "
      "queries (half near-duplicates with 10-20 bits flipped, half random), seed %llu, "
      "%u cores\n\n",
      o.hashes, o.distance, o.queries, static_cast<unsigned long long>(o.seed),
      std::thread::hardware_concurrency());
  std::printf("load average before: %s\n", LoadAverage().c_str());
  std::vector<PdqHash> hashes, queries;
  MakeData(o, &hashes, &queries);

  // ---- baseline 1: the bare index, one thread ----
  std::vector<int> expected(queries.size());
  Timing index_t;
  {
    PdqIndex index;
    std::vector<std::pair<uint32_t, PdqHash>> entries;
    entries.reserve(hashes.size());
    for (uint32_t i = 0; i < hashes.size(); ++i) entries.emplace_back(i, hashes[i]);
    const auto t = Clock::now();
    if (Status s = index.Build(std::move(entries)); !s.ok()) Die("index build", s);
    const double build = Since(t);
    for (size_t i = 0; i < queries.size(); ++i) {
      expected[i] = static_cast<int>(index.Query(queries[i], o.distance).size());
    }
    size_t sink = 0;
    index_t = TimePerQuery(queries.size(), 1.0,
                           [&](size_t i) { sink += index.Query(queries[i], o.distance).size(); });
    int matched = 0;
    for (int e : expected) matched += e > 0;
    std::printf("PdqIndex built in %.2f s; %d of %zu queries match%s\n", build, matched,
                queries.size(), sink == 0 ? " (none!)" : "");
    PrintStage("in-process PdqIndex::Query", index_t, "");
  }

  // ---- the node's data: keys, trust store, a feed written straight into LMDB ----
  std::optional<std::string> temp_root;
  std::string root = o.workdir;
  if (root.empty()) {
    std::string pattern = std::filesystem::temp_directory_path().string() + "/hm-e2e-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) Die("mkdtemp", IoError("failed"));
    root = pattern;
    temp_root = root;
  }
  const std::string keys = root + "/keys", data = root + "/data", trust = data + "/trust.toml";
  const std::string socket = data + "/query.sock", log = root + "/hashmeshd.log";
  const std::string stamp_path = root + "/feed.done";
  std::ostringstream stamp;
  stamp << "hashes=" << o.hashes << " seed=" << o.seed << "\n";
  std::error_code ec;
  const bool reuse = std::filesystem::exists(stamp_path, ec) && [&] {
    std::ifstream in(stamp_path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str() == stamp.str();
  }();
  if (reuse) {
    std::printf("%-37s reused from %s\n", "node data", root.c_str());
  } else {
    std::filesystem::remove_all(keys, ec);
    std::filesystem::remove_all(data, ec);
    std::filesystem::create_directories(data);
    auto init = RunTool("hashmesh-keys", {"init", "--dir", keys, "--name", "bench", "--json"});
    if (!init.ok()) Die("hashmesh-keys init", init.status());
    auto identity = LoadNodeIdentity(keys);
    if (!identity.ok()) Die("load keys", identity.status());
    auto added =
        RunTool("hashmesh-keys", {"trust", "add", "--trust", trust, "--name", "bench", "--member",
                                  KeyToText(identity->member_key()), "--role", "platform"});
    if (!added.ok()) Die("hashmesh-keys trust add", added.status());
    const int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    auto feed = WriteSignalFeed(data, *identity, hashes, threads);
    if (!feed.ok()) Die("write feed", feed.status());
    std::printf(
        "node data: %llu records written in %.1f s (bodies %.1f s, "
        "signing %.1f s on %d threads, LMDB %.1f s), data.mdb %.0f MiB\n",
        static_cast<unsigned long long>(feed->records),
        feed->build_seconds + feed->sign_seconds + feed->write_seconds, feed->build_seconds,
        feed->sign_seconds, threads, feed->write_seconds, feed->data_bytes / 1048576.0);
    std::ofstream(stamp_path) << stamp.str();
  }

  // ---- baselines 2 and 3: the matcher over the store, and the API handler (JSON, no HTTP) ----
  Timing matcher_t, handler_t;
  {
    auto store = Store::Open({.dir = data});
    if (!store.ok()) Die("open store", store.status());
    PdqSignalIndex signal_index;
    auto t = Clock::now();
    if (Status s = signal_index.Load(**store); !s.ok()) Die("load index", s);
    const double load = Since(t);
    auto trust_store = LoadTrustStore(trust);
    if (!trust_store.ok()) Die("trust store", trust_store.status());
    auto trust_ptr = std::make_shared<const TrustStore>(std::move(*trust_store));
    auto config = std::make_shared<const QuerySettings>();
    Matcher matcher(store->get(), &signal_index);
    std::vector<MatchSpec> specs(queries.size());
    for (size_t i = 0; i < queries.size(); ++i) {
      specs[i] = {
          .kind = SignalKind::kPdq, .value = queries[i].ToHex(), .max_distance = o.distance};
    }
    const uint64_t now = NowMs();
    int wrong = 0;
    matcher_t = TimePerQuery(queries.size(), 1.0, [&](size_t i) {
      auto r = matcher.Match(specs[i], *trust_ptr, config->policy, now);
      if (!r.ok() || static_cast<int>(r->matches.size()) != expected[i]) ++wrong;
    });
    std::printf("%-37s %.2f s for %zu hashes (LMDB scan + build)\n",
                "in-process PdqSignalIndex::Load", load, signal_index.size());
    PrintStage("in-process Matcher::Match", matcher_t,
               wrong ? "WRONG ANSWERS" : "+ record lookups, verdict");

    // The two JSON steps of the handler alone, on the same requests and answers.
    std::vector<api::MatchResponse> answers(queries.size());
    std::vector<std::string> bodies(queries.size());
    for (size_t i = 0; i < queries.size(); ++i) {
      answers[i] = ToMatchResponse(*matcher.Match(specs[i], *trust_ptr, config->policy, now),
                                   *trust_ptr, now);
      bodies[i] = MatchJson(queries[i], o.distance);
    }
    size_t json_bytes = 0, sink = 0;
    for (const auto& a : answers) json_bytes += ToJson(a).size();
    const Timing parse_t = TimePerQuery(queries.size(), 0.5, [&](size_t i) {
      api::MatchRequest request;
      if (!FromJson(bodies[i], &request).ok()) ++wrong;
    });
    const Timing print_t =
        TimePerQuery(queries.size(), 0.5, [&](size_t i) { sink += ToJson(answers[i]).size(); });
    PrintStage("in-process FromJson(MatchRequest)", parse_t, "");
    PrintStage("in-process ToJson(MatchResponse)", print_t,
               (std::to_string(json_bytes / std::max<size_t>(1, queries.size())) +
                " bytes on average" + (sink == 0 ? " (none!)" : ""))
                   .c_str());

    hashmesh::testing::FixedNode node(trust_ptr, config);
    QueryRoutes routes(store->get(), &matcher, nullptr, &node);
    wrong = 0;
    handler_t = TimePerQuery(queries.size(), 1.0, [&](size_t i) {
      HttpRequest request{.method = "POST", .target = "/v1/match", .body = bodies[i], .peer = {}};
      HttpResponse response;
      routes.Handle(std::move(request), [&](HttpResponse r) { response = std::move(r); });
      if (response.status != 200 || CountMatches(response.body) != expected[i]) ++wrong;
    });
    PrintStage("in-process QueryRoutes::Handle", handler_t,
               wrong ? "WRONG ANSWERS" : "+ JSON parse and print");
  }

  // ---- the daemon ----
  std::vector<std::string> args = {"--data",  data,  "--keys",      keys,
                                   "--trust", trust, "--log-level", "info"};
  if (o.api_threads > 0) {
    args.push_back("--api-threads");
    args.push_back(std::to_string(o.api_threads));
  }
  DaemonProcess daemon;
  std::filesystem::remove(log, ec);
  auto ready = daemon.StartAndWaitReady(args, log, socket, std::chrono::seconds(120));
  if (!ready.ok()) Die("start hashmeshd", ready.status());
  std::string index_ms = "?";
  {
    std::ifstream in(log);
    std::string line;
    while (std::getline(in, line)) {
      if (line.find("PDQ index built") == std::string::npos) continue;
      if (size_t p = line.find(" ms="); p != std::string::npos) index_ms = line.substr(p + 4);
    }
  }
  std::printf(
      "%-37s %.2f s (its log: PDQ index built in %s ms); RSS %.0f MiB anonymous + "
      "%.0f MiB of mapped LMDB pages\n\n",
      "hashmeshd start to ready", *ready, index_ms.c_str(),
      daemon.StatusBytes("RssAnon") / 1048576.0, daemon.StatusBytes("RssFile") / 1048576.0);

  std::vector<LoadRequest> requests(queries.size());
  for (size_t i = 0; i < queries.size(); ++i) {
    requests[i].body = MatchJson(queries[i], o.distance);
    requests[i].http = BuildPost("/v1/match", requests[i].body);
    requests[i].expected_matches = expected[i];
  }
  auto measure = [&](const std::string& what, auto&& run) {
    Row row;
    row.what = what;
    const double d0 = daemon.CpuSeconds(), b0 = OwnCpuSeconds();
    const uint64_t s0 = daemon.ContextSwitches();
    const MachineCpu m0 = MachineCpuSeconds();
    row.result = run();
    const MachineCpu m1 = MachineCpuSeconds();
    row.daemon_cpu = daemon.CpuSeconds() - d0;
    row.bench_cpu = OwnCpuSeconds() - b0;
    row.daemon_switches = daemon.ContextSwitches() - s0;
    const double wall = std::max(row.result.seconds, 1e-3);
    row.other_cores = std::max(0.0, (m1.busy - m0.busy) - row.daemon_cpu - row.bench_cpu) / wall;
    row.steal_cores = (m1.steal - m0.steal) / wall;
    PrintRow(row);
    return row;
  };
  PrintRowHeader();
  std::map<int, Row> keep_alive;
  for (int c : o.http_call_clients) {
    measure("closed, HttpCall (conn/request) x" + std::to_string(c), [&] {
      return RunClosedLoop(socket, requests, c, ClientKind::kHttpCall,
                           std::chrono::duration<double>(o.http_call_seconds));
    });
  }
  for (int c : o.clients) {
    keep_alive[c] = measure("closed, keep-alive x" + std::to_string(c), [&] {
      return RunClosedLoop(socket, requests, c, ClientKind::kKeepAlive,
                           std::chrono::duration<double>(o.closed_seconds));
    });
  }
  char what[96];
  std::snprintf(what, sizeof what, "open %.0f/s, keep-alive x%d", o.rate, o.open_connections);
  Row open = measure(what, [&] {
    return RunOpenLoop(socket, requests, o.rate, o.open_connections,
                       std::chrono::duration<double>(o.open_seconds));
  });
  const uint64_t sent = open.result.requests + open.result.errors;
  std::printf(
      "  open loop: %llu requests over %.1f s, %llu sent more than 1 ms late; latency "
      "from the scheduled send time\n",
      static_cast<unsigned long long>(sent), open.result.seconds,
      static_cast<unsigned long long>(open.result.late_sends));
  const int stop_code = daemon.Stop();

  std::printf(
      "\nper-query cost, single client: PdqIndex %s us, Matcher %s us (x%.1f), "
      "QueryRoutes %s us (x%.1f)",
      Us(index_t.mean_us).c_str(), Us(matcher_t.mean_us).c_str(),
      matcher_t.mean_us / index_t.mean_us, Us(handler_t.mean_us).c_str(),
      handler_t.mean_us / index_t.mean_us);
  if (auto it = keep_alive.find(1); it != keep_alive.end()) {
    const double p50 = Quantile(it->second.result.latencies_us, 0.5);
    std::printf(", over the socket p50 %s us (x%.1f)", Us(p50).c_str(), p50 / index_t.mean_us);
  }
  std::printf("\n");
  const bool met = Quantile(open.result.latencies_us, 0.99) < 2000 && open.result.errors == 0 &&
                   open.result.rate() >= 0.98 * o.rate;
  std::printf("target (p99 < 2 ms at %.0f requests/s): %s\n", o.rate, met ? "met" : "MISSED");
  std::printf("load average after: %s\n", LoadAverage().c_str());
  if (stop_code != 0) std::printf("hashmeshd exited with %d; log: %s\n", stop_code, log.c_str());
  if (temp_root) std::filesystem::remove_all(*temp_root, ec);
  return 0;
}

}  // namespace
}  // namespace hashmesh::bench

int main(int argc, char** argv) {
  hashmesh::bench::Options o;
  CLI::App app("End-to-end PDQ match benchmark of hashmeshd over its query socket.",
               "bench_match_e2e");
  app.add_option("--hashes", o.hashes, "PDQ signals in the node's feed")->capture_default_str();
  app.add_option("--seed", o.seed, "seed of hashes and queries")->capture_default_str();
  app.add_option("--queries", o.queries, "distinct queries (cycled)")->capture_default_str();
  app.add_option("--distance", o.distance, "max_distance of each query")->capture_default_str();
  app.add_option("--clients", o.clients, "closed-loop keep-alive client counts")
      ->capture_default_str();
  app.add_option("--http-call-clients", o.http_call_clients,
                 "closed-loop client counts with HttpCall (a connection per request)")
      ->capture_default_str();
  app.add_option("--closed-seconds", o.closed_seconds, "length of each keep-alive closed loop")
      ->capture_default_str();
  app.add_option("--http-call-seconds", o.http_call_seconds, "length of each HttpCall loop")
      ->capture_default_str();
  app.add_option("--rate", o.rate, "open-loop requests per second")->capture_default_str();
  app.add_option("--open-seconds", o.open_seconds, "length of the open loop")
      ->capture_default_str();
  app.add_option("--open-connections", o.open_connections, "open-loop connections (threads)")
      ->capture_default_str();
  app.add_option("--api-threads", o.api_threads, "hashmeshd --api-threads (0: its default)")
      ->capture_default_str();
  app.add_option("--workdir", o.workdir,
                 "keep keys, data and log here, and reuse a feed made with the same --hashes "
                 "and --seed (default: a temporary directory, removed)");
  CLI11_PARSE(app, argc, argv);
  return hashmesh::bench::Run(o);
}
