// PdqIndex (multi-index hashing over an append-only hash store, published as immutable snapshots)
// and PdqScan (the popcount scan). See pdq_index.h for the search and concurrency contract.
#include "common/pdq_index.h"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace hashmesh {

// Popcount is the inner loop of every scan and verification. Portable x86-64 has no POPCNT
// instruction, and -march=native would tie the binary to the build host, so the hot loops are
// compiled twice and the loader picks the POPCNT version where the CPU has it (an ifunc).
// Sanitizer builds go without: the loader runs ifunc resolvers before the sanitizer runtime is
// up, and an instrumented resolver crashes the program before main.
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define HM_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer) || \
    __has_feature(memory_sanitizer)
#define HM_SANITIZED 1
#endif
#endif
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__POPCNT__) && !defined(HM_SANITIZED)
#define HM_POPCNT_CLONES __attribute__((target_clones("popcnt", "default")))
#else
#define HM_POPCNT_CLONES
#endif

namespace pdq_index_internal {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;

// A zero-filled array of trivially copyable T, mapped straight from the kernel. Big ones are
// 2 MiB aligned and asked to be backed by huge pages: the tables are probed at random, and TLB
// misses would otherwise cost about as much as the cache misses. The mapping is trimmed to the
// array so that a partial last huge page is not faulted in whole.
template <typename T>
class BigArray {
 public:
  BigArray() = default;
  explicit BigArray(size_t n) : size_(n) {
    constexpr size_t kPage = 4096;
    length_ = std::max<size_t>((n * sizeof(T) + kPage - 1) / kPage * kPage, kPage);
    bool huge = length_ >= kHugePage;
    size_t slack = huge ? kHugePage : 0;
    void* p =
        mmap(nullptr, length_ + slack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    auto base = reinterpret_cast<uintptr_t>(p);
    uintptr_t aligned = huge ? (base + kHugePage - 1) & ~(kHugePage - 1) : base;
    if (aligned > base) munmap(p, aligned - base);
    if (base + slack > aligned)
      munmap(reinterpret_cast<void*>(aligned + length_), base + slack - aligned);
#ifdef MADV_HUGEPAGE
    if (huge) madvise(reinterpret_cast<void*>(aligned), length_, MADV_HUGEPAGE);  // advice only
#endif
    data_ = reinterpret_cast<T*>(aligned);
  }
  BigArray(BigArray&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)),
        length_(std::exchange(other.length_, 0)) {}
  BigArray& operator=(BigArray&& other) noexcept {
    if (this != &other) {
      Release();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
      length_ = std::exchange(other.length_, 0);
    }
    return *this;
  }
  ~BigArray() { Release(); }

  T* data() { return data_; }
  const T* data() const { return data_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  size_t size() const { return size_; }
  size_t bytes() const { return size_ * sizeof(T); }

 private:
  void Release() {
    if (data_ != nullptr) munmap(data_, length_);
  }

  T* data_ = nullptr;
  size_t size_ = 0;
  size_t length_ = 0;  // mapped bytes
};

}  // namespace

// Append-only storage of (hash, id) by position, in fixed segments that never move, so readers
// can use entries below size() while the single writer appends. The release store of size_
// publishes the entries (and any new segment) written before it.
class HashStore {
 public:
  static constexpr int kSegmentBits = 16;  // 65536 hashes: exactly one 2 MiB huge page
  static constexpr uint32_t kSegmentSize = uint32_t{1} << kSegmentBits;
  static constexpr uint32_t kMaxSegments = PdqIndex::kMaxEntries >> kSegmentBits;

  HashStore() : segments_(std::make_unique<Segment[]>(kMaxSegments)) {}

  uint32_t size() const { return size_.load(std::memory_order_acquire); }
  const PdqHash& hash(uint32_t pos) const {
    return segments_[pos >> kSegmentBits].hashes[pos & (kSegmentSize - 1)];
  }
  uint32_t id(uint32_t pos) const {
    return segments_[pos >> kSegmentBits].ids[pos & (kSegmentSize - 1)];
  }
  // Calls f(hashes, first_pos, count) for the contiguous runs covering [from, to).
  template <typename F>
  void ForEachRun(uint32_t from, uint32_t to, F&& f) const {
    while (from < to) {
      uint32_t offset = from & (kSegmentSize - 1);
      uint32_t count = std::min(to - from, kSegmentSize - offset);
      f(&segments_[from >> kSegmentBits].hashes[offset], from, count);
      from += count;
    }
  }
  size_t MemoryBytes() const {
    return segment_count_.load(std::memory_order_relaxed) *
               (kSegmentSize * (sizeof(PdqHash) + sizeof(uint32_t))) +
           kMaxSegments * sizeof(Segment);
  }

