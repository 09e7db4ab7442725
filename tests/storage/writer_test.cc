// The writer: own-feed sequencing under concurrency, group commit, ingest checks.
#include "daemon/storage/writer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <future>

#include "daemon/sync/ingest_pipeline.h"
#include "tests/support/test_member.h"

namespace hashmesh {
namespace {

using testing::RandomPdqHex;
using testing::TestMember;

class WriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitCrypto());
    dir_ = std::filesystem::temp_directory_path() /
           ("writer_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    store_ = std::move(*Store::Open({.dir = dir_.string()}));
  }
  void TearDown() override {
    writer_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void StartWriter(IngestCheck check = nullptr) {
    OwnFeedIdentity id{me_.id(), &me_.signing_key(), me_.manifest_seq(), me_.manifest(), {}};
    writer_ = std::make_unique<Writer>(store_.get(), id, check, WriterOptions{});
    writer_->AddCommitListener([this](const std::vector<ParsedRecord>& rs) {
      std::lock_guard lock(mu_);
      for (const auto& r : rs) committed_.push_back(r.seq());
    });
    ASSERT_TRUE(writer_->Start().ok());
  }

  static pb::RecordBody Signal(uint32_t i) {
    pb::RecordBody body;
    body.mutable_signal()->set_type(pb::SIGNAL_TYPE_PDQ);
    body.mutable_signal()->set_value(RandomPdqHex(i));
    return body;
  }

  TestMember me_;
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
  auto m = bob.AppendManifest();
  auto s1 = bob.AppendSignal(RandomPdqHex(7));
  auto s2 = bob.AppendSignal(RandomPdqHex(8));
  auto ingest = [&](const ParsedRecord& r) {
    std::promise<Status> p;
    EXPECT_TRUE(writer_->Ingest(r, [&](Status s) { p.set_value(s); }).ok());
    return p.get_future().get();
  };
  EXPECT_EQ(ingest(s1).message(), "seq 2 does not extend head 0");
  EXPECT_TRUE(ingest(m).ok());
  EXPECT_EQ(ingest(m).code(), StatusCode::kAlreadyExists);
  EXPECT_TRUE(ingest(s1).ok());
  EXPECT_TRUE(ingest(s2).ok());
  EXPECT_EQ(store_->Head(bob.id())->value().seq, 3u);
}

TEST_F(WriterTest, EquivocationIsStoredAsProof) {
  StartWriter();
  std::vector<std::string> proofs;
  TestMember bob;
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
  auto ingest = [&](const ParsedRecord& r) {
    std::promise<Status> p;
    EXPECT_TRUE(writer_->Ingest(r, [&](Status s) { p.set_value(s); }).ok());
    return p.get_future().get();
  };
  ASSERT_TRUE(ingest(m).ok());
  ASSERT_TRUE(ingest(s2).ok());
  EXPECT_EQ(ingest(forged).message(), "signature does not verify");
  EXPECT_EQ(store_->ForkSeq(bob.id())->has_value(), false);
  EXPECT_EQ(ingest(fork).message(), "equivocation at seq 2");
  EXPECT_EQ(store_->ForkSeq(bob.id())->value(), 2u);
  EXPECT_EQ(store_->Equivocations()->size(), 1u);
  EXPECT_EQ(writer_->stats().equivocations, 1u);
}

// Only an author's lowest fork is kept: a member that forks at every seq adds one proof, not one
// per seq (policy distrusts it from its first fork on anyway); a fork found lower is kept too.
TEST_F(WriterTest, OnlyTheLowestForkOfAnAuthorIsStored) {
  StartWriter();
  TestMember bob;
  auto m = bob.AppendManifest();
  std::vector<ParsedRecord> feed = {m};
  for (uint32_t i = 0; i < 20; ++i) feed.push_back(bob.AppendSignal(RandomPdqHex(100 + i)));
  auto ingest = [&](const ParsedRecord& r) {
    std::promise<Status> p;
    EXPECT_TRUE(writer_->Ingest(r, [&](Status s) { p.set_value(s); }).ok());
    return p.get_future().get();
  };
  for (const auto& r : feed) ASSERT_TRUE(ingest(r).ok());
  // A second record at each seq from 11 to 21, then one at seq 5.
  auto fork_at = [&](uint64_t seq) {
    pb::RecordBody other;
    other.mutable_signal()->set_type(pb::SIGNAL_TYPE_MD5);
    other.mutable_signal()->set_value(ToHex(Sha256(AsBytes(std::to_string(seq)))).substr(0, 32));
    return *BuildRecord(other, bob.signing_key(), bob.id(), seq, feed[seq - 2].id, 1, NowMs());
  };
  for (uint64_t seq = 11; seq <= 21; ++seq) {
    EXPECT_EQ(ingest(fork_at(seq)).message(), "equivocation at seq " + std::to_string(seq));
  }
  EXPECT_EQ(store_->Equivocations()->size(), 1u);
  EXPECT_EQ(store_->ForkSeq(bob.id())->value(), 11u);
  EXPECT_EQ(ingest(fork_at(5)).message(), "equivocation at seq 5");
  EXPECT_EQ(store_->ForkSeq(bob.id())->value(), 5u);
  EXPECT_EQ(store_->Equivocations()->size(), 2u);
  // After a restart the lowest is remembered: a fork above it is not stored.
  writer_.reset();
  StartWriter();
  EXPECT_EQ(ingest(fork_at(8)).message(), "equivocation at seq 8");
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
  EXPECT_EQ(pipeline.Offer(bob.feed()[1], [&](Status) { done.set_value(); }),
            IngestPipeline::Offered::kQueued);
  done.get_future().wait();
  EXPECT_EQ(pipeline.held(), 0u);
  std::promise<Status> last;
  EXPECT_EQ(pipeline.Offer(fourth, [&](Status s) { last.set_value(s); }),
            IngestPipeline::Offered::kQueued);
  // The writer calls back into the pipeline: it must be done before the pipeline goes.
  EXPECT_TRUE(last.get_future().get().ok());
}

TEST_F(WriterTest, IngestCheckCanRefuse) {
  StartWriter([](const ParsedRecord& r, const FeedState&) {
    return PermissionDenied("author not in the trust store");
  });
  TestMember bob;
  std::promise<Status> p;
  ASSERT_TRUE(writer_->Ingest(bob.AppendManifest(), [&](Status s) { p.set_value(s); }).ok());
  EXPECT_EQ(p.get_future().get().message(), "author not in the trust store");
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

}  // namespace
}  // namespace hashmesh
