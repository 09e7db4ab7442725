// The single LMDB writer: group commit, own-feed sequencing, ingest of others' records with
// signatures checked in parallel before the transaction, and fork (equivocation) detection.
#include "daemon/storage/writer.h"

#include <chrono>

#include "common/clock.h"
#include "common/log.h"
#include "proto/wire.pb.h"

namespace hashmesh {
namespace {

// Keeps the lowest seq seen for `author`.
void NoteLowest(std::map<PublicKey, uint64_t>* lowest, const PublicKey& author, uint64_t seq) {
  auto [it, added] = lowest->emplace(author, seq);
  if (!added) it->second = std::min(it->second, seq);
}

// The chain as the acceptance rule sees it inside a batch: the write transaction (which sees the
// records staged before) and the feed states advanced by them.
class BatchChain : public ChainView {
 public:
  using FeedOf = std::function<Result<FeedState*>(const PublicKey&)>;
  BatchChain(StoreBatch& batch, FeedOf feed) : batch_(batch), feed_(std::move(feed)) {}

  Result<const FeedState*> Feed(const PublicKey& author) override {
    HM_ASSIGN_OR_RETURN(FeedState * feed, feed_(author));
    return static_cast<const FeedState*>(feed);
  }
  Result<std::optional<PublicKey>> AuthorOf(const RecordId& id) override {
    HM_ASSIGN_OR_RETURN(auto loc, batch_.LocateId(id));
    if (!loc) return std::optional<PublicKey>();
    return std::optional<PublicKey>(loc->author);
  }

