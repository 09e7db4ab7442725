// Shared pieces of the federation benchmarks: validly signed feeds written straight into a node's
// LMDB data directory (so that preparing a million records takes seconds, not a sync), the raw
// Ed25519 verify rate, and small readers of a running node's local API and CPU time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/record.h"
#include "common/status.h"
#include "daemon/storage/store.h"
#include "proto/api.pb.h"
#include "tests/support/feed_builder.h"
#include "tests/support/test_node.h"

namespace hashmesh::fedbench {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start);

using testing::FeedSigner;
using testing::ParallelFor;
using testing::WriteRecords;

// The PDQ value of record `seq` of a feed salted with `salt` (distinct salts, distinct values).
std::string BenchPdqHex(uint64_t salt, uint64_t seq);

// Records 1..n of the signer's feed, exactly as the daemon's writer would make them: seq 1 is the
// manifest record, the others PDQ signals. Bodies and ids are chained on the calling thread (the
// chain is sequential but cheap); signatures and parsing run on `threads` threads.
Result<std::vector<ParsedRecord>> BuildFeed(const FeedSigner& signer, uint64_t n, uint64_t salt,
                                            int threads);

// Single-thread libsodium crypto_sign_verify_detached rate over the exact signed messages
// ("hashmesh/record/v1\0" || body) of `records`, for about `seconds`: per second of wall time (the
// ceiling the brief names) and per second of this thread's CPU time (which holds even when other
// processes share the machine).
struct VerifyRate {
  double per_s = 0;
  double per_cpu_s = 0;
};
VerifyRate RawVerifyRate(const std::vector<ParsedRecord>& records, const PublicKey& key,
                         double seconds);

// ---- a running node -----------------------------------------------------------------------

// The seq of `member`'s feed on the node (0 if absent), or nullopt if the API did not answer.
std::optional<uint64_t> ReadFeedSeq(const testing::TestNode& node, const std::string& member);
Result<api::PeersResponse> ReadPeers(const testing::TestNode& node);
Result<api::StatusResponse> ReadStatus(const testing::TestNode& node);

// User + system CPU seconds used so far by the hashmeshd holding `data_dir` (its pid is in the
// data dir's lock file); negative if it cannot be read.
double DaemonCpuSeconds(const std::string& data_dir);

// Where one thread of a daemon spent its time so far (from /proc/PID/task/TID/schedstat).
struct ThreadTime {
  long tid = 0;
  double cpu_s = 0;    // on a CPU
  double queue_s = 0;  // runnable, waiting for a CPU: time lost to other processes or threads
};
// The daemon's threads, busiest first; empty if they cannot be read.
std::vector<ThreadTime> DaemonThreads(const std::string& data_dir);
// "tid cpu/queue" for the busiest `n` threads, for one line of output.
std::string FormatThreads(const std::vector<ThreadTime>& threads, size_t n);

// Nearest-rank percentile (p in [0, 100]) of `values`; 0 for none.
double Percentile(std::vector<double> values, double p);

// What the figures were measured on, printed first by every federation benchmark.
void PrintMachine(const std::string& bench);
// One figure: "name  value unit  (note)", the format docs/benchmarks.md quotes.
void PrintFigure(const std::string& name, double value, const std::string& unit,
                 const std::string& note = "");

}  // namespace hashmesh::fedbench
