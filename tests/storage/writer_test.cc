// The writer: own-feed sequencing under concurrency, group commit, ingest checks.
#include "daemon/storage/writer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <random>
#include <utility>

#include "daemon/sync/ingest_pipeline.h"
#include "daemon/sync/peer_session.h"
#include "tests/support/test_dir.h"
#include "tests/support/test_member.h"
#include "tests/support/test_trust.h"

namespace hashmesh {
namespace {

using testing::FakeTrust;
using testing::RandomPdqHex;
using testing::TestMember;
using testing::TrustFor;

class WriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitCrypto());
    dir_ = testing::FreshTestDir("writer_test");
    store_ = std::move(*Store::Open({.dir = dir_.string()}));
  }
  void TearDown() override {
    writer_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Members whose records the writer accepts from now on (besides me_), as platforms.
  void Trust(const std::vector<const TestMember*>& members) {
    std::vector<std::pair<std::string, const TestMember*>> named = {{"me", &me_}};
    for (const TestMember* m : members) named.emplace_back("m" + std::to_string(named.size()), m);
    trust_.Set(TrustFor(named));
  }

  void StartWriter() {
    OwnFeedIdentity id{me_.id(), &me_.signing_key(), me_.manifest_seq(), me_.manifest(), {}};
    writer_ = std::make_unique<Writer>(store_.get(), id, &trust_, WriterOptions{});
    writer_->AddCommitListener([this](const std::vector<ParsedRecord>& rs) {
      std::lock_guard lock(mu_);
      for (const auto& r : rs) committed_.push_back(r.seq());
    });
    // Holds the writer thread after a commit while IngestInOneBatch queues a batch.
    writer_->AddCommitListener([this](const std::vector<ParsedRecord>&) {
      std::promise<void>* held;
      std::shared_future<void> release;
      {
        std::lock_guard lock(mu_);
        held = std::exchange(held_, nullptr);
        release = release_;
      }
      if (held == nullptr) return;
      held->set_value();
      release.wait();
    });
    ASSERT_TRUE(writer_->Start().ok());
  }

  static pb::RecordBody Signal(uint32_t i) {
    pb::RecordBody body;
    body.mutable_signal()->set_type(pb::SIGNAL_TYPE_PDQ);
    body.mutable_signal()->set_value(RandomPdqHex(i));
    return body;
  }

  IngestOutcome IngestAndWait(const ParsedRecord& r) {
    std::promise<IngestOutcome> p;
    EXPECT_TRUE(writer_->Ingest(r, [&](const IngestOutcome& o) { p.set_value(o); }).ok());
    return p.get_future().get();
  }

  // Offers `records` to the writer as one batch (group commit) and returns their outcomes: the
  // writer is held after committing a publish of ours while they are queued.
  std::vector<IngestOutcome> IngestInOneBatch(const std::vector<ParsedRecord>& records) {
    std::promise<void> held, release;
    {
      std::lock_guard lock(mu_);
      held_ = &held;
      release_ = release.get_future().share();
    }
    EXPECT_TRUE(writer_->Publish(Signal(next_signal_++), nullptr).ok());
    held.get_future().wait();
    std::vector<std::promise<IngestOutcome>> done(records.size());
    for (size_t i = 0; i < records.size(); ++i) {
      EXPECT_TRUE(writer_
                      ->Ingest(records[i],
                               [&done, i](const IngestOutcome& o) { done[i].set_value(o); })
                      .ok());
    }
    release.set_value();
    std::vector<IngestOutcome> out;
    for (auto& d : done) out.push_back(d.get_future().get());
    EXPECT_EQ(writer_->stats().last_batch_size, records.size()) << "not one batch";
    return out;
  }

  TestMember me_;
  FakeTrust trust_;
  std::promise<void>* held_ = nullptr;       // GUARDED_BY(mu_)
  std::shared_future<void> release_;         // GUARDED_BY(mu_)
  uint32_t next_signal_ = 1000;
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Writer> writer_;
  std::mutex mu_;
  std::vector<uint64_t> committed_;
};

