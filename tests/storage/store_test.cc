// The LMDB store: schema, reopen, lookups, map growth.
#include "daemon/storage/store.h"

#include <gtest/gtest.h>
#include <lmdb.h>

#include <filesystem>
#include <functional>

#include "tests/support/test_dir.h"
#include "tests/support/test_member.h"

namespace hashmesh {
namespace {

using testing::RandomPdqHex;
using testing::TestMember;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitCrypto());
    dir_ = testing::FreshTestDir("store_test");
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

// Edits a closed store's LMDB files directly, the way another release of hashmeshd would have.
void EditRaw(const std::filesystem::path& dir, const std::function<void(MDB_txn*)>& edit) {
  MDB_env* env;
  mdb_env_create(&env);
  mdb_env_set_maxdbs(env, 16);
  ASSERT_EQ(mdb_env_open(env, dir.c_str(), 0, 0600), 0);
  MDB_txn* txn;
  mdb_txn_begin(env, nullptr, 0, &txn);
  edit(txn);
  EXPECT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
}

void PutSchemaVersion(MDB_txn* txn, const std::string& version) {
  MDB_dbi meta;
  ASSERT_EQ(mdb_dbi_open(txn, "meta", 0, &meta), 0);
  MDB_val k{14, const_cast<char*>("schema_version")};
  MDB_val v{version.size(), const_cast<char*>(version.data())};
  ASSERT_EQ(mdb_put(txn, meta, &k, &v, 0), 0);
}

TEST_F(StoreTest, OtherSchemaVersionRefused) {
  { OpenStore(); }
  EditRaw(dir_, [](MDB_txn* txn) { PutSchemaVersion(txn, "99"); });

  auto s = Store::Open({.dir = dir_.string()});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("schema version 99"), std::string::npos);
}

// A notice naming a signal record and carrying fingerprints inline (one of them twice).
pb::RecordBody NoticeBody(const RecordId& target, const std::string& pdq, const std::string& md5) {
  pb::RecordBody body;
  pb::Notice* notice = body.mutable_notice();
  notice->add_targets()->set_record_id(std::string(AsStringView(target)));
  for (const auto& [type, value] : {std::pair{pb::SIGNAL_TYPE_PDQ, pdq},
                                    {pb::SIGNAL_TYPE_MD5, md5},
                                    {pb::SIGNAL_TYPE_PDQ, pdq}}) {
    pb::Signal* s = notice->add_targets()->mutable_signal();
    s->set_type(type);
    s->set_value(value);
  }
  notice->set_category("terrorism");
  notice->set_jurisdiction("FR");
  notice->set_requested_action(pb::REQUESTED_ACTION_REMOVE);
  return body;
}

// Where a notice's inline fingerprints are found, in `store` (seq 2 is a signal, 3 the notice).
std::string WhereNoticeFingerprintsAre(const Store& store, const std::string& signal_pdq,
                                       const std::string& notice_pdq, const std::string& md5) {
  std::string out;
  for (const auto& [kind, value] : {std::pair{SignalKind::kPdq, notice_pdq},
                                    {SignalKind::kMd5, md5}}) {
    auto found = store.FindSignals(kind, value);
    out += "find:";
    if (!found.ok()) return found.status().ToString();
    for (const auto& l : *found) out += std::to_string(l.seq);
    out += " ";
  }
  out += "pdq:";
  EXPECT_TRUE(store.ForEachPdqSignal([&](const RecordLocation& l, const PdqHash& h) {
                     out += (h.ToHex() == signal_pdq   ? "signal@"
                             : h.ToHex() == notice_pdq ? "notice@"
                                                       : "other@") +
                            std::to_string(l.seq) + ",";
                   }).ok());
  return out;
}

TEST_F(StoreTest, FingerprintsInsideNoticesAreIndexed) {
  TestMember gov;
  gov.AppendManifest();
  const std::string signal_pdq = RandomPdqHex(1), notice_pdq = RandomPdqHex(2);
  const std::string md5 = std::string(32, 'c');
  auto sig = gov.AppendSignal(signal_pdq);
  auto notice = gov.Append(NoticeBody(sig.id, notice_pdq, md5));
  auto store = OpenStore();
  ASSERT_TRUE(PutAll(store.get(), gov.feed()).ok());
  std::string where = WhereNoticeFingerprintsAre(*store, signal_pdq, notice_pdq, md5);
  // The PDQ order is the key order (the hashes' bytes), not the feed's.
  EXPECT_TRUE(where == "find:3 find:3 pdq:signal@2,notice@3," ||
              where == "find:3 find:3 pdq:notice@3,signal@2,")
      << where;
  auto refs = store->FindRefs(sig.id);
  ASSERT_TRUE(refs.ok());
  ASSERT_EQ(refs->size(), 1u);
  EXPECT_EQ((*refs)[0].seq, 3u);
}

