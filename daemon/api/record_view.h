// Renders stored records as api.RecordView and api.NoticeView (the JSON the API and the stream
// show). Pure; thread-safe.
#pragma once

#include "common/proto_time.h"
#include "common/record.h"
#include "keys/trust_store.h"
#include "proto/api.pb.h"

namespace hashmesh {

api::RecordView ToRecordView(const ParsedRecord& record, const TrustStore* trust);
api::NoticeView ToNoticeView(const ParsedRecord& notice_record, const TrustStore* trust,
                             uint64_t now_ms);
std::string MemberName(const PublicKey& key, const TrustStore* trust);

}  // namespace hashmesh
