// Benchmark set-up: a node's own feed of PDQ signals written straight into its LMDB store.
// The chain is built in order (each prev is the id of the body before), the signatures in parallel.
#include "tests/bench/bench_feed.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "common/clock.h"
#include "common/record.h"
#include "keys/record_acceptance.h"
#include "daemon/storage/store.h"

namespace hashmesh::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Records per LMDB transaction: large enough that the durable commit is amortised, small enough
// that the signed records of one chunk stay a few tens of MB.
constexpr size_t kChunk = 1 << 16;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

pb::RecordBody SignalBody(const PdqHash& hash) {
  pb::RecordBody body;
  pb::Signal* s = body.mutable_signal();
  s->set_type(pb::SIGNAL_TYPE_PDQ);
  s->set_value(hash.ToHex());
  s->add_labels("bench/e2e");
  s->set_quality(100);  // above kPdqMinQuality: every signal takes part in matching
  return body;
}

// Signs and parses bodies[i] into out[i] for i in [begin, end); the first error wins.
Status SignRange(const std::vector<std::string>& bodies, const SecretKey& key, size_t begin,
                 size_t end, std::vector<ParsedRecord>* out) {
  for (size_t i = begin; i < end; ++i) {
    pb::SignedRecord signed_record;
    signed_record.set_body(bodies[i]);
    Signature sig = key.Sign(kRecordPurpose, bodies[i]);
    signed_record.set_signature(std::string(AsStringView(sig)));
    HM_ASSIGN_OR_RETURN((*out)[i], ParseRecord(std::move(signed_record)));
  }
  return Status::Ok();
}

}  // namespace

Result<FeedWriteStats> WriteSignalFeed(const std::string& data_dir, const NodeIdentity& identity,
                                       const std::vector<PdqHash>& hashes, int threads) {
  FeedWriteStats stats;
  // A map that holds the whole feed from the start: no doubling and retried batches.
  HM_ASSIGN_OR_RETURN(auto store,
                      Store::Open({.dir = data_dir, .initial_map_bytes = uint64_t{4} << 30}));
  const PublicKey& author = identity.member_key();
  const uint32_t manifest_seq = identity.manifest.seq;
  const uint64_t created_at = NowMs();
  threads = std::max(threads, 1);

  std::optional<RecordId> prev;
  FeedState check_state;  // the first chunk's records are verified as a peer would
  const size_t total = hashes.size() + 1;
  for (size_t first = 0; first < total; first += kChunk) {
    const size_t n = std::min(kChunk, total - first);
    auto t = Clock::now();
    std::vector<std::string> bodies(n);
    for (size_t j = 0; j < n; ++j) {
      const uint64_t seq = first + j + 1;
      pb::RecordBody body;
      if (seq == 1) {
        if (!body.mutable_manifest()->ParseFromString(identity.manifest_bytes)) {
          return Corruption("manifest.bin does not parse");
        }
      } else {
        body = SignalBody(hashes[seq - 2]);
      }
      bodies[j] = SealRecordBody(std::move(body), author, seq, prev, manifest_seq, created_at);
      prev = ComputeRecordId(bodies[j]);
    }
    stats.build_seconds += Since(t);

    t = Clock::now();
    std::vector<ParsedRecord> records(n);
    std::vector<Status> results(threads);
    std::vector<std::thread> workers;
    const size_t per = (n + threads - 1) / threads;
    for (int w = 1; w < threads; ++w) {
      const size_t b = std::min(n, w * per), e = std::min(n, b + per);
      workers.emplace_back(
          [&, w, b, e] { results[w] = SignRange(bodies, identity.node_key, b, e, &records); });
    }
    results[0] = SignRange(bodies, identity.node_key, 0, std::min(n, per), &records);
    for (auto& w : workers) w.join();
    for (const Status& s : results) HM_RETURN_IF_ERROR(s);
    if (first == 0) {
      for (size_t j = 0; j < std::min<size_t>(n, 16); ++j) {
        HM_RETURN_IF_ERROR(VerifyNextRecord(records[j], check_state).WithContext("bench feed"));
        AdvanceFeed(records[j], &check_state);
      }
    }
    stats.sign_seconds += Since(t);

    t = Clock::now();
    HM_RETURN_IF_ERROR(store->Write([&](StoreBatch& batch) {
      for (const ParsedRecord& r : records) HM_RETURN_IF_ERROR(batch.PutRecord(r));
      return Status::Ok();
    }));
    stats.write_seconds += Since(t);
    stats.records += n;
  }
  store.reset();
  struct stat st {};
  if (stat((data_dir + "/data.mdb").c_str(), &st) == 0) {
    stats.data_bytes = static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return stats;
}

}  // namespace hashmesh::bench
