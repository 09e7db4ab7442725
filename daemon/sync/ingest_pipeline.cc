// Ordering and de-duplication of records from peers before the writer.
#include "daemon/sync/ingest_pipeline.h"

namespace hashmesh {

IngestPipeline::AuthorState& IngestPipeline::Refresh(const PublicKey& author) {
  AuthorState& st = authors_[author];
  auto head = store_->Head(author);
  if (head.ok() && head->has_value() && (*head)->seq > st.pending_seq) {
    st.pending_seq = (*head)->seq;
  }
  // Held records the head has caught up with are duplicates or forks: the writer tells which.
  while (!st.held.empty() && st.held.begin()->first <= st.pending_seq) {
    auto it = st.held.begin();
    if (!CheckLocked(author, it->second)) return st;  // writer full: again on the next call
    Unhold(st, it);
  }
  auto next = st.held.begin();
  if (next != st.held.end() && next->first == st.pending_seq + 1) {
    Held item = std::move(next->second);
    Unhold(st, next);
    QueueLocked(author, st, std::move(item), /*from_hold=*/true);  // if refused, held again
  }
  return st;
}

IngestPipeline::Offered IngestPipeline::Offer(ParsedRecord record,
                                              Writer::IngestDone done) {
  const PublicKey author = record.author;
  const uint64_t seq = record.seq();
  MutexLock lock(mu_);
  AuthorState& st = Refresh(author);
  if (seq <= st.pending_seq) {
    if (auto q = st.queued.find(seq); q != st.queued.end() && q->second.id == record.id) {
      return Offered::kDuplicate;
    }
    auto known = store_->LocateId(record.id);
    if (known.ok() && known->has_value()) return Offered::kDuplicate;
    // Same seq, another id: a fork or a forgery. The writer decides which, with the signature.
    Held item{std::move(record), std::move(done)};
    return CheckLocked(author, item) ? Offered::kQueued : Offered::kFull;
  }
  if (seq > st.pending_seq + 1) {
    auto [lo, hi] = st.held.equal_range(seq);
    for (auto it = lo; it != hi; ++it) {
      if (it->second.record.id == record.id) return Offered::kDuplicate;
    }
    if (held_total_ >= max_held_ || held_bytes_ + Bytes(record) > max_held_bytes_) {
      return Offered::kFull;
    }
    // Another id at a held seq is kept too: it may be the other half of a fork proof.
    Hold(st, Held{std::move(record), std::move(done)});
    return Offered::kHeld;
  }
  if (QueueLocked(author, st, Held{std::move(record), std::move(done)}, /*from_hold=*/false)) {
    return Offered::kQueued;
  }
  return Offered::kFull;
}

bool IngestPipeline::QueueLocked(const PublicKey& author, AuthorState& st, Held item,
                                 bool from_hold) {
  bool first = true;
  for (;;) {
    const uint64_t seq = item.record.seq();
    const RecordId id = item.record.id;
    const uint64_t ticket = next_ticket_++;
    Writer::IngestDone wrapped = [this, author, seq, ticket,
                                  done = item.done](const IngestOutcome& outcome) {
      OnWritten(author, seq, ticket, outcome);
      if (done) done(outcome);
    };
    if (!writer_->TryIngest(item.record, wrapped).ok()) {
      if (first && !from_hold) return false;  // the caller keeps it (and its `done`)
      // Back to the hold, to be queued by a later Refresh.
      Hold(st, std::move(item));
      return !first;
    }
    first = false;
    st.pending_seq = seq;
    st.queued[seq] = Queued{id, ticket};
    // Other ids held at this seq (the author forked) go after the chain's record, so that the
    // writer sees each as a second record at a taken seq and stores the proof.
    auto [lo, hi] = st.held.equal_range(seq);
    for (auto it = lo; it != hi;) {
      if (!CheckLocked(author, it->second)) break;
      it = Unhold(st, it);
    }
    auto next = st.held.lower_bound(seq + 1);
    if (next == st.held.end() || next->first != seq + 1) return true;
    item = std::move(next->second);
    Unhold(st, next);
  }
}

bool IngestPipeline::CheckLocked(const PublicKey& author, Held& item) {
  const uint64_t seq = item.record.seq();
  Writer::IngestDone wrapped = [this, author, seq,
                                done = item.done](const IngestOutcome& outcome) {
    OnWritten(author, seq, /*ticket=*/0, outcome);
    if (done) done(outcome);
  };
  return writer_->TryIngest(item.record, wrapped).ok();
}

void IngestPipeline::OnWritten(const PublicKey& author, uint64_t seq, uint64_t ticket,
                               const IngestOutcome& outcome) {
  MutexLock lock(mu_);
  AuthorState& st = authors_[author];
  auto q = st.queued.find(seq);
  // Only the latest queuing of `seq` speaks for it: an older one may fail after the chain was
  // rolled back and re-filled.
  const bool current = ticket != 0 && q != st.queued.end() && q->second.ticket == ticket;
  if (current) {
    st.queued.erase(q);
    if (!outcome.committed() && outcome.result != IngestResult::kDuplicate) {
      // The chain broke at `seq`: what was queued after it fails too, and the next offer of
      // `seq` (from an honest peer) must be queued again.
      st.pending_seq = seq - 1;
      st.queued.erase(st.queued.lower_bound(seq), st.queued.end());
    }
  }
  // The committed head may have moved past what we knew (a fork check that extended the feed,
  // a rollback): held records may follow it now. A chained success moved nothing we did not
  // know; skipping the store read keeps the writer thread lean during catch-up.
  if (!st.held.empty() || ticket == 0 || !outcome.committed()) Refresh(author);
}

uint64_t IngestPipeline::NextWanted(const PublicKey& author) {
  MutexLock lock(mu_);
  return Refresh(author).pending_seq + 1;
}

void IngestPipeline::Hold(AuthorState& st, Held item) {
  ++held_total_;
  item.bytes = Bytes(item.record);
  held_bytes_ += item.bytes;
  const uint64_t seq = item.record.seq();
  st.held.emplace(seq, std::move(item));
}

std::multimap<uint64_t, IngestPipeline::Held>::iterator IngestPipeline::Unhold(
    AuthorState& st, std::multimap<uint64_t, Held>::iterator it) {
  --held_total_;
  held_bytes_ -= it->second.bytes;
  return st.held.erase(it);
}

size_t IngestPipeline::held() const {
  MutexLock lock(mu_);
  return held_total_;
}

}  // namespace hashmesh
