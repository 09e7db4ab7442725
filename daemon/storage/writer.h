// Writer: the one thread that commits to the Store. Other threads hand it work through a bounded
// queue; it takes up to `max_batch` items into one LMDB transaction (group commit), commits
// durably, and only then completes each item and tells the commit listeners. So nothing is
// acknowledged, indexed, streamed or relayed before it is on disk.
//
// It also owns the node's own feed: it assigns seq and prev and signs at commit time, so the feed
// can never fork, whatever the number of concurrent submitters.
//
// Thread-safety: Publish/Ingest/Stop may be called from any thread. Listeners run on the writer
// thread and must be quick (post elsewhere for slow work).
#pragma once

#include <future>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>
#include <variant>
#include <vector>

#include "common/mutex.h"
#include "common/record.h"
#include "daemon/storage/parallel_runner.h"
#include "daemon/storage/store.h"
#include "keys/record_acceptance.h"
#include "keys/trust_source.h"
#include "keys/trust_store.h"

namespace hashmesh {


// What became of a record offered with Ingest. Whether to blame the peer that sent it is read
// from this, never from a status code.
enum class IngestResult {
  kCommitted,
  kDuplicate,     // already stored
  kFork,          // a validly signed second record at a taken seq: the proof is stored
  kGap,           // an earlier record of the author's feed is missing here
  kInvalidChain,  // does not extend the feed, or names a manifest not in force
  kBadSignature,  // the record's or its manifest's signature fails: forged
  kUntrusted,     // the author is not in the trust store
  kNotAllowed,    // a kind the author's roles may not publish, a retraction of another's record,
                  // or a record after the author's revocation
  kStoreError,    // not decided: the store failed
};

std::string_view IngestResultName(IngestResult result);  // "committed", "duplicate", ...

struct IngestOutcome {
  IngestResult result = IngestResult::kCommitted;
  std::string reason;  // empty when committed

  bool committed() const { return result == IngestResult::kCommitted; }
  // "bad_signature: signature does not verify", for logs and tests.
  std::string ToString() const;
};

// The writer's outcome for a verdict of the acceptance rule.
IngestOutcome OutcomeOf(const Acceptance& acceptance);

struct OwnFeedIdentity {
  PublicKey member{};
  const SecretKey* signing_key = nullptr;  // owned by the node, outlives the writer
  uint32_t manifest_seq = 0;
  std::string manifest;  // serialised SignedManifest for `manifest_seq`
  // A serialised revocation of `member`, or empty: published after `manifest`, and then nothing.
  std::string revocation;
};

struct WriterOptions {
  size_t queue_capacity = 16384;
  size_t max_batch = 1000;
  // Threads that help the writer check a batch's signatures (the writer thread works too).
  int verify_threads = 1;
  // Don't publish our manifest at Start(): the node first recovers its own feed from peers
  // (after losing its data) and then calls PublishOwnManifest(). Publishing is refused until then.
  bool defer_own_manifest = false;
};

struct WriterStats {
  uint64_t batches = 0;
  uint64_t records = 0;
  uint64_t rejected = 0;
  uint64_t duplicates = 0;
  uint64_t equivocations = 0;
  uint64_t last_batch_size = 0;
  double last_commit_ms = 0;
  double commit_ms_total = 0;  // sum over all batches: with `batches`, the mean commit latency
};

class Writer {
 public:
  using PublishDone = std::function<void(Result<ParsedRecord>)>;
  using IngestDone = std::function<void(const IngestOutcome&)>;
  using CommitListener = std::function<void(const std::vector<ParsedRecord>&)>;
  // Gets each new fork proof (a serialised pb::Equivocation) after it is stored.
  using EquivocationListener = std::function<void(const std::string& proof)>;

  // `trust` is what records from other authors are accepted against (AcceptRecord), read once per
  // batch on the writer thread; null trusts nobody. It must outlive the writer.
  Writer(Store* store, OwnFeedIdentity identity, const TrustSource* trust, WriterOptions options);
  ~Writer();  // stops and joins

  // Register before Start().
  void AddCommitListener(CommitListener listener);
  void AddEquivocationListener(EquivocationListener listener);
  // Loads the own feed's head; publishes the manifest record first if the feed is empty or the
  // manifest changed (rotation). Starts the thread.
  Status Start();
  // Stops taking work, finishes what is queued, joins. Pending items complete with Unavailable.
  void Stop();
  // With defer_own_manifest: publishes our manifest record now if our feed lacks it (and the
  // revocation, if any), and opens publishing. Blocks until committed.
  Status PublishOwnManifest();
  // Key rotation or revocation while running: from now on records are signed with the key of
  // the feed's current manifest; `next`'s manifest (signed by its new key) and revocation are
  // published now if publishing is open (else by PublishOwnManifest). Blocks until committed.
  // The member must be the same. Earlier keys stay usable for nothing but what they certified.
  Status UpdateIdentity(OwnFeedIdentity next);
  // True once our own feed ends with a revocation: publishing is closed for good.
  bool revoked() const;
  // True once publishing is open (manifest published or recovered) and not held.
  bool own_feed_ready() const;
  // Closes publishing while our own feed may be incomplete here (a peer holds more of it than we
  // do, e.g. after a restore from an old backup): Publish answers Unavailable, and publishes
  // already queued are refused rather than signed, since each would fork our feed.
  void HoldPublishing();
  void ReleasePublishing();