TEST_F(WriterTest, PublishesManifestFirstThenChainsRecords) {
  StartWriter();
  std::promise<Result<ParsedRecord>> p;
  ASSERT_TRUE(writer_->Publish(Signal(1), [&](Result<ParsedRecord> r) { p.set_value(r); }).ok());
  auto r = p.get_future().get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->seq(), 2u);
  auto state = store_->LoadFeedState(me_.id());
  EXPECT_EQ(state->head_seq, 2u);
  EXPECT_EQ(writer_->own_seq(), 2u);
}

TEST_F(WriterTest, ConcurrentPublishersNeverFork) {
  StartWriter();
  constexpr int kThreads = 4, kEach = 250;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  std::mutex done_mu;
  std::condition_variable done_cv;
  int done = 0;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        Status s;
        do {
          s = writer_->Publish(Signal(t * 1000 + i), [&](Result<ParsedRecord> r) {
            if (r.ok()) ok++;
            std::lock_guard lock(done_mu);
            ++done;
            done_cv.notify_all();
          });
        } while (s.code() == StatusCode::kResourceExhausted);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::unique_lock lock(done_mu);
  done_cv.wait(lock, [&] { return done == kThreads * kEach; });
  EXPECT_EQ(ok.load(), kThreads * kEach);
  // The stored feed is one unbroken chain that verifies from the start.
  FeedState state;
  auto feed = store_->ReadFeed(me_.id(), 1, 10000);
  ASSERT_EQ(feed->size(), size_t{kThreads * kEach + 1});
  for (const auto& bytes : *feed) {
    auto r = ParseRecordBytes(bytes);
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE(VerifyNextRecord(*r, state).ok()) << r->seq();
    AdvanceFeed(*r, &state);
  }
  EXPECT_LT(writer_->stats().batches, uint64_t{kThreads * kEach}) << "group commit batches";
}

TEST_F(WriterTest, IngestDropsDuplicatesAndRejectsBrokenChains) {
  StartWriter();
  TestMember bob;
  Trust({&bob});
  auto m = bob.AppendManifest();
  auto s1 = bob.AppendSignal(RandomPdqHex(7));
  auto s2 = bob.AppendSignal(RandomPdqHex(8));
  EXPECT_EQ(IngestAndWait(s1).reason, "seq 2 does not extend head 0");
  EXPECT_TRUE(IngestAndWait(m).committed());
  EXPECT_EQ(IngestAndWait(m).result, IngestResult::kDuplicate);
  EXPECT_TRUE(IngestAndWait(s1).committed());
  EXPECT_TRUE(IngestAndWait(s2).committed());
  EXPECT_EQ(store_->Head(bob.id())->value().seq, 3u);
}

TEST_F(WriterTest, EquivocationIsStoredAsProof) {
  StartWriter();
  std::vector<std::string> proofs;
  TestMember bob;
  Trust({&bob});
  auto m = bob.AppendManifest();
  auto s2 = bob.AppendSignal(RandomPdqHex(8));
  // A second record with the same seq and a different body, validly signed: a fork.
  pb::RecordBody other;
  other.mutable_signal()->set_type(pb::SIGNAL_TYPE_MD5);
  other.mutable_signal()->set_value(std::string(32, 'b'));
  auto fork = *BuildRecord(other, bob.signing_key(), bob.id(), 2, m.id, 1, NowMs());
  // And one with the same seq signed by somebody else: not a fork, a forgery.
  TestMember mallory;
  auto forged = *BuildRecord(other, mallory.signing_key(), bob.id(), 2, m.id, 1, NowMs());
  ASSERT_TRUE(IngestAndWait(m).committed());
  ASSERT_TRUE(IngestAndWait(s2).committed());
  EXPECT_EQ(IngestAndWait(forged).reason, "signature does not verify");
  EXPECT_EQ(store_->ForkSeq(bob.id())->has_value(), false);
  EXPECT_EQ(IngestAndWait(fork).reason, "equivocation at seq 2");
  EXPECT_EQ(store_->ForkSeq(bob.id())->value(), 2u);
  EXPECT_EQ(store_->Equivocations()->size(), 1u);
  EXPECT_EQ(writer_->stats().equivocations, 1u);
}

