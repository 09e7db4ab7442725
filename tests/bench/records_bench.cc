// Record signing and verification against the raw libsodium verify rate (the baseline, measured
// in the same run), and store ingest with group commit against one record per transaction.
// Run: build/bin/bench_records  (see docs/benchmarks.md for figures)
#include <benchmark/benchmark.h>
#include <sodium.h>

#include <filesystem>
#include <future>

#include "daemon/storage/writer.h"
#include "tests/support/test_member.h"
#include "tests/support/test_trust.h"

namespace hashmesh {
namespace {

using testing::RandomPdqHex;
using testing::TestMember;

pb::RecordBody SignalBody(uint32_t i) {
  pb::RecordBody body;
  body.mutable_signal()->set_type(pb::SIGNAL_TYPE_PDQ);
  body.mutable_signal()->set_value(RandomPdqHex(i));
  body.mutable_signal()->add_labels("terrorism/glorification");
  return body;
}

void BM_SignRecord(benchmark::State& state) {
  InitCrypto();
  TestMember alice;
  uint32_t i = 0;
  for (auto _ : state) {
    auto r = BuildRecord(SignalBody(i++), alice.signing_key(), alice.id(), 2, RecordId{}, 1, 0);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SignRecord);

// The ceiling: libsodium's Ed25519 verify on a message of the same size as a record body.
void BM_RawEd25519Verify(benchmark::State& state) {
  InitCrypto();
  TestMember alice;
  auto r = *BuildRecord(SignalBody(1), alice.signing_key(), alice.id(), 2, RecordId{}, 1, 0);
  std::string msg = std::string(kRecordPurpose) + '\0' + r.signed_record.body();
  const auto& sig = r.signed_record.signature();
  const PublicKey pk = alice.signing_key().public_key();
  for (auto _ : state) {
    int ok = crypto_sign_verify_detached(reinterpret_cast<const uint8_t*>(sig.data()),
                                         reinterpret_cast<const uint8_t*>(msg.data()), msg.size(),
                                         pk.data());
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawEd25519Verify);

// What a node does per received record: parse, id, chain and signature check.
void BM_ParseAndVerifyRecord(benchmark::State& state) {
  InitCrypto();
  TestMember alice;
  auto m = alice.AppendManifest();
  auto s = alice.AppendSignal(RandomPdqHex(3));
  FeedState feed;
  AdvanceFeed(m, &feed);
  const std::string bytes = s.signed_record.SerializeAsString();
  for (auto _ : state) {
    auto r = ParseRecordBytes(bytes);
    Status ok = VerifyNextRecord(*r, feed);
    benchmark::DoNotOptimize(ok);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseAndVerifyRecord);

class TempStore {
 public:
  TempStore() {
    dir_ = std::filesystem::temp_directory_path() / ("bench_store_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    store_ = std::move(*Store::Open({.dir = dir_.string(), .initial_map_bytes = 1ull << 30}));
  }
  ~TempStore() {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  Store* get() { return store_.get(); }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
};

// Durable ingest through the Writer: records from another member, batched into transactions.
void BM_IngestGroupCommit(benchmark::State& state) {
  InitCrypto();
  const int n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    TempStore store;
    TestMember me, bob;
    bob.AppendManifest();
    for (int i = 1; i < n; ++i) bob.AppendSignal(RandomPdqHex(i));
    TrustStore trust;
    (void)trust.Add({"bob", bob.id(), {Role::kPlatform}, ""});
    testing::FakeTrust trust_source;
    trust_source.Set(std::move(trust));
    Writer writer(store.get(), {me.id(), &me.signing_key(), 1, me.manifest(), {}}, &trust_source,
                  {});
    (void)writer.Start();
    state.ResumeTiming();
    std::promise<void> done;
    std::atomic<int> left{n};
    for (const auto& r : bob.feed()) {
      while (writer.Ingest(r, [&](const IngestOutcome&) {
               if (--left == 0) done.set_value();
             }).code() == StatusCode::kResourceExhausted) {
      }
    }
    done.get_future().wait();
    state.counters["batches"] = static_cast<double>(writer.stats().batches);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_IngestGroupCommit)->Arg(10000)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same records, one durable transaction each.
void BM_IngestOnePerTransaction(benchmark::State& state) {
  InitCrypto();
  const int n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    TempStore store;
    TestMember bob;
    bob.AppendManifest();
    for (int i = 1; i < n; ++i) bob.AppendSignal(RandomPdqHex(i));
    state.ResumeTiming();
    for (const auto& r : bob.feed()) {
      Status s = store.get()->Write([&](StoreBatch& b) { return b.PutRecord(r); });
      benchmark::DoNotOptimize(s);
    }
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_IngestOnePerTransaction)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace hashmesh

BENCHMARK_MAIN();
