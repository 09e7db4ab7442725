// Benchmark set-up: writes a node's own feed of many PDQ signals straight into its data directory
// through the Store, far faster than publishing them one by one through the daemon.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/pdq_hash.h"
#include "common/status.h"
#include "keys/key_dir.h"

namespace hashmesh::bench {

struct FeedWriteStats {
  uint64_t records = 0;      // the manifest record plus one per hash
  double build_seconds = 0;  // bodies and the id chain (sequential)
  double sign_seconds = 0;   // signatures and parse checks (all cores)
  double write_seconds = 0;  // LMDB transactions, durably committed
  uint64_t data_bytes = 0;   // size of the LMDB data file afterwards
};

// Writes, into the empty data directory `data_dir`, the feed of `identity`'s member: seq 1 its
// manifest record, then one PDQ signal (quality 100, one label) per hash in order, each signed
// with the node key exactly as the daemon's writer would. The first records are checked with
// VerifyNextRecord. Signs on `threads` threads. InitCrypto() must have been called.
Result<FeedWriteStats> WriteSignalFeed(const std::string& data_dir, const NodeIdentity& identity,
                                       const std::vector<PdqHash>& hashes, int threads);

}  // namespace hashmesh::bench
