// Trust, role and chain checks for records from other members.
#include "daemon/sync/record_validator.h"

namespace hashmesh {

Status ValidateIncomingRecord(const ParsedRecord& record, const FeedState& feed,
                              const TrustStore& trust, const Store& store) {
  const TrustMember* author = trust.FindByKey(record.author);
  if (author == nullptr) {
    return PermissionDenied("author " + KeyToText(record.author) + " is not in the trust store");
  }
  if (!author->MayPublish(record.kind)) {
    return PermissionDenied("member " + author->name + " may not publish a " +
                            std::string(RecordKindName(record.kind)));
  }
  if (record.kind == RecordKind::kRetraction) {
    RecordId target;
    const std::string& raw = record.body.retraction().target();
    std::copy(raw.begin(), raw.end(), target.begin());
    HM_ASSIGN_OR_RETURN(auto loc, store.LocateId(target));
    if (!loc || loc->author != record.author) {
      return PermissionDenied("a retraction must target one of its author's own records");
    }
  }
  return VerifyNextRecord(record, feed);
}

}  // namespace hashmesh