// A store written by schema 1 (notices' fingerprints not indexed) is upgraded when opened.
TEST_F(StoreTest, SchemaOneStoreIsUpgradedAtOpen) {
  TestMember gov;
  gov.AppendManifest();
  const std::string signal_pdq = RandomPdqHex(3), notice_pdq = RandomPdqHex(4);
  const std::string md5 = std::string(32, 'd');
  auto sig = gov.AppendSignal(signal_pdq);
  gov.Append(NoticeBody(sig.id, notice_pdq, md5));
  {
    auto store = OpenStore();
    ASSERT_TRUE(PutAll(store.get(), gov.feed()).ok());
  }
  // What schema 1 wrote: no signals entries for the notice, version "1".
  EditRaw(dir_, [&](MDB_txn* txn) {
    MDB_dbi signals;
    ASSERT_EQ(mdb_dbi_open(txn, "signals", MDB_DUPSORT, &signals), 0);
    for (const auto& key : {"\x01" + std::string(AsStringView(*FromHex(notice_pdq))),
                            "\x02" + std::string(AsStringView(*FromHex(md5)))}) {
      MDB_val k{key.size(), const_cast<char*>(key.data())};
      ASSERT_EQ(mdb_del(txn, signals, &k, nullptr), 0) << "key layout changed?";
    }
    PutSchemaVersion(txn, "1");
  });
  {
    auto store = OpenStore();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(WhereNoticeFingerprintsAre(*store, signal_pdq, notice_pdq, md5).substr(0, 14),
              "find:3 find:3 ");
    EXPECT_EQ(store->Stats()->signals, 3u);
  }
  // The upgrade is done once: the version is now current.
  EditRaw(dir_, [](MDB_txn* txn) {
    MDB_dbi meta;
    ASSERT_EQ(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    MDB_val k{14, const_cast<char*>("schema_version")}, v;
    ASSERT_EQ(mdb_get(txn, meta, &k, &v), 0);
    EXPECT_EQ(std::string(static_cast<char*>(v.mv_data), v.mv_size),
              std::to_string(kSchemaVersion));
  });
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

// Map full is a value of the batch, not a message: a callback that wraps or rewrites the error
// still gets the map grown and its batch run again; another error is returned as it is.
TEST_F(StoreTest, MapFullIsReadFromTheBatchNotTheMessage) {
  TestMember alice;
  alice.AppendManifest();
  for (int i = 0; i < 3000; ++i) alice.AppendSignal(RandomPdqHex(100 + i), std::string(200, 'l'));
  auto store = OpenStore(/*map_bytes=*/256 * 1024);
  int runs = 0;
  bool saw_full = false;
  Status s = store->Write([&](StoreBatch& b) -> Status {
    ++runs;
    for (const auto& r : alice.feed()) {
      Status put = b.PutRecord(r);
      if (!put.ok()) {
        saw_full = saw_full || b.map_full();
        return Internal("something else entirely");
      }
    }
    return Status::Ok();
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(saw_full);
  EXPECT_GT(runs, 1);
  EXPECT_EQ(store->Stats()->records, 3001u);
  Status other = store->Write([](StoreBatch&) { return ResourceExhausted("MDB_MAP_FULL"); });
  EXPECT_EQ(other.message(), "MDB_MAP_FULL") << "a text alone is not a full map";
}

TEST_F(StoreTest, LongSignalValuesAreHashedIntoKeys) {
  std::string url = "https://example.com/" + std::string(2000, 'a');
  EXPECT_LE(SignalKey(SignalKind::kUrl, url).size(), 34u);
  EXPECT_EQ(SignalKey(SignalKind::kMd5, std::string(32, '0')).size(), 17u);
  EXPECT_NE(SignalKey(SignalKind::kUrl, url), SignalKey(SignalKind::kUrl, url + "b"));
}

}  // namespace
}  // namespace hashmesh
