// Renders stored records as api.RecordView (the JSON the API and the stream show), and the
// text forms of enum values used in the API. Pure; thread-safe.
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

std::string_view StanceName(pb::Stance stance);
Result<pb::Stance> ParseStance(std::string_view name);
std::string_view ActionText(pb::RequestedAction action);
Result<pb::RequestedAction> ParseRequestedAction(std::string_view name);

}  // namespace hashmesh
