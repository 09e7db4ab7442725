// Large, validly signed feeds for benchmarks and tests, made fast: the id chain on one thread, the
// signatures on many, then written straight into a Store (no daemon, no sync). TestMember
// (test_member.h) is the small, record-by-record builder.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/record.h"
#include "common/status.h"
#include "daemon/storage/store.h"

namespace hashmesh::testing {

// Runs fn(i) for every i in [0, n) on `threads` threads (the caller's among them).
void ParallelFor(size_t n, int threads, const std::function<void(size_t)>& fn);

// Who signs a feed: the author (member key) and the node key its manifest certifies.
struct FeedSigner {
  PublicKey author{};
  const SecretKey* signing_key = nullptr;  // not owned
  uint32_t manifest_seq = 1;
  std::string manifest;  // serialised SignedManifest certifying signing_key
};

// Seconds spent in each phase of BuildFeedRecords, added to.
struct FeedBuildTimes {
  double chain_seconds = 0;  // bodies and the id chain (sequential)
  double sign_seconds = 0;   // signatures and parse checks (on the threads)
};

// Records first_seq .. first_seq + count - 1 of the signer's feed, exactly as the daemon's writer
// would make them, all created at `created_at_ms`: seq 1 is the manifest record, every other seq
// has body_of(seq). *prev is the id of the record before first_seq (nullopt before seq 1) and is
// left at the last one made, so that the next call continues the chain.
Result<std::vector<ParsedRecord>> BuildFeedRecords(
    const FeedSigner& signer, uint64_t first_seq, uint64_t count, std::optional<RecordId>* prev,
    uint64_t created_at_ms, const std::function<pb::RecordBody(uint64_t seq)>& body_of,
    int threads, FeedBuildTimes* times = nullptr);

// A cheap guard against a silent mistake in the chain: the first `n` of `records` (a feed from
// seq 1) must verify as a peer would check them. Errors carry `what`.
Status VerifyFeedStart(const std::vector<ParsedRecord>& records, size_t n, const std::string& what);

// Puts `records` (consecutive records of feeds the store lacks) into `store`, `per_txn` records a
// durable transaction.
Status WriteRecords(Store& store, const std::vector<ParsedRecord>& records, size_t per_txn);

}  // namespace hashmesh::testing