  // Writer only. False when full.
  bool Append(uint32_t id, const PdqHash& hash) {
    uint32_t pos = size_.load(std::memory_order_relaxed);
    if (pos >= PdqIndex::kMaxEntries) return false;
    Put(pos, id, hash);
    size_.store(pos + 1, std::memory_order_release);
    return true;
  }
  // Writer only; the caller has checked the size against kMaxEntries.
  void AppendAll(const std::vector<std::pair<uint32_t, PdqHash>>& entries) {
    uint32_t pos = size_.load(std::memory_order_relaxed);
    for (const auto& [id, hash] : entries) Put(pos++, id, hash);
    size_.store(pos, std::memory_order_release);
  }

 private:
  struct Segment {
    BigArray<PdqHash> hashes;
    BigArray<uint32_t> ids;
  };

  void Put(uint32_t pos, uint32_t id, const PdqHash& hash) {
    Segment& s = segments_[pos >> kSegmentBits];
    if (s.hashes.size() == 0) {
      s.hashes = BigArray<PdqHash>(kSegmentSize);
      s.ids = BigArray<uint32_t>(kSegmentSize);
      segment_count_.fetch_add(1, std::memory_order_relaxed);
    }
    s.hashes[pos & (kSegmentSize - 1)] = hash;
    s.ids[pos & (kSegmentSize - 1)] = id;
  }

  std::unique_ptr<Segment[]> segments_;
  std::atomic<uint32_t> size_{0};
  std::atomic<size_t> segment_count_{0};
};

// One chunk's table in CSR form: the positions whose chunk value is v are
// postings[offsets[v] .. offsets[v + 1]), in increasing order. Immutable once published.
struct ChunkTable {
  int start = 0;  // first bit of the chunk
  int bits = 0;
  uint32_t covered = 0;         // positions [0, covered) are in the table
  BigArray<uint32_t> offsets;   // 2^bits + 2 (the extra one serves the counting sort)
  BigArray<uint32_t> postings;  // covered

