// IngestPipeline: where records from all peer sessions meet before the writer. Per author it
// knows the head that is committed or already queued, so that records arriving from several
// peers at once are queued exactly once and in chain order; records ahead of a gap are held
// (bounded) until the gap is filled; duplicates are dropped before any signature check.
// Thread-safe: Offer may be called from any session strand; completions run on the writer thread,
// never inline in Offer or NextWanted, so callers may hold their own locks across these calls.
#pragma once

#include <cstdint>
#include <functional>
#include <map>

#include "common/mutex.h"
#include "common/record.h"
#include "daemon/storage/store.h"
#include "daemon/storage/writer.h"

namespace hashmesh {

class IngestPipeline {
 public:
  enum class Offered {
    kQueued,     // handed to the writer; `done` will get its outcome
    kHeld,       // ahead of a gap; `done` runs once it has been through the writer
    kDuplicate,  // already stored or queued; `done` is not called
    kFull,       // writer queue or hold buffer full; `done` is not called (ask again later)
  };

  // The hold buffer is bounded both in records and in bytes (records may be up to 256 KiB).
  IngestPipeline(const Store* store, Writer* writer, size_t max_held = 65536,
                 size_t max_held_bytes = 64 << 20)
      : store_(store), writer_(writer), max_held_(max_held), max_held_bytes_(max_held_bytes) {}

  Offered Offer(ParsedRecord record, Writer::IngestDone done);
  // The next seq of `author` this node lacks (committed or queued head + 1).
  uint64_t NextWanted(const PublicKey& author);
  size_t held() const;
  // The writer this pipeline feeds. The peer manager closes our own publishing through it while
  // peers hold more of our feed than we do.
  Writer* writer() const { return writer_; }

 private:
  struct Held {
    ParsedRecord record;
    Writer::IngestDone done;
    size_t bytes = 0;  // set by Hold(): the record may be moved out before Unhold()
  };
  struct Queued {
    RecordId id{};
    uint64_t ticket = 0;  // which queuing of this seq; a stale completion must not roll back
  };
  struct AuthorState {
    uint64_t pending_seq = 0;                // highest seq committed or queued in chain order
    std::map<uint64_t, Queued> queued;       // queued in chain order, not yet completed
    std::multimap<uint64_t, Held> held;      // ahead of pending_seq + 1; several ids per seq
                                             // when the author forked
  };

  // The author's state, brought up to date with the store: the writer also commits records that
  // never pass through here (our own publishes, a record checked as a possible fork that turned
  // out to extend the feed), and held records that now follow the head are queued.
  AuthorState& Refresh(const PublicKey& author) REQUIRES(mu_);
  // Queues `item` (the next in chain) and then any held records that now follow. Returns whether
  // the writer took `item`. Records from the hold that the writer does not take go back to it;
  // an `item` from the caller that it does not take is dropped, and its `done` not called.
  bool QueueLocked(const PublicKey& author, AuthorState& st, Held item, bool from_hold)
      REQUIRES(mu_);
  // Hands a record at a seq that is taken (or queued) to the writer, which stores a fork proof,
  // drops a duplicate or rejects a forgery. Returns false if the writer did not take it.
  bool CheckLocked(const PublicKey& author, Held& item) REQUIRES(mu_);
  void OnWritten(const PublicKey& author, uint64_t seq, uint64_t ticket,
                 const IngestOutcome& outcome);
  // Puts a record in the hold / takes one out, keeping the counts.
  void Hold(AuthorState& st, Held item) REQUIRES(mu_);
  std::multimap<uint64_t, Held>::iterator Unhold(AuthorState& st,
                                                 std::multimap<uint64_t, Held>::iterator it)
      REQUIRES(mu_);
  static size_t Bytes(const ParsedRecord& r) {
    return r.signed_record.body().size() + r.signed_record.signature().size();
  }

  const Store* store_;
  Writer* writer_;
  const size_t max_held_;
  const size_t max_held_bytes_;
  mutable Mutex mu_;
  std::map<PublicKey, AuthorState> authors_ GUARDED_BY(mu_);
  size_t held_total_ GUARDED_BY(mu_) = 0;
  size_t held_bytes_ GUARDED_BY(mu_) = 0;
  uint64_t next_ticket_ GUARDED_BY(mu_) = 1;
};

}  // namespace hashmesh
