// Record -> API view conversion.
#include "daemon/api/record_view.h"

#include "common/record_text.h"
#include "common/signal_state.h"
#include "common/signal_value.h"

namespace hashmesh {

std::string MemberName(const PublicKey& key, const TrustStore* trust) {
  if (trust == nullptr) return "";
  const TrustMember* m = trust->FindByKey(key);
  return m == nullptr ? "" : m->name;
}

api::NoticeView ToNoticeView(const ParsedRecord& r, const TrustStore* trust, uint64_t now_ms) {
  const pb::Notice& n = r.body.notice();
  api::NoticeView v;
  v.set_id(ToHex(r.id));
  v.set_author(KeyToText(r.author));
  v.set_author_name(MemberName(r.author, trust));
  v.set_category(n.category());
  v.set_jurisdiction(n.jurisdiction());
  v.set_legal_basis(n.legal_basis());
  v.set_issuing_body(n.issuing_body());
  v.set_reference(n.reference());
  v.set_action(std::string(ActionText(n.requested_action())));
  if (n.expires_at_ms() != 0) SetTimestamp(n.expires_at_ms(), v.mutable_expires_at());
  v.set_expired(ExpiryPassed(n.expires_at_ms(), now_ms));
  for (const auto& t : n.targets()) {
    if (t.has_signal()) {
      auto* s = v.add_signals();
      s->set_type(std::string(SignalKindName(static_cast<SignalKind>(t.signal().type()))));
      s->set_value(t.signal().value());
    } else {
      v.add_targets(ToHex(t.record_id()));
    }
  }
  return v;
}

api::RecordView ToRecordView(const ParsedRecord& r, const TrustStore* trust) {
  api::RecordView v;
  v.set_id(ToHex(r.id));
  v.set_author(KeyToText(r.author));
  v.set_author_name(MemberName(r.author, trust));
  v.set_seq(static_cast<uint32_t>(r.seq()));
  if (r.prev) v.set_prev(ToHex(*r.prev));
  v.set_manifest_seq(r.body.manifest_seq());
  SetTimestamp(r.body.created_at_ms(), v.mutable_created_at());
  v.set_kind(std::string(RecordKindName(r.kind)));
  switch (r.kind) {
    case RecordKind::kSignal: {
      const pb::Signal& s = r.body.signal();
      auto* out = v.mutable_signal();
      out->set_type(std::string(SignalKindName(static_cast<SignalKind>(s.type()))));
      out->set_value(s.value());
      for (const auto& l : s.labels()) out->add_labels(l);
      out->set_content_type(s.content_type());
      if (s.has_quality()) out->set_quality(s.quality());
      out->set_note(s.note());
      if (s.expires_at_ms() != 0) SetTimestamp(s.expires_at_ms(), out->mutable_expires_at());
      break;
    }
    case RecordKind::kNotice: *v.mutable_notice() = ToNoticeView(r, trust, 0); break;
    case RecordKind::kOpinion:
      v.mutable_opinion()->set_target(ToHex(r.body.opinion().target()));
      v.mutable_opinion()->set_stance(std::string(StanceName(r.body.opinion().stance())));
      v.mutable_opinion()->set_reason(r.body.opinion().reason());
      break;
    case RecordKind::kRetraction:
      v.mutable_retraction()->set_target(ToHex(r.body.retraction().target()));
      v.mutable_retraction()->set_reason(r.body.retraction().reason());
      break;
    case RecordKind::kManifest:
      if (auto info = VerifySignedManifest(r.body.manifest()); info.ok()) {
        if (info->signing_key) v.set_manifest_signing_key(KeyToText(*info->signing_key));
        v.set_manifest_seq_published(info->seq);
        v.set_compromised_after(static_cast<uint32_t>(info->compromised_after));
      }
      break;
  }
  v.set_body(r.signed_record.body());
  v.set_signature(r.signed_record.signature());
  return v;
}

}  // namespace hashmesh