  size_t MemoryBytes() const { return offsets.bytes() + postings.bytes(); }
};

// What a query reads: immutable, shared by the readers that loaded it.
struct Snapshot {
  std::shared_ptr<const HashStore> store;
  int chunks = 0;  // 0: no tables; queries scan
  std::vector<std::shared_ptr<const ChunkTable>> tables;
  uint32_t covered = 0;  // min of the tables' covered: [covered, size) must be scanned
};

namespace {

using PosHits = std::vector<std::pair<uint32_t, int>>;  // (position, distance)

constexpr int kMinChunks = 11;  // at most 24 bits a chunk: a 64 MiB offsets array
constexpr int kMaxChunks = 32;  // at least 8 bits a chunk

inline uint32_t ChunkValue(const PdqHash& h, int start, int bits) {
  int word = start >> 6;
  int shift = start & 63;
  uint64_t v = h.words[word] >> shift;
  if (shift + bits > 64) v |= h.words[word + 1] << (64 - shift);
  return static_cast<uint32_t>(v) & ((uint32_t{1} << bits) - 1);
}

// Chunk k of m: the first 256 % m chunks get one bit more.
inline void ChunkLayout(int m, int k, int* start, int* bits) {
  int base = kPdqBits / m;
  int extra = kPdqBits % m;
  *bits = base + (k < extra ? 1 : 0);
  *start = k * base + std::min(k, extra);
}

// About log2(n) bits a chunk: then a probe finds about one entry, balancing the cost of probing
// against the cost of checking candidates.
int ChooseChunks(uint32_t n, int configured) {
  if (configured > 0) return std::clamp(configured, kMinChunks, kMaxChunks);
  double log2n = std::max(8.0, std::log2(static_cast<double>(n)));
  return std::clamp(static_cast<int>(std::lround(kPdqBits / log2n)), kMinChunks, kMaxChunks);
}

// Into L2 (see SearchTables).
inline void Prefetch(const void* p) { __builtin_prefetch(p, /*rw=*/0, /*locality=*/1); }

HM_POPCNT_CLONES
void ScanRun(const PdqHash* hashes, uint32_t count, uint32_t first_pos, const PdqHash& q, int r,
             PosHits* out) {
  for (uint32_t i = 0; i < count; ++i) {
    int d = HammingDistance(hashes[i], q);
    if (d <= r) out->emplace_back(first_pos + i, d);
  }
}

HM_POPCNT_CLONES
void Verify(const HashStore& store, const uint32_t* candidates, size_t count, const PdqHash& q,
            int r, PosHits* out) {
  constexpr size_t kAhead = 8;
  for (size_t i = 0; i < count; ++i) {
    if (i + kAhead < count) __builtin_prefetch(&store.hash(candidates[i + kAhead]));
    int d = HammingDistance(store.hash(candidates[i]), q);
    if (d <= r) out->emplace_back(candidates[i], d);
  }
}

std::shared_ptr<const ChunkTable> BuildTable(const HashStore& store, uint32_t n, int start,
                                             int bits, std::vector<uint32_t>* keys) {
  auto t = std::make_shared<ChunkTable>();
  t->start = start;
  t->bits = bits;
  t->covered = n;
  size_t buckets = size_t{1} << bits;
  t->offsets = BigArray<uint32_t>(buckets + 2);
  t->postings = BigArray<uint32_t>(n);
  uint32_t* off = t->offsets.data();  // zero-filled
  keys->resize(n);
  uint32_t* k = keys->data();
  // Counting sort: count value v in off[v + 2], so that after the prefix sum off[v + 1] is where
  // bucket v starts, and after the scatter (which advances it) where bucket v ends.
  store.ForEachRun(0, n, [&](const PdqHash* h, uint32_t first, uint32_t count) {
    for (uint32_t i = 0; i < count; ++i) {
      uint32_t v = ChunkValue(h[i], start, bits);
      k[first + i] = v;
      ++off[v + 2];
    }
  });
  for (size_t v = 2; v < buckets + 2; ++v) off[v] += off[v - 1];
  uint32_t* post = t->postings.data();
  for (uint32_t pos = 0; pos < n; ++pos) post[off[k[pos] + 1]++] = pos;
  return t;
}

// The table extended with positions [old.covered, n): one pass that copies the old arrays and
// splices the new positions in at the ends of their buckets, which keeps buckets in position
// order. Costs a pass over the table rather than a rebuild.
std::shared_ptr<const ChunkTable> ExtendTable(const ChunkTable& old, const HashStore& store,
                                              uint32_t n) {
  uint32_t from = old.covered;
  std::vector<uint64_t> added;  // (value << 32) | position, sorted
  added.reserve(n - from);
  store.ForEachRun(from, n, [&](const PdqHash* h, uint32_t first, uint32_t count) {
    for (uint32_t i = 0; i < count; ++i) {
      added.push_back(uint64_t{ChunkValue(h[i], old.start, old.bits)} << 32 | (first + i));
    }
  });
  std::sort(added.begin(), added.end());

  auto t = std::make_shared<ChunkTable>();
  t->start = old.start;
  t->bits = old.bits;
  t->covered = n;
  size_t buckets = size_t{1} << old.bits;
  t->offsets = BigArray<uint32_t>(buckets + 2);
  t->postings = BigArray<uint32_t>(n);
  const uint32_t* old_off = old.offsets.data();
  const uint32_t* old_post = old.postings.data();
  uint32_t* off = t->offsets.data();
  uint32_t* post = t->postings.data();

  size_t v = 0;         // next offset to write
  uint32_t copied = 0;  // old postings copied so far
  uint32_t out = 0;     // postings written so far
  for (size_t i = 0; i < added.size();) {
    uint32_t value = static_cast<uint32_t>(added[i] >> 32);
    // Buckets up to `value` start after the i new entries of lower values.
    for (; v <= value; ++v) off[v] = old_off[v] + static_cast<uint32_t>(i);
    uint32_t bucket_end = old_off[value + 1];
    std::memcpy(post + out, old_post + copied, (bucket_end - copied) * sizeof(uint32_t));
    out += bucket_end - copied;
    copied = bucket_end;
    for (; i < added.size() && (added[i] >> 32) == value; ++i) {
      post[out++] = static_cast<uint32_t>(added[i]);
    }
  }
  uint32_t total_added = static_cast<uint32_t>(added.size());
  for (; v < buckets + 2; ++v) off[v] = old_off[v] + total_added;
  std::memcpy(post + out, old_post + copied, (from - copied) * sizeof(uint32_t));
  return t;
}

// Fills tables for positions [0, n) using `threads` threads (chunks are independent).
std::vector<std::shared_ptr<const ChunkTable>> BuildTables(const HashStore& store, uint32_t n,
                                                           int m, int threads,
                                                           const std::atomic<bool>* stop) {
  std::vector<std::shared_ptr<const ChunkTable>> tables(m);
  std::atomic<int> next{0};
  auto work = [&] {
    std::vector<uint32_t> keys;
    for (int k; (k = next.fetch_add(1)) < m;) {
      if (stop != nullptr && stop->load(std::memory_order_relaxed)) return;
      int start, bits;
      ChunkLayout(m, k, &start, &bits);
      tables[k] = BuildTable(store, n, start, bits, &keys);
    }
  };
  std::vector<std::thread> helpers;
  for (int i = 1; i < std::min(threads, m); ++i) helpers.emplace_back(work);
  work();
  for (auto& t : helpers) t.join();
  for (const auto& t : tables) {
    if (t == nullptr) return {};  // stopped
  }
  return tables;
}

// sum_{i <= t} C(b, i): the values within distance t of a b-bit value.
double BallSize(int b, int t) {
  double term = 1, sum = 0;
  for (int i = 0; i <= std::min(t, b); ++i) {
    sum += term;
    term = term * (b - i) / (i + 1);
  }
  return sum;
}

// Relative costs, measured at 1M and 10M entries: a probe or a candidate is a cache miss that
// prefetching overlaps with others (9-11 ns, up to 17 ns when the probe list outgrows the cache);
// a scanned hash is a sequential 32-byte read (1.2 ns). The scan's weight is set a little low so
// that near the crossover (r around 60 at 1M, 64 at 10M) the predictable scan wins.
constexpr double kProbeCost = 1.0;
constexpr double kCandidateCost = 1.0;
constexpr double kScanCost = 0.09;

// Picks a probe radius per chunk (-1: not probed) so that every entry within r is found, and
// returns the expected cost. With r = s*m + a (0 <= a < m), an entry within r has distance <= s in
// one of any a + 1 chunks, or distance <= s - 1 in one of the others: otherwise its distance would
// be at least (a + 1)(s + 1) + (m - a - 1)s = r + 1. The a + 1 chunks given radius s are those
// where the larger radius costs least.
double PlanProbes(const Snapshot& snap, int r, int* radius) {
  int m = snap.chunks;
  int s = r / m, a = r % m;
  double cost[kMaxChunks][2];
  int order[kMaxChunks];
  for (int k = 0; k < m; ++k) {
    const ChunkTable& t = *snap.tables[k];
    double per_probe = kProbeCost + kCandidateCost * t.covered / std::ldexp(1.0, t.bits);
    cost[k][0] = s >= 1 ? BallSize(t.bits, s - 1) * per_probe : 0;
    cost[k][1] = BallSize(t.bits, s) * per_probe;
    order[k] = k;
  }
  std::sort(order, order + m,
            [&](int x, int y) { return cost[x][1] - cost[x][0] < cost[y][1] - cost[y][0]; });
  double total = 0;
  for (int i = 0; i < m; ++i) {
    int k = order[i];
    bool wide = i <= a;
    radius[k] = wide ? s : s - 1;
    total += cost[k][wide ? 1 : 0];
  }
  return total;
}

// An uninitialised buffer that only grows; the query path fills it through raw pointers.
template <typename T>
class Scratch {
 public:
  T* Reserve(size_t n) {
    if (n > capacity_) {
      capacity_ = std::max(n, capacity_ * 2);
      data_ = std::make_unique_for_overwrite<T[]>(capacity_);
    }
    return data_.get();
  }
  // A rare huge query should not pin its memory to the thread for good.
  void Trim(size_t keep) {
    if (capacity_ > keep) {
      data_.reset();
      capacity_ = 0;
    }
  }