  // Appends a record of the given kind to our own feed. `done` runs on the writer thread after the
  // commit (or with an error). Returns ResourceExhausted at once if the queue is full.
  Status Publish(pb::RecordBody body, PublishDone done);
  // Offers another author's record; `done` gets kCommitted once committed, kDuplicate, kFork for
  // a validly signed second record at a taken seq (the proof is stored and the listeners told),
  // or why the acceptance rule refused it. Records staged earlier in the same batch count as
  // part of the chain (a retraction may follow its target in one batch).
  Status Ingest(ParsedRecord record, IngestDone done);
  // Like Ingest, but moves from `record` and `done` only when it takes them: when the queue is
  // full (ResourceExhausted) or the writer stops (Unavailable), the caller still holds both.
  Status TryIngest(ParsedRecord& record, IngestDone& done);

  WriterStats stats() const;
  uint64_t own_seq() const;

 private:
  struct PublishItem {
    pb::RecordBody body;
    PublishDone done;
  };
  struct IngestItem {
    ParsedRecord record;
    IngestDone done;
  };
  using Item = std::variant<PublishItem, IngestItem>;

  Status Enqueue(Item item);
  void Run();
  void CommitBatch(std::vector<Item>& items);
  // Checks in parallel the signatures of ingested records whose key is already known.
  void PreverifySignatures(std::vector<Item>& items);
  // A record at a seq the feed already has: stores the proof if both are validly signed, and
  // appends it to `proofs` when it is new (not when this fork was proven before: not announced
  // again). A store error is returned as such.
  Result<IngestOutcome> CheckEquivocation(StoreBatch& batch, const ParsedRecord& record,
                                          const FeedState& feed, std::vector<std::string>* proofs);
  // Decides an ingested record against the committed store plus what `staged` holds of this
  // batch; stages it when accepted. Returns a store error only when the batch must stop.
  Result<IngestOutcome> IngestOne(StoreBatch& batch, const ParsedRecord& record,
                                  const TrustStore& trust, std::map<PublicKey, FeedState>& staged,
                                  std::vector<std::string>* proofs);
  Result<FeedState*> Feed(const PublicKey& author, std::map<PublicKey, FeedState>& staged);
  // Publishes the manifest and revocation of identity_ that our committed feed lacks; waits.
  Status PublishMissingManifests();
  struct Signer {
    const SecretKey* key = nullptr;
    uint32_t manifest_seq = 0;
  };
  // Which key signs `body` as the next record of our feed `own`: a manifest record carrying a
  // new key is signed by that key; anything else by the key of the feed's current manifest.
  Result<Signer> SignerFor(const pb::RecordBody& body, const FeedState& own) const;

  Store* store_;
  const PublicKey member_;
  OwnFeedIdentity identity_ GUARDED_BY(mu_);  // the latest, with its manifest and revocation
  // Every signing key this node held since start, by the manifest seq that certifies it.
  std::map<uint32_t, const SecretKey*> signing_keys_ GUARDED_BY(mu_);
  bool revoked_ GUARDED_BY(mu_) = false;
  const TrustSource* trust_;
  WriterOptions options_;
  std::vector<CommitListener> listeners_;
  std::vector<EquivocationListener> equivocation_listeners_;
  std::unique_ptr<ParallelRunner> runner_;

  mutable Mutex mu_;
  CondVar cv_;
  std::deque<Item> queue_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  WriterStats stats_ GUARDED_BY(mu_);
  uint64_t own_seq_ GUARDED_BY(mu_) = 0;
  bool own_ready_ GUARDED_BY(mu_) = false;
  bool own_held_ GUARDED_BY(mu_) = false;

  // Writer-thread only: committed feed states, loaded lazily.
  std::map<PublicKey, FeedState> feeds_;
  // Writer-thread only: the lowest seq at which each author's fork is proven by a stored proof,
  // and those staged in the running batch. Policy distrusts an author from its first fork on,
  // so a proof at a higher seq adds nothing and is not stored: a member that forks at every seq
  // cannot fill every node's store, nor the proofs sent on each connect. A proof comes back
  // from every peer it was flooded to; only a new one is announced, else it would circle the
  // federation for ever.
  std::map<PublicKey, uint64_t> proven_, staged_proven_;
  std::thread thread_;
};

}  // namespace hashmesh
