// IngestPipeline: where records from all peer sessions meet before the writer. Per author it
// knows the head that is committed or already queued, so that records arriving from several
// peers at once are queued exactly once and in chain order; records ahead of a gap are held
// (bounded) until the gap is filled; duplicates are dropped before any signature check.
// Thread-safe: Offer may be called from any session strand; completions run on the writer thread.
#pragma once

#include <functional>
#include <map>
#include <mutex>

#include "common/record.h"
#include "daemon/store.h"
#include "daemon/writer.h"

namespace hashmesh {

class IngestPipeline {
 public:
  enum class Offered {
    kQueued,     // handed to the writer; `done` will get its outcome
    kHeld,       // ahead of a gap; `done` runs when it is queued and committed, or dropped
    kDuplicate,  // already stored or queued; `done` is not called
    kFull,       // writer queue or hold buffer full; `done` is not called (ask again later)
  };

  IngestPipeline(const Store* store, Writer* writer, size_t max_held = 65536)
      : store_(store), writer_(writer), max_held_(max_held) {}

  Offered Offer(ParsedRecord record, std::function<void(Status)> done);
  // The next seq of `author` this node lacks (committed or queued head + 1).
  uint64_t NextWanted(const PublicKey& author);
  size_t held() const;

 private:
  struct Held {
    ParsedRecord record;
    std::function<void(Status)> done;
  };
  struct AuthorState {
    bool loaded = false;
    uint64_t pending_seq = 0;               // highest seq committed or queued
    std::map<uint64_t, RecordId> queued;    // queued, not yet committed
    std::map<uint64_t, Held> held;          // ahead of pending_seq + 1
  };

  AuthorState& State(const PublicKey& author);  // REQUIRES(mu_)
  // Queues `record` (the next in chain) and then any held records that now follow. REQUIRES(mu_)
  bool QueueLocked(const PublicKey& author, AuthorState& st, Held item);
  void OnWritten(const PublicKey& author, uint64_t seq, const Status& outcome);

  const Store* store_;
  Writer* writer_;
  const size_t max_held_;
  mutable std::mutex mu_;
  std::map<PublicKey, AuthorState> authors_;  // GUARDED_BY(mu_)
  size_t held_total_ = 0;                     // GUARDED_BY(mu_)
};

}  // namespace hashmesh