 private:
  std::unique_ptr<T[]> data_;
  size_t capacity_ = 0;
};

struct Run {
  const uint32_t* postings;
  uint32_t length;
};

// Reused across queries on a thread, to keep allocation off the query path.
struct QueryScratch {
  Scratch<const uint32_t*> probes;  // where each probe's bucket offsets are
  Scratch<Run> runs;
  Scratch<uint32_t> candidates;
  PosHits hits;

  void Clear() {
    constexpr size_t kKeep = size_t{1} << 20;
    probes.Trim(kKeep);
    runs.Trim(kKeep);
    candidates.Trim(kKeep);
    if (hits.capacity() > kKeep) hits = {};
    hits.clear();
  }
};

// Appends to `hits` every position below each table's `covered` within r of q. May report a
// position more than once. radius[k] < 0: table k is not probed.
void SearchTables(const Snapshot& snap, const PdqHash& q, int r, const int* radius,
                  QueryScratch* scratch) {
  const int m = snap.chunks;
  size_t total = 0;
  for (int k = 0; k < m; ++k) {
    if (radius[k] >= 0) total += static_cast<size_t>(BallSize(snap.tables[k]->bits, radius[k]));
  }
  // Probes: for each table, a pointer to offsets[value] for every value within its radius.
  const uint32_t** probes = scratch->probes.Reserve(total);
  size_t chunk_end[kMaxChunks];
  size_t p = 0;
  for (int k = 0; k < m; ++k) {
    const ChunkTable& t = *snap.tables[k];
    if (radius[k] >= 0) {
      const uint32_t* off = t.offsets.data();
      uint32_t value = ChunkValue(q, t.start, t.bits);
      probes[p++] = off + value;
      uint64_t limit = uint64_t{1} << t.bits;
      for (int w = 1; w <= std::min(radius[k], t.bits); ++w) {
        // Every mask of weight w, in increasing order (Gosper's hack).
        for (uint64_t mask = (uint64_t{1} << w) - 1; mask < limit;) {
          probes[p++] = off + (value ^ mask);
          uint64_t ripple = mask + (mask & -mask);
          mask = (((ripple ^ mask) >> 2) >> std::countr_zero(mask)) | ripple;
        }
      }
    }
    chunk_end[k] = p;
  }
  assert(p == total);

  // Three passes (offsets, postings, hashes), each prefetching ahead, so that many independent
  // cache misses are in flight instead of one chain of three dependent misses per probe. The
  // prefetches ask for L2 only (locality 1, PREFETCHT2): on the Zen 4 we measured, that lets far
  // more misses be outstanding than L1 fills do, and took a query at 1M from 39 to 25 us.
  constexpr size_t kAhead = 64;
  for (size_t i = 0; i < std::min(kAhead, total); ++i) Prefetch(probes[i]);
  Run* runs = scratch->runs.Reserve(total);
  size_t run_count = 0;
  size_t candidate_count = 0;
  p = 0;
  for (int k = 0; k < m; ++k) {
    const uint32_t* postings = snap.tables[k]->postings.data();
    for (; p < chunk_end[k]; ++p) {
      if (p + kAhead < total) Prefetch(probes[p + kAhead]);
      uint32_t begin = probes[p][0], end = probes[p][1];
      if (begin != end) {
        Prefetch(postings + begin);
        runs[run_count++] = {postings + begin, end - begin};
        candidate_count += end - begin;
      }
    }
  }
  const HashStore& store = *snap.store;
  uint32_t* candidates = scratch->candidates.Reserve(candidate_count);
  uint32_t* c = candidates;
  for (size_t i = 0; i < run_count; ++i) {
    for (const uint32_t *pos = runs[i].postings, *end = pos + runs[i].length; pos < end; ++pos) {
      Prefetch(&store.hash(*pos));
      *c++ = *pos;
    }
  }
  Verify(store, candidates, candidate_count, q, r, &scratch->hits);
}

}  // namespace
}  // namespace pdq_index_internal

