// Catch-up benchmark: a fresh hashmeshd syncing one member's 100,000-record feed from one peer over
// TLS on loopback, against this machine's raw single-thread Ed25519 verify rate (the ceiling).
// Run: build/bin/bench_fed_catchup [--records N]   (figures and commands in docs/benchmarks.md)
#include <CLI/CLI.hpp>
#include <cstdio>
#include <thread>

#include "keys/key_dir.h"
#include "tests/bench/fed_bench_util.h"
#include "tests/support/federation.h"

namespace hashmesh::fedbench {
namespace {

struct Options {
  uint64_t records = 100000;
  double verify_seconds = 2;
  int prepare_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
};

int Run(const Options& o) {
  if (!InitCrypto()) return 1;
  PrintMachine("bench_fed_catchup");
  testing::Federation fed({{"source"}, {"fresh"}});
  testing::TestNode& source = fed.node(0);
  testing::TestNode& fresh = fed.node(1);
  const std::string author = fed.member_id(0);

  // The source is the member's own node: its feed goes straight into its LMDB before it starts,
  // signed with the node key of the key directory `hashmesh-keys init` made.
  auto identity = LoadNodeIdentity(fed.keys_dir(0));
  if (!identity.ok()) {
    std::fprintf(stderr, "%s\n", identity.status().ToString().c_str());
    return 1;
  }
  const auto prepare_started = Clock::now();
  FeedSigner signer{identity->member_key(), &identity->node_key, identity->manifest.seq,
                    identity->manifest_bytes};
  auto feed = BuildFeed(signer, o.records, /*salt=*/1, o.prepare_threads);
  if (!feed.ok()) {
    std::fprintf(stderr, "building the feed: %s\n", feed.status().ToString().c_str());
    return 1;
  }
  const double signed_s = SecondsSince(prepare_started);
  {
    auto store = Store::Open({.dir = source.data_dir(), .initial_map_bytes = 1ull << 30});
    Status s = store.ok() ? WriteRecords(**store, *feed, 10000) : store.status();
    if (!s.ok()) {
      std::fprintf(stderr, "writing the source's store: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  PrintFigure("prepare.build_and_sign_s", signed_s, "s", std::to_string(o.records) + " records");
  PrintFigure("prepare.total_s", SecondsSince(prepare_started), "s", "with the LMDB writes");

  // The ceiling, on an idle machine, over the very messages the fresh node will verify.
  std::vector<ParsedRecord> sample(feed->begin(),
                                   feed->begin() + std::min<size_t>(feed->size(), 4096));
  feed->clear();
  const PublicKey signing_key = identity->node_key.public_key();
  const VerifyRate raw_before = RawVerifyRate(sample, signing_key, o.verify_seconds);

  if (Status s = fed.Start(0, {}); !s.ok()) {
    std::fprintf(stderr, "source: %s\n", s.ToString().c_str());
    return 1;
  }
  if (ReadFeedSeq(source, author) != o.records) {
    std::fprintf(stderr, "the source does not serve the prepared feed\n%s", source.log().c_str());
    return 1;
  }
  const double source_cpu0 = DaemonCpuSeconds(source.data_dir());

  // Timed from starting the fresh node (process start, TLS, Hello, Heads included).
  const auto started = Clock::now();
  if (Status s = fed.Start(1, {0}); !s.ok()) {
    std::fprintf(stderr, "fresh: %s\n", s.ToString().c_str());
    return 1;
  }
  const double up_s = SecondsSince(started);
  std::vector<std::pair<double, uint64_t>> progress;  // (seconds since start, head seq)
  const double timeout_s = 60 + static_cast<double>(o.records) / 1000;
  uint64_t seq = 0;
  while (seq < o.records && SecondsSince(started) < timeout_s) {
    seq = ReadFeedSeq(fresh, author).value_or(seq);
    progress.emplace_back(SecondsSince(started), seq);
    if (seq < o.records) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double total_s = progress.back().first;
  const double fresh_cpu = DaemonCpuSeconds(fresh.data_dir());
  const double source_cpu = DaemonCpuSeconds(source.data_dir()) - source_cpu0;
  const auto fresh_threads = DaemonThreads(fresh.data_dir());
  if (seq < o.records) {
    std::fprintf(stderr, "the fresh node reached seq %lu of %lu in %.0f s\n", (unsigned long)seq,
                 (unsigned long)o.records, timeout_s);
    return 1;
  }
  // Steady state: from 10% to 90% of the feed, without start-up and the last commit's wait.
  auto at = [&](uint64_t target) {
    for (const auto& [t, s] : progress) {
      if (s >= target) return std::make_pair(t, s);
    }
    return progress.back();
  };
  const auto [t10, s10] = at(o.records / 10);
  const auto [t90, s90] = at(o.records * 9 / 10);
  const double first_record_s = at(1).first;
  const VerifyRate raw_after = RawVerifyRate(sample, signing_key, o.verify_seconds);

  const double rate = static_cast<double>(o.records) / total_s;
  const double steady = t90 > t10 ? static_cast<double>(s90 - s10) / (t90 - t10) : 0;
  PrintFigure("raw_verify.before_per_s", raw_before.per_s, "verify/s", "1 thread, libsodium");
  PrintFigure("raw_verify.before_per_cpu_s", raw_before.per_cpu_s, "verify/cpu-s");
  PrintFigure("raw_verify.after_per_s", raw_after.per_s, "verify/s", "same, after the sync");
  PrintFigure("catchup.fresh_node_up_s", up_s, "s", "start until its API answers");
  PrintFigure("catchup.first_record_s", first_record_s, "s");
  PrintFigure("catchup.total_s", total_s, "s", "start until head = " + std::to_string(o.records));
  PrintFigure("catchup.records_per_s", rate, "records/s", "over total_s");
  PrintFigure("catchup.steady_records_per_s", steady, "records/s", "10% -> 90% of the feed");
  PrintFigure("catchup.ratio_to_raw_verify", rate / raw_before.per_s, "x", "target >= 0.70");
  PrintFigure("catchup.steady_ratio_to_raw_verify", steady / raw_before.per_s, "x");
  PrintFigure("cpu.fresh_node_s", fresh_cpu, "s",
              "CPU (user+sys) / wall: " + std::to_string(fresh_cpu / total_s).substr(0, 4));
  PrintFigure("cpu.source_node_s", source_cpu, "s",
              "CPU (user+sys) / wall: " + std::to_string(source_cpu / total_s).substr(0, 4));
  // What one record costs the fresh node, in units of one raw verification: above 1 is the
  // work besides the signature check (parse, LMDB, TLS, index).
  PrintFigure("cpu.fresh_per_record_us", fresh_cpu / static_cast<double>(o.records) * 1e6, "us",
              "raw verify: " + std::to_string(1e6 / raw_before.per_cpu_s).substr(0, 5) + " us");
  // Time the fresh node's threads were ready to run but had no CPU: near 0 on a quiet machine;
  // seconds of it mean other processes took the cores and the figures above are low.
  double queued = 0;
  for (const auto& t : fresh_threads) queued += t.queue_s;
  PrintFigure("contention.fresh_runqueue_wait_s", queued, "s",
              "all threads; ~1.5 on a quiet machine");
  std::printf("# fresh node threads, busiest first (tid cpu-s/runqueue-wait-s): %s\n",
              FormatThreads(fresh_threads, 6).c_str());
  return 0;
}

}  // namespace
}  // namespace hashmesh::fedbench

int main(int argc, char** argv) {
  hashmesh::fedbench::Options o;
  CLI::App app{
      "Catch-up benchmark: a fresh hashmeshd syncs one member's feed from one peer on loopback;\n"
      "records/s against the raw single-thread Ed25519 verify rate measured in the same run."};
  app.add_option("--records", o.records, "Records in the source's feed (seq 1 is its manifest)")
      ->capture_default_str()
      ->check(CLI::Range(2, 10000000));
  app.add_option("--verify-seconds", o.verify_seconds, "How long to measure the raw verify rate")
      ->capture_default_str();
  app.add_option("--prepare-threads", o.prepare_threads, "Threads signing the prepared feed")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  return hashmesh::fedbench::Run(o);
}