// Only an author's lowest fork is kept: a member that forks at every seq adds one proof, not one
// per seq (policy distrusts it from its first fork on anyway); a fork found lower is kept too.
TEST_F(WriterTest, OnlyTheLowestForkOfAnAuthorIsStored) {
  StartWriter();
  TestMember bob;
  Trust({&bob});
  auto m = bob.AppendManifest();
  std::vector<ParsedRecord> feed = {m};
  for (uint32_t i = 0; i < 20; ++i) feed.push_back(bob.AppendSignal(RandomPdqHex(100 + i)));
  for (const auto& r : feed) ASSERT_TRUE(IngestAndWait(r).committed());
  // A second record at each seq from 11 to 21, then one at seq 5.
  auto fork_at = [&](uint64_t seq) {
    pb::RecordBody other;
    other.mutable_signal()->set_type(pb::SIGNAL_TYPE_MD5);
    other.mutable_signal()->set_value(ToHex(Sha256(AsBytes(std::to_string(seq)))).substr(0, 32));
    return *BuildRecord(other, bob.signing_key(), bob.id(), seq, feed[seq - 2].id, 1, NowMs());
  };
  for (uint64_t seq = 11; seq <= 21; ++seq) {
    EXPECT_EQ(IngestAndWait(fork_at(seq)).reason, "equivocation at seq " + std::to_string(seq));
  }
  EXPECT_EQ(store_->Equivocations()->size(), 1u);
  EXPECT_EQ(store_->ForkSeq(bob.id())->value(), 11u);
  EXPECT_EQ(IngestAndWait(fork_at(5)).reason, "equivocation at seq 5");
  EXPECT_EQ(store_->ForkSeq(bob.id())->value(), 5u);
  EXPECT_EQ(store_->Equivocations()->size(), 2u);
  // After a restart the lowest is remembered: a fork above it is not stored.
  writer_.reset();
  StartWriter();
  EXPECT_EQ(IngestAndWait(fork_at(8)).reason, "equivocation at seq 8");
  EXPECT_EQ(store_->Equivocations()->size(), 2u);
  EXPECT_EQ(writer_->stats().equivocations, 0u);
}

TEST_F(WriterTest, DeferredManifestBlocksPublishing) {
  OwnFeedIdentity id{me_.id(), &me_.signing_key(), me_.manifest_seq(), me_.manifest(), {}};
  writer_ = std::make_unique<Writer>(store_.get(), id, nullptr,
                                     WriterOptions{.defer_own_manifest = true});
  ASSERT_TRUE(writer_->Start().ok());
  EXPECT_EQ(writer_->Publish(Signal(1), nullptr).code(), StatusCode::kUnavailable);
  EXPECT_FALSE(store_->Head(me_.id())->has_value()) << "nothing published before recovery";
  ASSERT_TRUE(writer_->PublishOwnManifest().ok());
  EXPECT_TRUE(writer_->own_feed_ready());
  EXPECT_EQ(store_->Head(me_.id())->value().seq, 1u);
}

// A peer can send records far ahead of a gap; the hold for them is bounded in bytes as well as
// in records, since one record may be 256 KiB.
TEST_F(WriterTest, HoldAheadOfAGapIsBoundedInBytes) {
  StartWriter();
  TestMember bob;
  Trust({&bob});
  bob.AppendManifest();
  bob.AppendSignal(RandomPdqHex(1));
  auto third = bob.AppendSignal(RandomPdqHex(2), std::string(100, 'l'));
  auto fourth = bob.AppendSignal(RandomPdqHex(3), std::string(100, 'l'));
  const size_t one = third.signed_record.body().size() + third.signed_record.signature().size();
  IngestPipeline pipeline(store_.get(), writer_.get(), /*max_held=*/100,
                          /*max_held_bytes=*/one + one / 2);
  EXPECT_EQ(pipeline.Offer(third, nullptr), IngestPipeline::Offered::kHeld);
  EXPECT_EQ(pipeline.Offer(fourth, nullptr), IngestPipeline::Offered::kFull);
  EXPECT_EQ(pipeline.held(), 1u);
  // Filling the gap releases the hold, and the byte budget with it.
  std::promise<void> done;
  EXPECT_EQ(pipeline.Offer(bob.feed()[0], nullptr), IngestPipeline::Offered::kQueued);
  EXPECT_EQ(pipeline.Offer(bob.feed()[1], [&](const IngestOutcome&) { done.set_value(); }),
            IngestPipeline::Offered::kQueued);
  done.get_future().wait();
  EXPECT_EQ(pipeline.held(), 0u);
  std::promise<IngestOutcome> last;
  EXPECT_EQ(pipeline.Offer(fourth, [&](const IngestOutcome& o) { last.set_value(o); }),
            IngestPipeline::Offered::kQueued);
  // The writer calls back into the pipeline: it must be done before the pipeline goes.
  EXPECT_TRUE(last.get_future().get().committed());
}

