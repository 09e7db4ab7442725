// Benchmark set-up: a node's own feed of PDQ signals written straight into its LMDB store.
// The records come from the support library's BuildFeedRecords, a chunk at a time.
#include "tests/bench/bench_feed.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>

#include "common/clock.h"
#include "common/record.h"
#include "keys/record_acceptance.h"
#include "daemon/storage/store.h"
#include "tests/support/feed_builder.h"

namespace hashmesh::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Records per LMDB transaction: large enough that the durable commit is amortised, small enough
// that the signed records of one chunk stay a few tens of MB.
constexpr size_t kChunk = 1 << 16;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

pb::RecordBody SignalBody(const PdqHash& hash) {
  pb::RecordBody body;
  pb::Signal* s = body.mutable_signal();
  s->set_type(pb::SIGNAL_TYPE_PDQ);
  s->set_value(hash.ToHex());
  s->add_labels("bench/e2e");
  s->set_quality(100);  // above kPdqMinQuality: every signal takes part in matching
  return body;
}

}  // namespace

Result<FeedWriteStats> WriteSignalFeed(const std::string& data_dir, const NodeIdentity& identity,
                                       const std::vector<PdqHash>& hashes, int threads) {
  FeedWriteStats stats;
  // A map that holds the whole feed from the start: no doubling and retried batches.
  HM_ASSIGN_OR_RETURN(auto store,
                      Store::Open({.dir = data_dir, .initial_map_bytes = uint64_t{4} << 30}));
  const testing::FeedSigner signer{identity.member_key(), &identity.node_key,
                                   identity.manifest.seq, identity.manifest_bytes};
  const uint64_t created_at = NowMs();
  auto body_of = [&hashes](uint64_t seq) { return SignalBody(hashes[seq - 2]); };

  std::optional<RecordId> prev;
  testing::FeedBuildTimes times;
  const size_t total = hashes.size() + 1;
  for (size_t first = 0; first < total; first += kChunk) {
    const size_t n = std::min(kChunk, total - first);
    HM_ASSIGN_OR_RETURN(auto records, testing::BuildFeedRecords(signer, first + 1, n, &prev,
                                                                created_at, body_of, threads,
                                                                &times));
    // The first chunk's records are verified as a peer would.
    if (first == 0) HM_RETURN_IF_ERROR(testing::VerifyFeedStart(records, 16, "bench feed"));
    auto t = Clock::now();
    HM_RETURN_IF_ERROR(testing::WriteRecords(*store, records, records.size()));
    stats.write_seconds += Since(t);
    stats.records += n;
  }
  stats.build_seconds = times.chain_seconds;
  stats.sign_seconds = times.sign_seconds;
  store.reset();
  struct stat st {};
  if (stat((data_dir + "/data.mdb").c_str(), &st) == 0) {
    stats.data_bytes = static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return stats;
}

}  // namespace hashmesh::bench
