// FeedReader: the reads of the store that sync needs (heads, a feed's pages, the newest
// manifest, fork proofs). StoreFeedReader answers them from LMDB.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/manifest.h"
#include "common/record.h"
#include "daemon/storage/store.h"

namespace hashmesh {

// Thread-safe: every method may be called from any thread.
class FeedReader {
 public:
  virtual ~FeedReader() = default;
  // Every author's committed head.
  virtual Result<std::vector<FeedHeadInfo>> Heads() const = 0;
  virtual Result<std::optional<FeedHeadInfo>> Head(const PublicKey& author) const = 0;
  // The id of `author`'s record at `seq`, or nullopt when not stored (or unreadable).
  virtual std::optional<RecordId> RecordIdAt(const PublicKey& author, uint64_t seq) const = 0;
  // The newest manifest stored in `author`'s feed, or nullopt when there is none.
  virtual std::optional<ManifestInfo> LatestManifest(const PublicKey& author) const = 0;
  // Up to `limit` serialised SignedRecords of `author` from seq `from` on.
  virtual Result<std::vector<std::string>> ReadFeed(const PublicKey& author, uint64_t from,
                                                    size_t limit) const = 0;
  // The lowest seq at which `author`'s fork is proven, if it is.
  virtual Result<std::optional<uint64_t>> ForkSeq(const PublicKey& author) const = 0;
  // Every stored fork proof (serialised pb::Equivocation).
  virtual Result<std::vector<std::string>> Equivocations() const = 0;
};

class StoreFeedReader final : public FeedReader {
 public:
  // `store` must outlive the reader.
  explicit StoreFeedReader(const Store* store) : store_(store) {}

  Result<std::vector<FeedHeadInfo>> Heads() const override { return store_->Heads(); }
  Result<std::optional<FeedHeadInfo>> Head(const PublicKey& author) const override {
    return store_->Head(author);
  }
  std::optional<RecordId> RecordIdAt(const PublicKey& author, uint64_t seq) const override;
  std::optional<ManifestInfo> LatestManifest(const PublicKey& author) const override;
  Result<std::vector<std::string>> ReadFeed(const PublicKey& author, uint64_t from,
                                            size_t limit) const override {
    return store_->ReadFeed(author, from, limit);
  }
  Result<std::optional<uint64_t>> ForkSeq(const PublicKey& author) const override {
    return store_->ForkSeq(author);
  }
  Result<std::vector<std::string>> Equivocations() const override {
    return store_->Equivocations();
  }

 private:
  const Store* store_;
};

}  // namespace hashmesh
