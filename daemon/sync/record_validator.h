// Decides whether another member's record may enter this node's store: its author is trusted,
// one of its roles may publish that kind, a retraction targets the author's own record, and it
// is the valid next record of the author's feed (VerifyNextRecord). Thread-safe.
#pragma once

#include "common/record.h"
#include "daemon/storage/store.h"
#include "keys/trust_store.h"

namespace hashmesh {

Status ValidateIncomingRecord(const ParsedRecord& record, const FeedState& feed,
                              const TrustStore& trust, const Store& store);

}  // namespace hashmesh