using pdq_index_internal::BuildTables;
using pdq_index_internal::ChooseChunks;
using pdq_index_internal::ExtendTable;
using pdq_index_internal::HashStore;
using pdq_index_internal::kMaxChunks;
using pdq_index_internal::kScanCost;
using pdq_index_internal::PlanProbes;
using pdq_index_internal::PosHits;
using pdq_index_internal::QueryScratch;
using pdq_index_internal::ScanRun;
using pdq_index_internal::SearchTables;

// ---- PdqScan --------------------------------------------------------------------------------

void PdqScan::Build(std::vector<std::pair<uint32_t, PdqHash>> entries) {
  hashes_.clear();
  ids_.clear();
  hashes_.reserve(entries.size());
  ids_.reserve(entries.size());
  for (const auto& [id, hash] : entries) Add(id, hash);
}

void PdqScan::Add(uint32_t id, const PdqHash& hash) {
  hashes_.push_back(hash);
  ids_.push_back(id);
}

std::vector<PdqScan::Hit> PdqScan::Query(const PdqHash& query, int max_distance) const {
  std::vector<Hit> result;
  if (max_distance < 0) return result;
  PosHits hits;
  ScanRun(hashes_.data(), static_cast<uint32_t>(hashes_.size()), 0, query,
          std::min(max_distance, kPdqBits), &hits);
  result.reserve(hits.size());
  for (const auto& [pos, d] : hits) result.push_back({ids_[pos], d});
  return result;
}