TEST_F(WriterTest, UntrustedAuthorIsRefused) {
  StartWriter();
  TestMember bob;  // not in the trust store
  IngestOutcome outcome = IngestAndWait(bob.AppendManifest());
  EXPECT_EQ(outcome.result, IngestResult::kUntrusted) << outcome.ToString();
  EXPECT_FALSE(store_->Head(bob.id())->has_value());
}

TEST_F(WriterTest, RestartContinuesTheFeed) {
  StartWriter();
  std::promise<void> p;
  ASSERT_TRUE(writer_->Publish(Signal(1), [&](Result<ParsedRecord>) { p.set_value(); }).ok());
  p.get_future().get();
  writer_.reset();
  StartWriter();  // manifest already in the feed: not published again
  std::promise<uint64_t> q;
  ASSERT_TRUE(writer_->Publish(Signal(2), [&](Result<ParsedRecord> r) { q.set_value(r->seq()); }).ok());
  EXPECT_EQ(q.get_future().get(), 3u);
}

// Issue #13: a node catching up gets a signal and its retraction in one group commit. The
// retraction's target must be found among the records staged before it in the same transaction.
TEST_F(WriterTest, SignalAndItsRetractionInOneBatchAreBothAccepted) {
  StartWriter();
  TestMember bob, carol;
  Trust({&bob, &carol});
  ParsedRecord manifest = bob.AppendManifest();
  ParsedRecord signal = bob.AppendSignal(RandomPdqHex(1));
  ParsedRecord retraction = bob.AppendRetraction(signal.id);
  // carol retracting bob's signal, staged in the same batch, is still refused.
  ParsedRecord carol_manifest = carol.AppendManifest();
  ParsedRecord foreign = carol.AppendRetraction(signal.id);
  auto outcomes = IngestInOneBatch({manifest, signal, retraction, carol_manifest, foreign});
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_TRUE(outcomes[i].committed()) << i << ": " << outcomes[i].ToString();
  }
  EXPECT_EQ(outcomes[4].result, IngestResult::kNotAllowed) << outcomes[4].ToString();
  EXPECT_EQ(store_->Head(bob.id())->value().seq, 3u);
  auto refs = store_->FindRefs(signal.id);
  ASSERT_TRUE(refs.ok());
  EXPECT_EQ(*refs, (std::vector<RecordLocation>{{bob.id(), 3}}));
}

