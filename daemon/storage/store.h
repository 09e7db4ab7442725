// Store: the node's LMDB environment (the data directory itself, so mdb_stat/mdb_copy work on it).
// Named databases: records (author|seq -> SignedRecord), ids (id -> author|seq), heads
// (author -> seq|id), signals (type|value -> author|seq of a signal or of a notice carrying the
// fingerprint inline, dupsort), refs (target id -> author|seq,
// dupsort), manifests (author|manifest seq -> SignedManifest), equivocations (author|seq -> proof),
// meta (schema version).
//
// Thread-safety: read methods may be called from any thread (each opens its own read
// transaction; MDB_NOTLS). Write() must be called from one thread only (the Writer). Growing the
// map on MDB_MAP_FULL waits for running readers to finish, then retries the whole batch. Reader
// slots left by dead processes are freed at Open and whenever a read finds the table full.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/hex.h"
#include "common/mutex.h"
#include "common/pdq_hash.h"
#include "common/record.h"
#include "common/signal_value.h"
#include "common/status.h"

namespace hashmesh {

// 2: fingerprints inside notices are indexed with signals (a schema 1 store is upgraded at open).
inline constexpr uint32_t kSchemaVersion = 2;

// Where a record lives: its author's feed and seq.
struct RecordLocation {
  PublicKey author{};
  uint64_t seq = 0;
  friend bool operator==(const RecordLocation&, const RecordLocation&) = default;
};

struct FeedHeadInfo {
  PublicKey author{};
  uint64_t seq = 0;
  RecordId id{};
};

struct StoreStats {
  uint64_t records = 0;
  uint64_t signals = 0;  // fingerprints indexed: signal records' and notices' inline ones
  uint64_t authors = 0;
  uint64_t equivocations = 0;
  uint64_t map_size_bytes = 0;
  uint64_t used_bytes = 0;
};

struct StoreOptions {
  std::string dir;
  uint64_t initial_map_bytes = 64ull << 20;  // a larger map from an earlier run is kept
  unsigned max_readers = 512;
};

class Store;

// The write side of one transaction. Only valid inside Store::Write's callback.
class StoreBatch {
 public:
  // Stores an accepted record and its secondary entries (id, head, signals, refs, manifests).
  // The caller has verified it extends the head. AlreadyExists if (author, seq) is taken.
  Status PutRecord(const ParsedRecord& record);
  // Stores a fork proof (two different records with the same author and seq); idempotent.
  Status PutEquivocation(const PublicKey& author, uint64_t seq, const std::string& proof);
  // Reads through this transaction (sees the batch's own writes).
  Result<std::optional<FeedHeadInfo>> Head(const PublicKey& author);
  Result<bool> HasId(const RecordId& id);
  Result<std::optional<RecordLocation>> LocateId(const RecordId& id);
  Result<std::optional<std::string>> GetRecord(const RecordLocation& loc);
  // True once a put failed because the map is full: the callback should return that error, and
  // Write() grows the map and runs it again.
  bool map_full() const { return map_full_; }

 private:
  friend class Store;
  StoreBatch(Store* store, void* txn) : store_(store), txn_(txn) {}
  Store* store_;
  void* txn_;  // MDB_txn*
  bool map_full_ = false;
};

class Store {
 public:
  // Opens (creating if needed) the environment in options.dir and checks the schema version;
  // a data dir written by another schema version is refused (FailedPrecondition).
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Runs `fn` in one write transaction and commits it durably. If the map fills up (the commit
  // fails so, or `fn` fails after StoreBatch::map_full() became true), the
  // transaction is aborted, the map doubled, and `fn` run again from the start: `fn` must not
  // keep side effects outside the batch until Write returns ok.
  Status Write(const std::function<Status(StoreBatch&)>& fn);

  // ---- reads ----
  Result<std::optional<std::string>> GetRecord(const RecordLocation& loc) const;
  Result<std::optional<RecordLocation>> LocateId(const RecordId& id) const;
  Result<std::optional<FeedHeadInfo>> Head(const PublicKey& author) const;
  Result<std::vector<FeedHeadInfo>> Heads() const;
  // The author's head and verified manifests: what the acceptance rule needs of a feed.
  Result<FeedState> LoadFeedState(const PublicKey& author) const;
  // Exact lookup of the records carrying this (canonical) fingerprint: signals, and notices with
  // it inline.
  Result<std::vector<RecordLocation>> FindSignals(SignalKind kind, std::string_view value) const;
  // Records that reference `target` (opinions, retractions, notices).
  Result<std::vector<RecordLocation>> FindRefs(const RecordId& target) const;
  // Calls fn for every PDQ fingerprint of a record (signal or notice), in key order (used to
  // build the index at start).
  Status ForEachPdqSignal(const std::function<void(const RecordLocation&, const PdqHash&)>& fn) const;
  // Records of one feed with seq in [from, from + limit), in order.
  Result<std::vector<std::string>> ReadFeed(const PublicKey& author, uint64_t from,
                                            size_t limit) const;
  Result<std::vector<std::string>> Equivocations() const;
  // The lowest seq at which `author` forked its feed, if it ever did.
  Result<std::optional<uint64_t>> ForkSeq(const PublicKey& author) const;
  Result<StoreStats> Stats() const;
  const std::string& dir() const { return dir_; }

 private:
  friend class StoreBatch;
  struct Dbis;
  Store() = default;
  class ReadTxn;

  std::string dir_;
  void* env_ = nullptr;  // MDB_env*
  std::unique_ptr<Dbis> dbis_;
  uint64_t map_size_ = 0;
  // Readers hold it shared for a transaction's life; growing the map takes it exclusively,
  // because mdb_env_set_mapsize needs no transaction running in this process.
  mutable SharedMutex resize_mu_;
  // Write() only (one writer at a time): when stale reader slots were last looked for.
  std::chrono::steady_clock::time_point last_reader_check_{};
};

// Key encodings, exposed for tests and tools.
std::string LocationKey(const RecordLocation& loc);
Result<RecordLocation> ParseLocationKey(std::string_view key);
// type byte + value: hashes as raw bytes, long values as 0xFF + SHA-256 (LMDB keys <= 511 B).
std::string SignalKey(SignalKind kind, std::string_view canonical_value);

}  // namespace hashmesh
