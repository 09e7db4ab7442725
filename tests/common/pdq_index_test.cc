// Tests for PdqIndex: exact radius search checked against brute force and the reference
// needles/haystack pairs, with Build, Add, merges and concurrent queries.
#include "common/pdq_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace hashmesh {
namespace {

using Entries = std::vector<std::pair<uint32_t, PdqHash>>;

PdqHash RandomHash(std::mt19937_64& rng) {
  PdqHash h;
  for (auto& w : h.words) w = rng();
  return h;
}

// `h` with exactly `d` distinct bits flipped.
PdqHash Flip(PdqHash h, int d, std::mt19937_64& rng) {
  std::vector<int> bits(kPdqBits);
  for (int i = 0; i < kPdqBits; ++i) bits[i] = i;
  std::shuffle(bits.begin(), bits.end(), rng);
  for (int i = 0; i < d; ++i) h.FlipBit(bits[i]);
  return h;
}

// "id:distance" sorted by id, e.g. "3:0 17:31".
std::string Render(std::vector<PdqHit> hits) {
  std::sort(hits.begin(), hits.end(), [](const PdqHit& a, const PdqHit& b) { return a.id < b.id; });
  std::string out;
  for (const auto& h : hits) {
    if (!out.empty()) out += ' ';
    out += std::to_string(h.id) + ":" + std::to_string(h.distance);
  }
  return out;
}

std::string BruteForce(const Entries& entries, const PdqHash& q, int r) {
  std::vector<PdqHit> hits;
  for (const auto& [id, h] : entries) {
    int d = HammingDistance(h, q);
    if (d <= r) hits.push_back({id, d});
  }
  return Render(hits);
}

constexpr int kPlantedDistances[] = {0, 1, 15, 30, 31, 32, 40, 64};
constexpr int kRadii[] = {0, 8, 31, 32, 64};

// Random entries (ids 0..n-1) with neighbours of `centers` planted at each planted distance.
Entries PlantedEntries(size_t n, const std::vector<PdqHash>& centers, std::mt19937_64& rng) {
  Entries entries;
  for (size_t i = 0; i < n; ++i) entries.emplace_back(static_cast<uint32_t>(i), RandomHash(rng));
  size_t planted = 0;
  for (const PdqHash& c : centers) {
    for (int d : kPlantedDistances) {
      if (planted >= n) break;
      // Spread over the positions so that planted entries are not all in the first segment.
      size_t pos = planted * 7919 % n;
      entries[pos].second = Flip(c, d, rng);
      ++planted;
    }
  }
  return entries;
}

PdqIndex::Options AlwaysIndexed() {
  PdqIndex::Options o;
  o.min_indexed = 1;
  o.min_merge_batch = 16;
  return o;
}

struct Profile {
  const char* name;
  PdqIndex::Options options;
};

std::vector<Profile> Profiles() {
  return {{"default", PdqIndex::Options()}, {"always_indexed", AlwaysIndexed()}};
}

class PdqIndexPlantedTest : public ::testing::TestWithParam<std::tuple<size_t, int>> {};

TEST_P(PdqIndexPlantedTest, EqualsBruteForce) {
  auto [n, profile_index] = GetParam();
  Profile profile = Profiles()[profile_index];
  std::mt19937_64 rng(n * 31 + profile_index);
  std::vector<PdqHash> centers;
  for (int i = 0; i < 8; ++i) centers.push_back(RandomHash(rng));
  Entries entries = PlantedEntries(n, centers, rng);

  PdqIndex index(profile.options);
  ASSERT_TRUE(index.Build(entries).ok());
  PdqScan scan;
  scan.Build(entries);
  EXPECT_EQ(index.size(), n);
  EXPECT_EQ(scan.size(), n);

  std::vector<PdqHash> queries = centers;
  for (int i = 0; i < 8; ++i) queries.push_back(RandomHash(rng));
  for (int i = 0; i < 8 && n > 0; ++i) queries.push_back(Flip(entries[rng() % n].second, 12, rng));
  for (int r : kRadii) {
    for (size_t qi = 0; qi < queries.size(); ++qi) {
      SCOPED_TRACE(std::string(profile.name) + " n=" + std::to_string(n) +
                   " r=" + std::to_string(r) + " query " + std::to_string(qi));
      std::string expected = BruteForce(entries, queries[qi], r);
      EXPECT_EQ(Render(index.Query(queries[qi], r)), expected);
      EXPECT_EQ(Render(scan.Query(queries[qi], r)), expected);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, PdqIndexPlantedTest,
                         ::testing::Combine(::testing::Values(0, 1, 1000, 200000),
                                            ::testing::Values(0, 1)),
                         [](const auto& info) {
                           return std::string(Profiles()[std::get<1>(info.param)].name) + "_" +
                                  std::to_string(std::get<0>(info.param));
                         });

TEST(PdqIndexTest, PlantedNeighboursAreFoundAtTheirExactDistance) {
  std::mt19937_64 rng(7);
  PdqHash center = RandomHash(rng);
  Entries entries = PlantedEntries(50000, {center}, rng);
  PdqIndex index;
  ASSERT_TRUE(index.Build(entries).ok());
  // Planted ids are 0, 7919, 15838, ... with distances 0, 1, 15, 30, 31, 32, 40, 64.
  EXPECT_EQ(Render(index.Query(center, 31)), "0:0 7919:1 15838:15 23757:30 31676:31");
  EXPECT_EQ(Render(index.Query(center, 32)), "0:0 7919:1 15838:15 23757:30 31676:31 39595:32");
  EXPECT_EQ(Render(index.Query(center, 0)), "0:0");
}

TEST(PdqIndexTest, RadiusIsClampedAndNegativeFindsNothing) {
  std::mt19937_64 rng(3);
  Entries entries;
  for (uint32_t i = 0; i < 5000; ++i) entries.emplace_back(i, RandomHash(rng));
  PdqIndex index;
  ASSERT_TRUE(index.Build(entries).ok());
  PdqHash q = RandomHash(rng);
  EXPECT_TRUE(index.Query(q, -1).empty());
  EXPECT_EQ(index.Query(q, 256).size(), 5000u);
  EXPECT_EQ(index.Query(q, 1000).size(), 5000u);
}

TEST(PdqIndexTest, DuplicateHashesAreAllReturned) {
  std::mt19937_64 rng(5);
  PdqHash h = RandomHash(rng);
  Entries entries;
  for (uint32_t i = 0; i < 4000; ++i) entries.emplace_back(i, RandomHash(rng));
  entries.emplace_back(10001, h);
  entries.emplace_back(10002, h);
  PdqIndex index(AlwaysIndexed());
  ASSERT_TRUE(index.Build(entries).ok());
  ASSERT_TRUE(index.Add(10003, h).ok());
  EXPECT_EQ(Render(index.Query(h, 0)), "10001:0 10002:0 10003:0");
  index.Compact();
  EXPECT_EQ(Render(index.Query(h, 0)), "10001:0 10002:0 10003:0");
}

// ---- reference data ---------------------------------------------------------------------------

// Reads a line without its terminator, "\n" or "\r\n" (the CSV file has the latter).
bool ReadLine(std::istream& in, std::string* line) {
  if (!std::getline(in, *line)) return false;
  if (!line->empty() && line->back() == '\r') line->pop_back();
  return true;
}

std::vector<PdqHash> ReadHashes(const std::string& path) {
  std::ifstream in(path);
  std::vector<PdqHash> out;
  std::string line;
  while (ReadLine(in, &line)) {
    if (line.empty()) continue;
    auto h = PdqHash::FromHex(line);
    EXPECT_TRUE(h.ok()) << line;
    if (h.ok()) out.push_back(*h);
  }
  return out;
}

// "needle,haystack,distance" lines, sorted.
std::set<std::string> ReadExpectedPairs(const std::string& path) {
  std::ifstream in(path);
  std::set<std::string> out;
  std::string line;
  ReadLine(in, &line);  // header
  while (ReadLine(in, &line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string field; std::getline(ss, field, ',');) f.push_back(field);
    if (f.size() == 5) out.insert(f[0] + "," + f[2] + "," + f[4]);
  }
  return out;
}

TEST(PdqIndexTest, NeedlesVsHaystackMatchTheReference) {
  const std::string dir = std::string(HASHMESH_TESTDATA) + "/pdq/hashes/";
  std::vector<PdqHash> needles = ReadHashes(dir + "needles.txt");
  std::vector<PdqHash> haystack = ReadHashes(dir + "haystack.txt");
  std::set<std::string> expected = ReadExpectedPairs(dir + "needles-vs-haystack-matches-d31.csv");
  ASSERT_EQ(needles.size(), 100u);
  ASSERT_EQ(haystack.size(), 1350u);
  ASSERT_EQ(expected.size(), 250u);

  for (const Profile& profile : Profiles()) {
    SCOPED_TRACE(profile.name);
    Entries entries;
    for (uint32_t i = 0; i < haystack.size(); ++i) entries.emplace_back(i, haystack[i]);
    PdqIndex index(profile.options);
    ASSERT_TRUE(index.Build(entries).ok());
    std::set<std::string> found;
    for (size_t n = 0; n < needles.size(); ++n) {
      for (const PdqHit& hit : index.Query(needles[n], kDefaultPdqThreshold)) {
        found.insert(std::to_string(n) + "," + std::to_string(hit.id) + "," +
                     std::to_string(hit.distance));
      }
    }
    EXPECT_EQ(found, expected);
  }
}

// ---- Build and Add ----------------------------------------------------------------------------

// With 16 chunks of 16 bits and radius 31, every chunk is probed at radius 1. This query differs
// from `h` by 1 bit in chunk k and 2 bits in each other chunk (31 in all), so only table k can
// find `h`: a table that lost an entry cannot hide behind the others.
PdqHash TightQuery(PdqHash h, int k, std::mt19937_64& rng) {
  for (int chunk = 0; chunk < 16; ++chunk) {
    int first = static_cast<int>(rng() % 16);
    h.FlipBit(16 * chunk + first);
    if (chunk != k) h.FlipBit(16 * chunk + (first + 1 + static_cast<int>(rng() % 15)) % 16);
  }
  return h;
}

TEST(PdqIndexTest, EntriesFromBuildAndAddAreBothFound) {
  std::mt19937_64 rng(11);
  PdqIndex::Options options;
  options.background_merge = false;  // merges happen inside Add, deterministically
  options.min_indexed = 1000;
  options.min_merge_batch = 500;
  options.chunks = 16;  // fixed, so that merges extend the tables rather than rebuild them
  PdqIndex index(options);
  Entries all;
  for (uint32_t i = 0; i < 5000; ++i) all.emplace_back(i, RandomHash(rng));
  ASSERT_TRUE(index.Build(all).ok());
  for (uint32_t i = 5000; i < 8200; ++i) {  // several merges, and a tail left unmerged
    all.emplace_back(i, RandomHash(rng));
    ASSERT_TRUE(index.Add(i, all.back().second).ok());
  }
  ASSERT_EQ(index.size(), 8200u);

  auto check_all = [&](const char* when) {
    SCOPED_TRACE(when);
    int missing = 0;
    for (const auto& [id, h] : all) {
      std::vector<PdqHit> hits = index.Query(TightQuery(h, id % 16, rng), kDefaultPdqThreshold);
      bool found = std::any_of(hits.begin(), hits.end(),
                               // id by value: clang 14 cannot capture a structured binding.
                               [&, id = id](const PdqHit& x) {
                                 return x.id == id && x.distance == 31;
                               });
      if (!found) ++missing;
    }
    EXPECT_EQ(missing, 0);
    for (int i = 0; i < 20; ++i) {
      PdqHash q = i % 2 ? RandomHash(rng) : Flip(all[rng() % all.size()].second, 25, rng);
      for (int r : kRadii) EXPECT_EQ(Render(index.Query(q, r)), BruteForce(all, q, r));
    }
  };
  check_all("after adds");
  index.Compact();
  check_all("after compact");

  // Adds onto an index built empty: tables appear once there are enough entries.
  PdqIndex grown(options);
  for (const auto& [id, h] : all) ASSERT_TRUE(grown.Add(id, h).ok());
  EXPECT_EQ(Render(grown.Query(all[1234].second, 0)), "1234:0");
  EXPECT_EQ(Render(grown.Query(all[8100].second, 0)), "8100:0");

  // Build replaces the contents.
  ASSERT_TRUE(index.Build({{99, all[0].second}}).ok());
  EXPECT_EQ(index.size(), 1u);
  EXPECT_EQ(Render(index.Query(all[0].second, 31)), "99:0");
  EXPECT_EQ(Render(index.Query(all[1].second, 31)), "");
}

TEST(PdqIndexTest, MemoryBytesGrowsWithTheTables) {
  std::mt19937_64 rng(13);
  Entries entries;
  for (uint32_t i = 0; i < 100000; ++i) entries.emplace_back(i, RandomHash(rng));
  PdqIndex index;
  size_t empty = index.MemoryBytes();
  ASSERT_TRUE(index.Build(entries).ok());
  // At least the hashes, ids and one posting per chunk (>= 11 chunks) for each entry.
  EXPECT_GT(index.MemoryBytes(), empty + 100000 * (32 + 4 + 11 * 4));
}

// ---- concurrency ------------------------------------------------------------------------------

// One writer adds while readers query; every entry added before a query starts must be found.
// Small merge thresholds make the background thread extend and rebuild tables (including a change
// of chunk count) while the queries run, which is what ThreadSanitizer needs to see.
TEST(PdqIndexTest, ConcurrentAddAndQuery) {
  PdqIndex::Options options;
  options.min_indexed = 256;
  options.min_merge_batch = 64;
  PdqIndex index(options);

  constexpr uint32_t kInitial = 1000;
  constexpr uint32_t kTotal = 12000;
  std::mt19937_64 rng(17);
  std::vector<PdqHash> hashes;
  for (uint32_t i = 0; i < kTotal; ++i) hashes.push_back(RandomHash(rng));
  Entries initial;
  for (uint32_t i = 0; i < kInitial; ++i) initial.emplace_back(i, hashes[i]);
  ASSERT_TRUE(index.Build(initial).ok());

  std::atomic<uint32_t> published{kInitial};
  std::atomic<bool> done{false};
  std::atomic<int> missing{0};
  std::atomic<int> queries{0};

  auto reader = [&](uint64_t seed) {
    std::mt19937_64 r(seed);
    while (!done.load()) {
      uint32_t k = published.load(std::memory_order_acquire);
      // Favour recent entries: they are the ones in flight between store, tail and tables.
      uint32_t j = r() % 2 ? k - 1 - static_cast<uint32_t>(r() % std::min<uint32_t>(k, 200))
                           : static_cast<uint32_t>(r() % k);
      int flips = static_cast<int>(r() % 32);
      std::vector<PdqHit> hits = index.Query(Flip(hashes[j], flips, r), kDefaultPdqThreshold);
      if (std::none_of(hits.begin(), hits.end(), [&](const PdqHit& h) { return h.id == j; })) {
        missing.fetch_add(1);
      }
      queries.fetch_add(1);
    }
  };
  std::vector<std::thread> readers;
  for (int i = 0; i < 3; ++i) readers.emplace_back(reader, 100 + i);
  std::thread writer([&] {
    for (uint32_t i = kInitial; i < kTotal; ++i) {
      ASSERT_TRUE(index.Add(i, hashes[i]).ok());
      published.store(i + 1, std::memory_order_release);
      if (i % 64 == 0) std::this_thread::yield();
    }
  });
  writer.join();
  // Let the readers run against the last merges too.
  while (queries.load() < 3000) std::this_thread::yield();
  done.store(true);
  for (auto& t : readers) t.join();

  EXPECT_EQ(missing.load(), 0) << "of " << queries.load() << " queries";
  EXPECT_EQ(index.size(), kTotal);
  index.Compact();
  for (uint32_t i = 0; i < kTotal; i += 97) {
    EXPECT_EQ(Render(index.Query(hashes[i], 0)), std::to_string(i) + ":0");
  }
}

}  // namespace
}  // namespace hashmesh
