// Ordering and de-duplication of records from peers before the writer.
#include "daemon/ingest_pipeline.h"

namespace hashmesh {

IngestPipeline::AuthorState& IngestPipeline::State(const PublicKey& author) {
  AuthorState& st = authors_[author];
  if (!st.loaded) {
    auto head = store_->Head(author);
    if (head.ok() && head->has_value()) st.pending_seq = (*head)->seq;
    st.loaded = true;
  }
  return st;
}

IngestPipeline::Offered IngestPipeline::Offer(ParsedRecord record,
                                              std::function<void(Status)> done) {
  const PublicKey author = record.author;
  const uint64_t seq = record.seq();
  std::lock_guard lock(mu_);
  AuthorState& st = State(author);
  if (seq <= st.pending_seq) {
    if (auto q = st.queued.find(seq); q != st.queued.end() && q->second == record.id) {
      return Offered::kDuplicate;
    }
    auto known = store_->LocateId(record.id);
    if (known.ok() && known->has_value()) return Offered::kDuplicate;
    // Same seq, another id: a fork or a forgery. The writer decides which, with the signature.
    Status s = writer_->Ingest(std::move(record), std::move(done));
    return s.ok() ? Offered::kQueued : Offered::kFull;
  }
  if (seq > st.pending_seq + 1) {
    if (st.held.count(seq) > 0) return Offered::kDuplicate;
    if (held_total_ >= max_held_) return Offered::kFull;
    st.held.emplace(seq, Held{std::move(record), std::move(done)});
    ++held_total_;
    return Offered::kHeld;
  }
  return QueueLocked(author, st, Held{std::move(record), std::move(done)}) ? Offered::kQueued
                                                                           : Offered::kFull;
}

bool IngestPipeline::QueueLocked(const PublicKey& author, AuthorState& st, Held item) {
  for (;;) {
    const uint64_t seq = item.record.seq();
    const RecordId id = item.record.id;
    auto done = std::move(item.done);
    Status s = writer_->Ingest(std::move(item.record), [this, author, seq, done](Status outcome) {
      OnWritten(author, seq, outcome);
      if (done) done(outcome);
    });
    if (!s.ok()) return false;
    st.pending_seq = seq;
    st.queued[seq] = id;
    auto next = st.held.find(seq + 1);
    if (next == st.held.end()) return true;
    item = std::move(next->second);
    st.held.erase(next);
    --held_total_;
  }
}

void IngestPipeline::OnWritten(const PublicKey& author, uint64_t seq, const Status& outcome) {
  std::lock_guard lock(mu_);
  AuthorState& st = State(author);
  st.queued.erase(seq);
  if (outcome.ok() || outcome.code() == StatusCode::kAlreadyExists) return;
  // The chain broke at `seq` (an invalid record): what follows it in the queue fails too, and the
  // next offer of `seq` (from an honest peer) must be queued again.
  if (seq <= st.pending_seq) st.pending_seq = seq - 1;
}

uint64_t IngestPipeline::NextWanted(const PublicKey& author) {
  std::lock_guard lock(mu_);
  return State(author).pending_seq + 1;
}

size_t IngestPipeline::held() const {
  std::lock_guard lock(mu_);
  return held_total_;
}

}  // namespace hashmesh
