// The LMDB store: schema, reopen, lookups, map growth.
#include "daemon/store.h"

#include <gtest/gtest.h>
#include <lmdb.h>

#include <filesystem>

#include "tests/common/test_member.h"

namespace hashmesh {
namespace {

using testing::RandomPdqHex;
using testing::TestMember;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitCrypto());
    dir_ = std::filesystem::temp_directory_path() /
           ("store_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Store> OpenStore(uint64_t map_bytes = 64ull << 20) {
    auto s = Store::Open({.dir = dir_.string(), .initial_map_bytes = map_bytes});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  static Status PutAll(Store* store, const std::vector<ParsedRecord>& records) {
    return store->Write([&](StoreBatch& b) {
      for (const auto& r : records) HM_RETURN_IF_ERROR(b.PutRecord(r));
      return Status::Ok();
    });
  }

  std::filesystem::path dir_;
};

TEST_F(StoreTest, ReopenKeepsEverything) {
  TestMember alice;
  alice.AppendManifest();
  const std::string pdq = RandomPdqHex(9);
  auto sig = alice.AppendSignal(pdq);
  auto op = alice.AppendOpinion(sig.id, pb::STANCE_ENDORSE);
  {
    auto store = OpenStore();
    ASSERT_TRUE(PutAll(store.get(), alice.feed()).ok());
  }
  auto store = OpenStore();
  auto head = store->Head(alice.id());
  ASSERT_TRUE(head.ok() && head->has_value());
  EXPECT_EQ((*head)->seq, 3u);
  EXPECT_EQ((*head)->id, op.id);
  auto loc = store->LocateId(sig.id);
  ASSERT_TRUE(loc.ok() && loc->has_value());
  EXPECT_EQ((**loc).seq, 2u);
  auto bytes = store->GetRecord(**loc);
  ASSERT_TRUE(bytes.ok() && bytes->has_value());
  EXPECT_EQ(**bytes, sig.signed_record.SerializeAsString());
  auto found = store->FindSignals(SignalKind::kPdq, pdq);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].seq, 2u);
  auto refs = store->FindRefs(sig.id);
  ASSERT_TRUE(refs.ok());
  ASSERT_EQ(refs->size(), 1u);
  EXPECT_EQ((*refs)[0].seq, 3u);
  auto state = store->LoadFeedState(alice.id());
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->head_seq, 3u);
  EXPECT_EQ(state->manifests.count(1), 1u);
  int pdqs = 0;
  ASSERT_TRUE(store->ForEachPdqSignal([&](const RecordLocation& l, const PdqHash& h) {
                     EXPECT_EQ(h.ToHex(), pdq);
                     EXPECT_EQ(l.seq, 2u);
                     ++pdqs;
                   }).ok());
  EXPECT_EQ(pdqs, 1);
  auto feed = store->ReadFeed(alice.id(), 2, 10);
  ASSERT_TRUE(feed.ok());
  EXPECT_EQ(feed->size(), 2u);
  EXPECT_EQ(store->Stats()->records, 3u);
}

TEST_F(StoreTest, DuplicateSeqRefused) {
  TestMember alice;
  auto m = alice.AppendManifest();
  auto store = OpenStore();
  ASSERT_TRUE(PutAll(store.get(), {m}).ok());
  EXPECT_EQ(PutAll(store.get(), {m}).code(), StatusCode::kAlreadyExists);
}

TEST_F(StoreTest, OtherSchemaVersionRefused) {
  { OpenStore(); }
  // Rewrite the schema version the way a future release would.
  MDB_env* env;
  mdb_env_create(&env);
  mdb_env_set_maxdbs(env, 16);
  ASSERT_EQ(mdb_env_open(env, dir_.c_str(), 0, 0600), 0);
  MDB_txn* txn;
  mdb_txn_begin(env, nullptr, 0, &txn);
  MDB_dbi meta;
  mdb_dbi_open(txn, "meta", 0, &meta);
  MDB_val k{14, const_cast<char*>("schema_version")}, v{2, const_cast<char*>("99")};
  mdb_put(txn, meta, &k, &v, 0);
  mdb_txn_commit(txn);
  mdb_env_close(env);

  auto s = Store::Open({.dir = dir_.string()});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("schema version 99"), std::string::npos);
}

TEST_F(StoreTest, MapGrowsWithoutLosingTheBatch) {
  TestMember alice;
  alice.AppendManifest();
  for (int i = 0; i < 3000; ++i) alice.AppendSignal(RandomPdqHex(100 + i), std::string(200, 'l'));
  auto store = OpenStore(/*map_bytes=*/256 * 1024);
  ASSERT_TRUE(PutAll(store.get(), alice.feed()).ok());
  auto stats = store->Stats();
  EXPECT_EQ(stats->records, 3001u);
  EXPECT_GT(stats->map_size_bytes, 256u * 1024);
  store.reset();
  EXPECT_EQ(OpenStore()->Stats()->records, 3001u);
  // Reopened with the small initial size, the map keeps the size it grew to.
  EXPECT_GE(OpenStore(/*map_bytes=*/256 * 1024)->Stats()->map_size_bytes, stats->map_size_bytes);
}

TEST_F(StoreTest, LongSignalValuesAreHashedIntoKeys) {
  std::string url = "https://example.com/" + std::string(2000, 'a');
  EXPECT_LE(SignalKey(SignalKind::kUrl, url).size(), 34u);
  EXPECT_EQ(SignalKey(SignalKind::kMd5, std::string(32, '0')).size(), 17u);
  EXPECT_NE(SignalKey(SignalKind::kUrl, url), SignalKey(SignalKind::kUrl, url + "b"));
}

}  // namespace
}  // namespace hashmesh
