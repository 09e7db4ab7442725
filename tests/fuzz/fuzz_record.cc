// Fuzzes what a node does with record bytes from anywhere: VerifySignedManifest on a manifest,
// then ParseRecordBytes, VerifyNextRecord and AdvanceFeed over a feed of records, one FeedState
// per author, as the writer does. Input: chunks (see fuzz_input.h); chunk 0 is a serialised
// SignedManifest, the others serialised SignedRecords. Seeds: fuzz_make_seeds.
#include <cstddef>
#include <cstdint>
#include <map>

#include "common/manifest.h"
#include "common/record.h"
#include "keys/record_acceptance.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace hashmesh;
  static const bool crypto_ready = InitCrypto();
  if (!crypto_ready) __builtin_trap();

  auto chunks = fuzz::SplitChunks(data, size);
  if (chunks.empty()) return 0;
  if (auto manifest = VerifySignedManifest(chunks[0]); manifest.ok()) {
    // A verified manifest must read back the same without its signatures being checked.
    pb::SignedManifest parsed;
    if (!parsed.ParseFromString(std::string(chunks[0]))) __builtin_trap();
    auto again = ReadVerifiedManifest(parsed);
    if (!again.ok() || again->seq != manifest->seq || again->member_key != manifest->member_key) {
      __builtin_trap();
    }
  }
  std::map<PublicKey, FeedState> feeds;
  for (size_t i = 1; i < chunks.size(); ++i) {
    auto record = ParseRecordBytes(chunks[i]);
    if (!record.ok()) continue;
    (void)record->DebugString();
    FeedState& feed = feeds[record->author];
    if (!VerifyNextRecord(*record, feed).ok()) continue;
    const uint64_t seq = record->seq();
    AdvanceFeed(*record, &feed);
    if (feed.head_seq != seq || feed.head_id != record->id) __builtin_trap();
  }
  return 0;
}