size_t PdqScan::MemoryBytes() const {
  return hashes_.capacity() * sizeof(PdqHash) + ids_.capacity() * sizeof(uint32_t);
}

// ---- PdqIndex -------------------------------------------------------------------------------

PdqIndex::PdqIndex() : PdqIndex(Options()) {}

PdqIndex::PdqIndex(Options options) : options_(options), store_(std::make_shared<HashStore>()) {
  auto snap = std::make_shared<Snapshot>();
  snap->store = store_;
  snapshot_ = std::move(snap);
  if (options_.background_merge) merge_thread_ = std::thread([this] { MergeLoop(); });
}

PdqIndex::~PdqIndex() {
  {
    MutexLock lock(merge_mu_);
    stop_.store(true);
  }
  merge_cv_.NotifyAll();
  if (merge_thread_.joinable()) merge_thread_.join();
}

std::shared_ptr<const PdqIndex::Snapshot> PdqIndex::LoadSnapshot() const {
  MutexLock lock(snapshot_mu_);
  return snapshot_;
}

Status PdqIndex::Build(std::vector<std::pair<uint32_t, PdqHash>> entries) {
  if (entries.size() > kMaxEntries) {
    return ResourceExhausted("pdq index: more than " + std::to_string(kMaxEntries) + " hashes");
  }
  MutexLock work(merge_work_mu_);
  auto store = std::make_shared<HashStore>();
  store->AppendAll(entries);
  std::vector<std::pair<uint32_t, PdqHash>>().swap(entries);  // free before the tables grow
  uint32_t n = store->size();

  auto snap = std::make_shared<Snapshot>();
  snap->store = store;
  if (n >= options_.min_indexed && n > 0) {
    int m = ChooseChunks(n, options_.chunks);
    int threads = options_.build_threads > 0
                      ? options_.build_threads
                      : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    snap->tables = BuildTables(*store, n, m, threads, /*stop=*/nullptr);
    snap->chunks = m;
    snap->covered = n;
  }
  {
    MutexLock lock(snapshot_mu_);
    snapshot_ = std::move(snap);
    covered_.store(n);
  }
  store_ = std::move(store);
  return Status::Ok();
}

uint32_t PdqIndex::MergeThreshold() const {
  return std::max(options_.min_merge_batch, covered_.load() / 1024);
}

Status PdqIndex::Add(uint32_t id, const PdqHash& hash) {
  if (!store_->Append(id, hash)) {
    return ResourceExhausted("pdq index: more than " + std::to_string(kMaxEntries) + " hashes");
  }
  uint32_t n = store_->size();
  if (n < options_.min_indexed || n - covered_.load() < MergeThreshold()) return Status::Ok();
  if (options_.background_merge) {
    {
      MutexLock lock(merge_mu_);
      if (merge_requested_) return Status::Ok();
      merge_requested_ = true;
    }
    merge_cv_.NotifyOne();
  } else {
    MutexLock work(merge_work_mu_);
    MergeOnce();
  }
  return Status::Ok();
}

