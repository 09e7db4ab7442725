// The single LMDB writer: group commit, own-feed sequencing, ingest of verified records.
#include "daemon/writer.h"

#include <chrono>

#include "common/clock.h"
#include "common/log.h"

namespace hashmesh {

Writer::Writer(Store* store, OwnFeedIdentity identity, IngestCheck check, WriterOptions options)
    : store_(store),
      identity_(std::move(identity)),
      check_(std::move(check)),
      options_(options) {}

Writer::~Writer() { Stop(); }

void Writer::AddCommitListener(CommitListener listener) {
  listeners_.push_back(std::move(listener));
}

Status Writer::Start() {
  HM_ASSIGN_OR_RETURN(FeedState own, store_->LoadFeedState(identity_.member));
  {
    std::lock_guard lock(mu_);
    own_seq_ = own.head_seq;
  }
  const bool manifest_known = own.manifests.count(identity_.manifest_seq) > 0;
  feeds_[identity_.member] = std::move(own);
  thread_ = std::thread([this] { Run(); });
  if (manifest_known) return Status::Ok();

  // Our feed does not yet carry the manifest we sign with: publish it first, and wait for it, so
  // that every later record of ours verifies.
  pb::RecordBody body;
  if (!body.mutable_manifest()->ParseFromString(identity_.manifest)) {
    return Corruption("own manifest does not parse");
  }
  std::promise<Status> published;
  auto future = published.get_future();
  HM_RETURN_IF_ERROR(Publish(std::move(body), [&published](Result<ParsedRecord> r) {
    published.set_value(r.ok() ? Status::Ok() : r.status());
  }));
  return future.get().WithContext("publishing own manifest");
}

void Writer::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status Writer::Enqueue(Item item) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Unavailable("node is shutting down");
    if (queue_.size() >= options_.queue_capacity) {
      return ResourceExhausted("writer queue is full; try again");
    }
    queue_.push_back(std::move(item));
  }
  cv_.notify_one();
  return Status::Ok();
}

Status Writer::Publish(pb::RecordBody body, PublishDone done) {
  return Enqueue(PublishItem{std::move(body), std::move(done)});
}

Status Writer::Ingest(ParsedRecord record, IngestDone done) {
  return Enqueue(IngestItem{std::move(record), std::move(done)});
}

WriterStats Writer::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

uint64_t Writer::own_seq() const {
  std::lock_guard lock(mu_);
  return own_seq_;
}

void Writer::Run() {
  std::vector<Item> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and all queued work is done
      while (!queue_.empty() && batch.size() < options_.max_batch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    CommitBatch(batch);
    batch.clear();
  }
}

Result<FeedState*> Writer::Feed(const PublicKey& author, std::map<PublicKey, FeedState>& staged) {
  if (auto it = staged.find(author); it != staged.end()) return &it->second;
  auto committed = feeds_.find(author);
  if (committed == feeds_.end()) {
    HM_ASSIGN_OR_RETURN(FeedState loaded, store_->LoadFeedState(author));
    committed = feeds_.emplace(author, std::move(loaded)).first;
  }
  return &staged.emplace(author, committed->second).first->second;
}

void Writer::CommitBatch(std::vector<Item>& items) {
  // Outcome per item, decided inside the transaction; applied only after the commit.
  std::vector<Status> outcomes;
  std::vector<std::optional<ParsedRecord>> accepted;
  std::map<PublicKey, FeedState> staged;
  const auto started = std::chrono::steady_clock::now();

  Status commit = store_->Write([&](StoreBatch& batch) -> Status {
    // Write() may run this again after growing the map: start from scratch each time.
    outcomes.assign(items.size(), Status::Ok());
    accepted.assign(items.size(), std::nullopt);
    staged.clear();
    for (size_t i = 0; i < items.size(); ++i) {
      Result<ParsedRecord> record = Internal("unset");
      if (auto* publish = std::get_if<PublishItem>(&items[i])) {
        HM_ASSIGN_OR_RETURN(FeedState * own, Feed(identity_.member, staged));
        std::optional<RecordId> prev;
        if (own->head_seq > 0) prev = own->head_id;
        record = BuildRecord(publish->body, *identity_.signing_key, identity_.member,
                             own->head_seq + 1, prev, identity_.manifest_seq, NowMs());
        if (record.ok()) {
          // Our own records go through the same verification as anybody's.
          Status valid = VerifyNextRecord(*record, *own);
          if (!valid.ok()) record = valid;
        }
      } else {
        auto& ingest = std::get<IngestItem>(items[i]);
        HM_ASSIGN_OR_RETURN(bool dup, batch.HasId(ingest.record.id));
        if (dup) {
          outcomes[i] = AlreadyExists("duplicate record");
          continue;
        }
        HM_ASSIGN_OR_RETURN(FeedState * feed, Feed(ingest.record.author, staged));
        Status valid = check_ ? check_(ingest.record, *feed) : VerifyNextRecord(ingest.record, *feed);
        if (valid.ok()) {
          record = ingest.record;
        } else {
          record = valid;
        }
      }
      if (!record.ok()) {
        outcomes[i] = record.status();
        continue;
      }
      Status put = batch.PutRecord(*record);
      if (put.code() == StatusCode::kResourceExhausted) return put;  // map full: retry all
      if (!put.ok()) {
        outcomes[i] = put;
        continue;
      }
      HM_ASSIGN_OR_RETURN(FeedState * feed, Feed(record->author, staged));
      AdvanceFeed(*record, feed);
      accepted[i] = std::move(*record);
    }
    return Status::Ok();
  });

  const double commit_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  std::vector<ParsedRecord> committed;
  if (commit.ok()) {
    for (auto& [author, state] : staged) feeds_[author] = std::move(state);
  } else {
    LogError("store commit failed").Kv("error", commit.ToString()).Kv("items", items.size());
  }
  // Listeners (index, streams, peers) see the commit before any client hears of it, so a client
  // that matches right after its submit is answered finds its record.
  std::vector<bool> ok(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    ok[i] = commit.ok() && outcomes[i].ok() && accepted[i].has_value();
    if (ok[i]) committed.push_back(*accepted[i]);
  }
  if (!committed.empty()) {
    for (const auto& listener : listeners_) listener(committed);
  }
  {
    std::lock_guard lock(mu_);
    stats_.batches++;
    stats_.records += committed.size();
    stats_.rejected += items.size() - committed.size();
    stats_.last_batch_size = items.size();
    stats_.last_commit_ms = commit_ms;
    if (auto it = feeds_.find(identity_.member); it != feeds_.end()) own_seq_ = it->second.head_seq;
  }
  for (size_t i = 0; i < items.size(); ++i) {
    Status outcome = commit.ok() ? outcomes[i] : commit;
    if (auto* publish = std::get_if<PublishItem>(&items[i])) {
      if (publish->done) {
        publish->done(ok[i] ? Result<ParsedRecord>(std::move(*accepted[i])) : Result<ParsedRecord>(outcome));
      }
    } else if (auto& done = std::get<IngestItem>(items[i]).done) {
      done(ok[i] ? Status::Ok() : outcome);
    }
  }
}

}  // namespace hashmesh