// The same valid feeds committed in random batch splits (and interleavings of their authors)
// end in the same store: acceptance does not depend on what shares a transaction.
TEST_F(WriterTest, AnyBatchSplitGivesTheSameState) {
  TestMember bob, carol;
  Trust({&bob, &carol});
  std::vector<ParsedRecord> b, c;
  b.push_back(bob.AppendManifest());
  for (uint32_t i = 0; i < 6; ++i) b.push_back(bob.AppendSignal(RandomPdqHex(10 + i)));
  b.push_back(bob.AppendRetraction(b[2].id));
  b.push_back(bob.AppendRetraction(b[6].id));
  b.push_back(bob.AppendSignal(RandomPdqHex(20)));
  b.push_back(bob.AppendRetraction(b.back().id));
  c.push_back(carol.AppendManifest());
  c.push_back(carol.AppendSignal(RandomPdqHex(30)));
  c.push_back(carol.AppendRetraction(c[1].id));
  c.push_back(carol.AppendSignal(RandomPdqHex(31)));
  c.push_back(carol.AppendOpinion(b[1].id, pb::STANCE_ENDORSE));
  c.push_back(carol.Rotate(/*compromised_after=*/3));
  c.push_back(carol.AppendSignal(RandomPdqHex(32)));
  c.push_back(carol.AppendRetraction(c.back().id));
  c.push_back(carol.AppendRetraction(c[3].id));
  const std::vector<ParsedRecord> retractions = {b[7], b[8], b[10], c[2], c[7], c[8]};

  // What the store holds of both feeds: every record id, and what references each.
  auto state = [&] {
    std::string out;
    for (const TestMember* m : {&bob, &carol}) {
      auto feed = store_->ReadFeed(m->id(), 1, 100);
      EXPECT_TRUE(feed.ok());
      for (const auto& bytes : *feed) out += ToHex(ParseRecordBytes(bytes)->id) + ",";
      out += ";";
    }
    for (const auto& r : retractions) {
      RecordId target{};
      const std::string& raw = r.body.retraction().target();
      std::copy(raw.begin(), raw.end(), target.begin());
      auto refs = store_->FindRefs(target);
      EXPECT_TRUE(refs.ok());
      for (const auto& loc : refs.value()) out += std::to_string(loc.seq) + " ";
    }
    return out;
  };

  std::string first;
  for (uint32_t seed : {1u, 2u, 3u, 7u, 11u, 42u, 1234u, 99991u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    writer_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
    store_ = std::move(*Store::Open({.dir = dir_.string()}));
    StartWriter();
    std::mt19937 rng(seed);
    // A random interleaving that keeps each feed in order, cut into batches of 1 to 6.
    std::vector<ParsedRecord> order;
    size_t i = 0, j = 0;
    while (i < b.size() || j < c.size()) {
      bool take_b = j == c.size() || (i < b.size() && rng() % 2 == 0);
      order.push_back(take_b ? b[i++] : c[j++]);
    }
    for (size_t at = 0; at < order.size();) {
      size_t n = std::min<size_t>(1 + rng() % 6, order.size() - at);
      std::vector<ParsedRecord> batch(order.begin() + at, order.begin() + at + n);
      auto outcomes = IngestInOneBatch(batch);
      for (size_t k = 0; k < n; ++k) {
        EXPECT_TRUE(outcomes[k].committed()) << batch[k].DebugString() << ": "
                                             << outcomes[k].ToString();
      }
      at += n;
    }
    EXPECT_EQ(store_->Head(bob.id())->value().seq, b.size());
    EXPECT_EQ(store_->Head(carol.id())->value().seq, c.size());
    const std::string now = state();
    if (first.empty()) first = now;
    EXPECT_EQ(now, first);
  }
}

// The ban decision reads the typed outcome: forgery from anyone, a forbidden record only from
// the author's own node; never a gap, a stale record, a fork, or a store error.
TEST(WriterOutcomeTest, OnlyForgeriesAndTheAuthorsOwnForbiddenRecordsBlameTheSender) {
  for (bool own : {false, true}) {
    EXPECT_TRUE(BlamesSender({IngestResult::kBadSignature, "x"}, own));
    EXPECT_EQ(BlamesSender({IngestResult::kNotAllowed, "x"}, own), own);
    for (IngestResult r : {IngestResult::kCommitted, IngestResult::kDuplicate, IngestResult::kFork,
                           IngestResult::kGap, IngestResult::kInvalidChain,
                           IngestResult::kUntrusted, IngestResult::kStoreError}) {
      EXPECT_FALSE(BlamesSender({r, "x"}, own)) << IngestResultName(r);
    }
  }
  EXPECT_EQ(OutcomeOf({Verdict::kForeignTarget, "r"}).result, IngestResult::kNotAllowed);
  EXPECT_EQ(OutcomeOf({Verdict::kBadManifest, "r"}).result, IngestResult::kBadSignature);
  EXPECT_EQ(OutcomeOf({Verdict::kUnreadable, "r"}).result, IngestResult::kStoreError);
}

}  // namespace
}  // namespace hashmesh