void PdqIndex::Compact() {
  MutexLock work(merge_work_mu_);
  MergeOnce();
}

void PdqIndex::MergeLoop() {
  for (;;) {
    {
      MutexLock lock(merge_mu_);
      merge_cv_.Wait(merge_mu_,
                     [this]() REQUIRES(merge_mu_) { return stop_.load() || merge_requested_; });
      if (stop_.load()) return;
      merge_requested_ = false;
    }
    MutexLock work(merge_work_mu_);
    MergeOnce();
  }
}

void PdqIndex::MergeOnce() {
  std::shared_ptr<const Snapshot> snap = LoadSnapshot();
  const std::shared_ptr<const HashStore>& store = snap->store;
  uint32_t n = store->size();
  if (n < options_.min_indexed || n == 0) return;

  // Publishes `next` unless Build has replaced the store meanwhile (it holds merge_work_mu_, so
  // this is a safety net, not a path taken).
  auto publish = [&](std::shared_ptr<Snapshot> next) {
    next->covered = n;
    for (const auto& t : next->tables) next->covered = std::min(next->covered, t->covered);
    MutexLock lock(snapshot_mu_);
    if (snapshot_->store != store) return false;
    covered_.store(next->covered);
    snapshot_ = std::move(next);
    return true;
  };

  int m = ChooseChunks(n, options_.chunks);
  if (snap->chunks != m) {
    // No tables yet, or the size has moved to another chunk count: rebuild them all, on this
    // thread only, to leave the other cores to queries. Costs a second set of tables meanwhile.
    auto tables = BuildTables(*store, n, m, /*threads=*/1, &stop_);
    if (tables.empty()) return;
    auto next = std::make_shared<Snapshot>();
    next->store = store;
    next->chunks = m;
    next->tables = std::move(tables);
    publish(std::move(next));
    return;
  }
  // One table at a time: at most one table's worth of extra memory, and readers profit from
  // each table as soon as it is done (the scan starts at the least covered one).
  for (int k = 0; k < m; ++k) {
    if (stop_.load()) return;
    std::shared_ptr<const Snapshot> current = LoadSnapshot();
    if (current->store != store || current->chunks != m) return;
    if (current->tables[k]->covered >= n) continue;
    auto next = std::make_shared<Snapshot>(*current);
    next->tables[k] = ExtendTable(*current->tables[k], *store, n);
    if (!publish(std::move(next))) return;
  }
}

std::vector<PdqIndex::Hit> PdqIndex::Query(const PdqHash& query, int max_distance) const {
  std::vector<Hit> result;
  if (max_distance < 0) return result;
  int r = std::min(max_distance, kPdqBits);
  std::shared_ptr<const Snapshot> snap = LoadSnapshot();
  const HashStore& store = *snap->store;
  // Read after the snapshot: every table covers only positions below this.
  uint32_t n = store.size();

  thread_local QueryScratch scratch;
  scratch.Clear();
  uint32_t scan_from = 0;
  bool may_repeat = false;
  if (snap->chunks > 0) {
    int radius[kMaxChunks];
    double table_cost = PlanProbes(*snap, r, radius);
    if (table_cost < kScanCost * snap->covered) {
      SearchTables(*snap, query, r, radius, &scratch);
      scan_from = snap->covered;
      may_repeat = true;
    }
  }
  store.ForEachRun(scan_from, n, [&](const PdqHash* h, uint32_t first, uint32_t count) {
    ScanRun(h, count, first, query, r, &scratch.hits);
  });

  PosHits& hits = scratch.hits;
  if (may_repeat) {
    std::sort(hits.begin(), hits.end());
    hits.erase(std::unique(hits.begin(), hits.end()), hits.end());
  }
  result.reserve(hits.size());
  for (const auto& [pos, d] : hits) result.push_back({store.id(pos), d});
  return result;
}

size_t PdqIndex::size() const { return LoadSnapshot()->store->size(); }

size_t PdqIndex::MemoryBytes() const {
  std::shared_ptr<const Snapshot> snap = LoadSnapshot();
  size_t bytes = snap->store->MemoryBytes();
  for (const auto& t : snap->tables) bytes += t->MemoryBytes();
  return bytes;
}

}  // namespace hashmesh