 private:
  StoreBatch& batch_;
  FeedOf feed_;
};

IngestOutcome StoreError(const Status& s) { return {IngestResult::kStoreError, s.ToString()}; }

}  // namespace

std::string_view IngestResultName(IngestResult result) {
  switch (result) {
    case IngestResult::kCommitted: return "committed";
    case IngestResult::kDuplicate: return "duplicate";
    case IngestResult::kFork: return "fork";
    case IngestResult::kGap: return "gap";
    case IngestResult::kInvalidChain: return "invalid_chain";
    case IngestResult::kBadSignature: return "bad_signature";
    case IngestResult::kUntrusted: return "untrusted";
    case IngestResult::kNotAllowed: return "not_allowed";
    case IngestResult::kStoreError: return "store_error";
  }
  return "unknown";
}

std::string IngestOutcome::ToString() const {
  std::string out(IngestResultName(result));
  if (!reason.empty()) out += ": " + reason;
  return out;
}

IngestOutcome OutcomeOf(const Acceptance& acceptance) {
  IngestResult result = IngestResult::kCommitted;
  switch (acceptance.verdict) {
    case Verdict::kAccepted: result = IngestResult::kCommitted; break;
    case Verdict::kGap: result = IngestResult::kGap; break;
    case Verdict::kBrokenChain:
    case Verdict::kWrongManifest: result = IngestResult::kInvalidChain; break;
    case Verdict::kBadManifest:
    case Verdict::kBadSignature: result = IngestResult::kBadSignature; break;
    case Verdict::kUntrusted: result = IngestResult::kUntrusted; break;
    case Verdict::kRevoked:
    case Verdict::kNotAllowed:
    case Verdict::kForeignTarget: result = IngestResult::kNotAllowed; break;
    case Verdict::kUnreadable: result = IngestResult::kStoreError; break;
  }
  return {result, acceptance.reason};
}

Writer::Writer(Store* store, OwnFeedIdentity identity, const TrustSource* trust,
               WriterOptions options)
    : store_(store),
      member_(identity.member),
      identity_(std::move(identity)),
      trust_(trust),
      options_(options),
      runner_(std::make_unique<ParallelRunner>(options.verify_threads)) {
  signing_keys_[identity_.manifest_seq] = identity_.signing_key;
}

Writer::~Writer() { Stop(); }

void Writer::AddCommitListener(CommitListener listener) {
  listeners_.push_back(std::move(listener));
}

void Writer::AddEquivocationListener(EquivocationListener listener) {
  equivocation_listeners_.push_back(std::move(listener));
}

Status Writer::Start() {
  HM_ASSIGN_OR_RETURN(FeedState own, store_->LoadFeedState(member_));
  {
    MutexLock lock(mu_);
    own_seq_ = own.head_seq;
    revoked_ = own.revoked();
  }
  feeds_[member_] = std::move(own);
  HM_ASSIGN_OR_RETURN(auto proofs, store_->Equivocations());
  for (const auto& bytes : proofs) {
    pb::Equivocation proof;
    if (!proof.ParseFromString(bytes)) continue;
    if (auto first = ParseRecord(proof.first()); first.ok()) {
      NoteLowest(&proven_, first->author, first->seq());
    }
  }
  thread_ = std::thread([this] { Run(); });
  if (options_.defer_own_manifest) return Status::Ok();
  return PublishOwnManifest();
}

Status Writer::PublishOwnManifest() {
  {
    MutexLock lock(mu_);
    if (own_ready_) return Status::Ok();
  }
  HM_RETURN_IF_ERROR(PublishMissingManifests());
  MutexLock lock(mu_);
  own_ready_ = true;
  return Status::Ok();
}

Status Writer::UpdateIdentity(OwnFeedIdentity next) {
  if (next.member != member_) return InvalidArgument("a node cannot change its member");
  bool publish_now;
  {
    MutexLock lock(mu_);
    signing_keys_[next.manifest_seq] = next.signing_key;
    identity_ = std::move(next);
    publish_now = own_ready_;
  }
  return publish_now ? PublishMissingManifests() : Status::Ok();
}

bool Writer::revoked() const {
  MutexLock lock(mu_);
  return revoked_;
}

Status Writer::PublishMissingManifests() {
  OwnFeedIdentity id;
  {
    MutexLock lock(mu_);
    id = identity_;
  }
  // Our feed as committed now (the writer thread may have ingested it from peers meanwhile).
  HM_ASSIGN_OR_RETURN(FeedState own, store_->LoadFeedState(member_));
  const bool revoked = own.revoked();
  std::vector<const std::string*> missing;
  if (!revoked && own.manifests.count(id.manifest_seq) == 0) missing.push_back(&id.manifest);
  if (!revoked && !id.revocation.empty()) missing.push_back(&id.revocation);
  // Each is published and waited for in turn, so that every later record of ours verifies.
  for (const std::string* manifest : missing) {
    pb::RecordBody body;
    if (!body.mutable_manifest()->ParseFromString(*manifest)) {
      return Corruption("own manifest does not parse");
    }
    std::promise<Status> published;
    auto future = published.get_future();
    HM_RETURN_IF_ERROR(Enqueue(PublishItem{std::move(body), [&published](Result<ParsedRecord> r) {
                                             published.set_value(r.ok() ? Status::Ok()
                                                                        : r.status());
                                           }}));
    HM_RETURN_IF_ERROR(future.get().WithContext("publishing own manifest"));
  }
  return Status::Ok();
}

Result<Writer::Signer> Writer::SignerFor(const pb::RecordBody& body, const FeedState& own) const {
  std::optional<uint32_t> seq;
  if (body.has_manifest()) {
    HM_ASSIGN_OR_RETURN(ManifestInfo carried, ReadVerifiedManifest(body.manifest()));
    if (!carried.revoked()) seq = carried.seq;
  }
  if (!seq) {
    if (own.manifests.empty()) return FailedPrecondition("our feed has no manifest yet");
    const ManifestInfo& current = own.manifests.rbegin()->second;
    if (current.revoked()) {
      return FailedPrecondition("this member's key is revoked: it can no longer publish");
    }
    seq = current.seq;
  }
  MutexLock lock(mu_);
  auto key = signing_keys_.find(*seq);
  if (key == signing_keys_.end()) {
    return FailedPrecondition("no signing key here for manifest seq " + std::to_string(*seq) +
                              " (the key directory holds manifest seq " +
                              std::to_string(identity_.manifest_seq) + ")");
  }
  return Signer{key->second, *seq};
}

bool Writer::own_feed_ready() const {
  MutexLock lock(mu_);
  return own_ready_ && !own_held_;
}

void Writer::HoldPublishing() {
  MutexLock lock(mu_);
  own_held_ = true;
}

void Writer::ReleasePublishing() {
  MutexLock lock(mu_);
  own_held_ = false;
}

void Writer::Stop() {
  {
    MutexLock lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.NotifyAll();
  if (thread_.joinable()) thread_.join();
}

Status Writer::Enqueue(Item item) {
  {
    MutexLock lock(mu_);
    if (stopping_) return Unavailable("node is shutting down");
    if (queue_.size() >= options_.queue_capacity) {
      return ResourceExhausted("writer queue is full; try again");
    }
    queue_.push_back(std::move(item));
  }
  cv_.NotifyOne();
  return Status::Ok();
}

Status Writer::Publish(pb::RecordBody body, PublishDone done) {
  {
    MutexLock lock(mu_);
    if (revoked_) {
      return FailedPrecondition("this member's key is revoked: it can no longer publish");
    }
    if (!own_ready_ || own_held_) {
      return Unavailable("this node is still recovering its own feed from its peers; try again");
    }
  }
  return Enqueue(PublishItem{std::move(body), std::move(done)});
}

Status Writer::Ingest(ParsedRecord record, IngestDone done) { return TryIngest(record, done); }

Status Writer::TryIngest(ParsedRecord& record, IngestDone& done) {
  {
    MutexLock lock(mu_);
    if (stopping_) return Unavailable("node is shutting down");
    if (queue_.size() >= options_.queue_capacity) {
      return ResourceExhausted("writer queue is full; try again");
    }
    queue_.push_back(IngestItem{std::move(record), std::move(done)});
  }
  cv_.NotifyOne();
  return Status::Ok();
}

WriterStats Writer::stats() const {
  MutexLock lock(mu_);
  return stats_;
}

uint64_t Writer::own_seq() const {
  MutexLock lock(mu_);
  return own_seq_;
}

void Writer::Run() {
  std::vector<Item> batch;
  for (;;) {
    {
      MutexLock lock(mu_);
      cv_.Wait(mu_, [this]() REQUIRES(mu_) { return stopping_ || !queue_.empty(); });
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

void Writer::PreverifySignatures(std::vector<Item>& items) {
  // Only records that extend a feed we know, under its current manifest: the common case of
  // catch-up and live gossip. Anything else is checked in order inside the transaction.
  std::vector<std::pair<ParsedRecord*, PublicKey>> work;
  for (auto& item : items) {
    auto* ingest = std::get_if<IngestItem>(&item);
    if (ingest == nullptr || ingest->record.kind == RecordKind::kManifest) continue;
    auto it = feeds_.find(ingest->record.author);
    if (it == feeds_.end()) {
      auto loaded = store_->LoadFeedState(ingest->record.author);
      if (!loaded.ok()) continue;
      it = feeds_.emplace(ingest->record.author, std::move(*loaded)).first;
    }
    const FeedState& feed = it->second;
    if (feed.manifests.empty() || ingest->record.seq() <= feed.head_seq) continue;
    const ManifestInfo& current = feed.manifests.rbegin()->second;
    if (!current.signing_key || ingest->record.body.manifest_seq() != current.seq) continue;
    work.emplace_back(&ingest->record, *current.signing_key);
  }
  runner_->Run(work.size(), [&](size_t i) {
    ParsedRecord* r = work[i].first;
    if (Verify(work[i].second, kRecordPurpose, r->signed_record.body(),
               r->signed_record.signature())) {
      r->verified_key = work[i].second;
    }
  });
}

Result<IngestOutcome> Writer::CheckEquivocation(StoreBatch& batch, const ParsedRecord& record,
                                                const FeedState& feed,
                                                std::vector<std::string>* proofs) {
  HM_ASSIGN_OR_RETURN(auto stored, batch.GetRecord({record.author, record.seq()}));
  if (!stored) return Internal("feed head above a missing record");
  auto manifest = feed.manifests.find(record.body.manifest_seq());
  if (manifest == feed.manifests.end() || !manifest->second.signing_key) {
    return IngestOutcome{IngestResult::kInvalidChain, "record at taken seq " +
                                                          std::to_string(record.seq()) +
                                                          " names an unknown manifest"};
  }
  if (!Verify(*manifest->second.signing_key, kRecordPurpose, record.signed_record.body(),
              record.signed_record.signature())) {
    return IngestOutcome{IngestResult::kBadSignature, "signature does not verify"};
  }
  IngestOutcome fork{IngestResult::kFork, "equivocation at seq " + std::to_string(record.seq())};
  auto proven_at = [&](const std::map<PublicKey, uint64_t>& proven) {
    auto it = proven.find(record.author);
    return it == proven.end() ? UINT64_MAX : it->second;
  };
  if (std::min(proven_at(proven_), proven_at(staged_proven_)) <= record.seq()) {
    return fork;  // already proven here or lower
  }
  pb::Equivocation proof;
  if (!proof.mutable_first()->ParseFromString(*stored)) return Corruption("stored record");
  *proof.mutable_second() = record.signed_record;
  std::string bytes = proof.SerializeAsString();
  HM_RETURN_IF_ERROR(batch.PutEquivocation(record.author, record.seq(), bytes));
  staged_proven_[record.author] = record.seq();
  proofs->push_back(std::move(bytes));
  return fork;
}

Result<IngestOutcome> Writer::IngestOne(StoreBatch& batch, const ParsedRecord& record,
                                        const TrustStore& trust,
                                        std::map<PublicKey, FeedState>& staged,
                                        std::vector<std::string>* proofs) {
  // Duplicates are dropped before any signature check.
  HM_ASSIGN_OR_RETURN(bool dup, batch.HasId(record.id));
  if (dup) return IngestOutcome{IngestResult::kDuplicate, "duplicate record"};
  HM_ASSIGN_OR_RETURN(FeedState * feed, Feed(record.author, staged));
  if (record.seq() <= feed->head_seq) {
    auto fork = CheckEquivocation(batch, record, *feed, proofs);
    if (fork.ok()) return fork;
    if (batch.map_full()) return fork.status();
    return StoreError(fork.status());
  }
  BatchChain chain(batch, [&](const PublicKey& author) { return Feed(author, staged); });
  Acceptance acceptance = AcceptRecord(record, trust, chain);
  if (!acceptance.ok()) return OutcomeOf(acceptance);
  Status put = batch.PutRecord(record);
  if (batch.map_full()) return put;
  if (!put.ok()) return StoreError(put);
  AdvanceFeed(record, feed);
  return IngestOutcome{};
}

void Writer::CommitBatch(std::vector<Item>& items) {
  PreverifySignatures(items);
  // Outcome per item, decided inside the transaction; applied only after the commit.
  std::vector<Status> published;       // publish items
  std::vector<IngestOutcome> ingested;  // ingest items
  std::vector<std::optional<ParsedRecord>> accepted;
  std::vector<std::string> proofs;
  std::map<PublicKey, FeedState> staged;
  const auto started = std::chrono::steady_clock::now();
  bool publishing_held;
  {
    MutexLock lock(mu_);
    publishing_held = own_held_;
  }
  std::shared_ptr<const TrustStore> trust = trust_ ? trust_->Trust() : nullptr;
  if (!trust) trust = std::make_shared<const TrustStore>();

  Status commit = store_->Write([&](StoreBatch& batch) -> Status {
    // Write() may run this again after growing the map: start from scratch each time.
    published.assign(items.size(), Status::Ok());
    ingested.assign(items.size(), IngestOutcome{});
    accepted.assign(items.size(), std::nullopt);
    proofs.clear();
    staged.clear();
    staged_proven_.clear();
    for (size_t i = 0; i < items.size(); ++i) {
      if (auto* ingest = std::get_if<IngestItem>(&items[i])) {
        HM_ASSIGN_OR_RETURN(ingested[i], IngestOne(batch, ingest->record, *trust, staged, &proofs));
        if (ingested[i].committed()) accepted[i] = ingest->record;
        continue;
      }
      auto& publish = std::get<PublishItem>(items[i]);
      // Queued before the hold (the manifest that opens publishing is never held back).
      if (publishing_held && !publish.body.has_manifest()) {
        published[i] =
            Unavailable("this node is still recovering its own feed from its peers; try again");
        continue;
      }
      HM_ASSIGN_OR_RETURN(FeedState * own, Feed(member_, staged));
      std::optional<RecordId> prev;
      if (own->head_seq > 0) prev = own->head_id;
      auto signer = SignerFor(publish.body, *own);
      if (!signer.ok()) {
        published[i] = signer.status();
        continue;
      }
      Result<ParsedRecord> record = BuildRecord(publish.body, *signer->key, member_,
                                                own->head_seq + 1, prev, signer->manifest_seq,
                                                NowMs());
      // Our own records go through the same chain, manifest and signature rule as anybody's
      // (the API checked our role before signing).
      if (record.ok()) {
        if (Status valid = VerifyNextRecord(*record, *own); !valid.ok()) record = valid;
      }
      if (!record.ok()) {
        published[i] = record.status();
        continue;
      }
      Status put = batch.PutRecord(*record);
      if (batch.map_full()) return put;  // map full: retry all
      if (!put.ok()) {
        published[i] = put;
        continue;
      }
      AdvanceFeed(*record, own);
      accepted[i] = std::move(*record);
    }
    return Status::Ok();
  });

  const double commit_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  if (commit.ok()) {
    for (auto& [author, state] : staged) feeds_[author] = std::move(state);
    for (const auto& [author, seq] : staged_proven_) NoteLowest(&proven_, author, seq);
  } else {
    LogError("store commit failed").Kv("error", commit.ToString()).Kv("items", items.size());
    proofs.clear();
  }
  // Listeners (index, streams, peers) see the commit before any client hears of it, so a client
  // that matches right after its submit is answered finds its record.
  std::vector<ParsedRecord> committed;
  std::vector<bool> ok(items.size());
  uint64_t duplicates = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    ok[i] = commit.ok() && accepted[i].has_value();
    if (ok[i]) committed.push_back(*accepted[i]);
    if (commit.ok() && ingested[i].result == IngestResult::kDuplicate) ++duplicates;
  }
  if (!committed.empty()) {
    for (const auto& listener : listeners_) listener(committed);
  }
  for (const auto& proof : proofs) {
    LogWarning("equivocation detected: an author signed two records with the same seq");
    for (const auto& listener : equivocation_listeners_) listener(proof);
  }
  {
    MutexLock lock(mu_);
    stats_.batches++;
    stats_.records += committed.size();
    stats_.duplicates += duplicates;
    stats_.equivocations += proofs.size();
    stats_.rejected += items.size() - committed.size() - duplicates;
    stats_.last_batch_size = items.size();
    stats_.last_commit_ms = commit_ms;
    stats_.commit_ms_total += commit_ms;
    if (auto it = feeds_.find(member_); it != feeds_.end()) {
      own_seq_ = it->second.head_seq;
      revoked_ = it->second.revoked();
    }
  }
  for (size_t i = 0; i < items.size(); ++i) {
    if (auto* publish = std::get_if<PublishItem>(&items[i])) {
      if (publish->done) {
        publish->done(ok[i] ? Result<ParsedRecord>(std::move(*accepted[i]))
                            : Result<ParsedRecord>(commit.ok() ? published[i] : commit));
      }
    } else if (auto& done = std::get<IngestItem>(items[i]).done) {
      done(commit.ok() ? ingested[i] : StoreError(commit));
    }
  }
}

}  // namespace hashmesh
