// Feed building in two phases: the chain is sequential but cheap, the signatures parallel.
#include "tests/support/feed_builder.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "keys/record_acceptance.h"

namespace hashmesh::testing {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

void ParallelFor(size_t n, int threads, const std::function<void(size_t)>& fn) {
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < n; i = next++) fn(i);
  };
  std::vector<std::thread> helpers;
  for (int t = 1; t < threads; ++t) helpers.emplace_back(work);
  work();
  for (auto& h : helpers) h.join();
}

Result<std::vector<ParsedRecord>> BuildFeedRecords(
    const FeedSigner& signer, uint64_t first_seq, uint64_t count, std::optional<RecordId>* prev,
    uint64_t created_at_ms, const std::function<pb::RecordBody(uint64_t seq)>& body_of,
    int threads, FeedBuildTimes* times) {
  // Phase 1, sequential: each body names the id of the one before it.
  auto t = Clock::now();
  std::vector<pb::SignedRecord> signed_records(count);
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t seq = first_seq + i;
    pb::RecordBody body;
    if (seq == 1) {
      if (!body.mutable_manifest()->ParseFromString(signer.manifest)) {
        return InvalidArgument("signer's manifest does not parse");
      }
    } else {
      body = body_of(seq);
    }
    std::string bytes = SealRecordBody(std::move(body), signer.author, seq, *prev,
                                       signer.manifest_seq, created_at_ms);
    *prev = ComputeRecordId(bytes);
    signed_records[i].set_body(std::move(bytes));
  }
  if (times != nullptr) times->chain_seconds += Since(t);

  // Phase 2, parallel: signatures, then the same structural parse as for anything received.
  t = Clock::now();
  std::vector<ParsedRecord> out(count);
  std::mutex error_mu;
  Status error;
  ParallelFor(count, std::max(threads, 1), [&](size_t i) {
    Signature sig = signer.signing_key->Sign(kRecordPurpose, signed_records[i].body());
    signed_records[i].set_signature(std::string(AsStringView(sig)));
    auto parsed = ParseRecord(std::move(signed_records[i]));
    if (parsed.ok()) {
      out[i] = std::move(*parsed);
    } else {
      std::lock_guard lock(error_mu);
      error = parsed.status();
    }
  });
  if (times != nullptr) times->sign_seconds += Since(t);
  HM_RETURN_IF_ERROR(error);
  return out;
}

Status VerifyFeedStart(const std::vector<ParsedRecord>& records, size_t n,
                       const std::string& what) {
  FeedState feed;
  for (size_t i = 0; i < std::min(n, records.size()); ++i) {
    HM_RETURN_IF_ERROR(VerifyNextRecord(records[i], feed).WithContext(what));
    AdvanceFeed(records[i], &feed);
  }
  return Status::Ok();
}

Status WriteRecords(Store& store, const std::vector<ParsedRecord>& records, size_t per_txn) {
  for (size_t begin = 0; begin < records.size(); begin += per_txn) {
    const size_t end = std::min(records.size(), begin + per_txn);
    HM_RETURN_IF_ERROR(store.Write([&](StoreBatch& batch) {
      for (size_t i = begin; i < end; ++i) HM_RETURN_IF_ERROR(batch.PutRecord(records[i]));
      return Status::Ok();
    }));
  }
  return Status::Ok();
}

}  // namespace hashmesh::testing
