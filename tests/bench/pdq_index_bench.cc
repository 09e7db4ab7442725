// Benchmark of PdqIndex against the PdqScan baseline at 1M and 10M random hashes, distance 31,
// half near-duplicate and half random queries. Quick run: --benchmark_filter=/1M
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/pdq_index.h"

namespace hashmesh {
namespace {

constexpr int kRadius = kDefaultPdqThreshold;
constexpr size_t kQueries = 8192;

// Deterministic and fast enough to make 10M hashes in a moment.
struct SplitMix64 {
  uint64_t state;
  uint64_t operator()() {
    uint64_t z = (state += 0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    return z ^ (z >> 31);
  }
};

size_t ResidentBytes() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<size_t>(resident) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// Data, index and baseline for one size, built once and shared by the benchmarks of that size.
struct Fixture {
  std::vector<PdqHash> hashes;
  std::vector<PdqHash> queries;  // even: an indexed hash with 10..20 bits flipped; odd: random
  std::unique_ptr<PdqIndex> index;
  double build_seconds = 0;
  size_t rss_delta = 0;
  double scan_qps = 0;
  size_t scan_queries = 0;
};

Fixture& GetFixture(uint32_t n) {
  static std::map<uint32_t, std::unique_ptr<Fixture>> fixtures;
  auto& slot = fixtures[n];
  if (slot) return *slot;
  slot = std::make_unique<Fixture>();
  Fixture& f = *slot;
  SplitMix64 rng{n};
  f.hashes.resize(n);
  for (auto& h : f.hashes) {
    for (auto& w : h.words) w = rng();
  }
  for (size_t i = 0; i < kQueries; ++i) {
    PdqHash q;
    if (i % 2 == 0) {
      const PdqHash& base = f.hashes[rng() % n];
      q = base;
      int flips = 10 + static_cast<int>(rng() % 11);
      while (HammingDistance(q, base) < flips) {
        int bit = static_cast<int>(rng() % kPdqBits);
        if (q.Bit(bit) == base.Bit(bit)) q.FlipBit(bit);
      }
    } else {
      for (auto& w : q.words) w = rng();
    }
    f.queries.push_back(q);
  }

  // Build frees its argument before it allocates the tables, so the difference is the index.
  size_t rss_before = ResidentBytes();
  std::vector<std::pair<uint32_t, PdqHash>> entries;
  entries.reserve(n);
  for (uint32_t i = 0; i < n; ++i) entries.emplace_back(i, f.hashes[i]);
  auto start = std::chrono::steady_clock::now();
  f.index = std::make_unique<PdqIndex>();
  if (!f.index->Build(std::move(entries)).ok()) std::abort();
  f.build_seconds = Seconds(std::chrono::steady_clock::now() - start);
  size_t rss_after = ResidentBytes();
  f.rss_delta = rss_after > rss_before ? rss_after - rss_before : 0;

  // The baseline, timed on the first queries of the same stream.
  {
    PdqScan scan;
    std::vector<std::pair<uint32_t, PdqHash>> copy;
    copy.reserve(n);
    for (uint32_t i = 0; i < n; ++i) copy.emplace_back(i, f.hashes[i]);
    scan.Build(std::move(copy));
    f.scan_queries = n >= 5'000'000 ? 128 : 1024;
    size_t hits = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < f.scan_queries; ++i) hits += scan.Query(f.queries[i], kRadius).size();
    f.scan_qps = f.scan_queries / Seconds(std::chrono::steady_clock::now() - t0);
    benchmark::DoNotOptimize(hits);
  }
  return f;
}

void BM_PdqIndexQuery(benchmark::State& state, uint32_t n) {
  Fixture& f = GetFixture(n);
  size_t i = 0, hits = 0;
  auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    std::vector<PdqHit> result = f.index->Query(f.queries[i++ % kQueries], kRadius);
    hits += result.size();
    benchmark::DoNotOptimize(result.data());
  }
  double qps = state.iterations() / Seconds(std::chrono::steady_clock::now() - start);
  state.counters["qps"] = qps;
  state.counters["scan_qps"] = f.scan_qps;
  state.counters["speedup"] = qps / f.scan_qps;
  state.counters["hits_per_q"] = static_cast<double>(hits) / state.iterations();
  state.counters["build_s"] = f.build_seconds;
  state.counters["build_threads"] = std::thread::hardware_concurrency();
  state.counters["mem_MiB"] = f.index->MemoryBytes() / 1048576.0;
  state.counters["rss_MiB"] = f.rss_delta / 1048576.0;
}

// Adds one merge batch (the larger of 2048 and 1/1024 of the size) and waits until it is folded
// into the tables: the background cost of a stream of Adds. Grows the shared index; runs last.
void BM_PdqIndexMerge(benchmark::State& state, uint32_t n) {
  Fixture& f = GetFixture(n);
  uint32_t batch = std::max<uint32_t>(2048, static_cast<uint32_t>(f.index->size() / 1024));
  SplitMix64 rng{~uint64_t{n}};
  uint32_t id = static_cast<uint32_t>(f.index->size());
  for (auto _ : state) {
    for (uint32_t i = 0; i < batch; ++i) {
      PdqHash h;
      for (auto& w : h.words) w = rng();
      if (!f.index->Add(id++, h).ok()) std::abort();
    }
    f.index->Compact();  // waits for the background merge the last Add started
  }
  state.counters["batch"] = batch;
  state.counters["adds_per_s"] = benchmark::Counter(static_cast<double>(batch) * state.iterations(),
                                                    benchmark::Counter::kIsRate);
}

void Register() {
  for (auto [name, n] : {std::pair{"1M", 1'000'000u}, std::pair{"10M", 10'000'000u}}) {
    benchmark::RegisterBenchmark((std::string("PdqIndexQuery/") + name).c_str(), BM_PdqIndexQuery,
                                 n)
        ->UseRealTime()
        ->MinTime(2.0)
        ->Unit(benchmark::kMicrosecond);
  }
  for (auto [name, n] : {std::pair{"1M", 1'000'000u}, std::pair{"10M", 10'000'000u}}) {
    benchmark::RegisterBenchmark((std::string("PdqIndexMerge/") + name).c_str(), BM_PdqIndexMerge,
                                 n)
        ->UseRealTime()
        ->Iterations(5)
        ->Unit(benchmark::kMillisecond);
  }
}

}  // namespace
}  // namespace hashmesh

int main(int argc, char** argv) {
  hashmesh::Register();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
