// Counting and listing for `hashmesh audit`.
#include "daemon/cli/audit_report.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "daemon/cli/cli_common.h"
#include "daemon/cli/signal_state.h"

namespace hashmesh::cli {
namespace {

using Counts = std::map<std::string, uint32_t>;

// Largest count first, then by key.
void AddCounts(const Counts& counts, google::protobuf::RepeatedPtrField<api::AuditCount>* out) {
  std::vector<std::pair<std::string, uint32_t>> sorted(counts.begin(), counts.end());
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  for (const auto& [key, count] : sorted) {
    api::AuditCount* c = out->Add();
    c->set_key(key);
    c->set_count(count);
  }
}

std::string Name(const api::AuditMember* member, const std::string& author) {
  if (member != nullptr && !member->name().empty()) return member->name();
  return ShortId(author);
}

std::string CountsLine(const google::protobuf::RepeatedPtrField<api::AuditCount>& counts) {
  if (counts.empty()) return "  (none)\n";
  std::string out;
  for (const auto& c : counts) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%6u  ", c.count());
    out += std::string("  ") + buf + (c.key().empty() ? "(unset)" : c.key()) + "\n";
  }
  return out;
}

}  // namespace

api::AuditReport BuildAuditReport(const api::FeedsResponse& feeds,
                                  const std::vector<api::RecordView>& records, uint64_t now_ms) {
  api::AuditReport report;
  std::map<std::string, api::AuditMember> members;  // by author
  for (const auto& f : feeds.feeds()) {
    api::AuditMember& m = members[f.author()];
    m.set_author(f.author());
    m.set_name(f.name());
    m.set_role(f.role());
  }
  std::map<std::string, Counts> kinds_by_member;
  Counts by_role, by_kind, bodies, jurisdictions, categories;
  std::map<std::string, const api::RecordView*> by_id;
  for (const auto& r : records) by_id[r.id()] = &r;
  const std::set<std::string> retracted = RetractedIds(records);
  std::map<std::string, api::AuditLabel> labels;

  auto entry = [&](const api::RecordView& r, const std::string& target, const std::string& reason,
                   api::AuditEntry* e) {
    e->set_id(r.id());
    e->set_author(r.author());
    e->set_author_name(r.author_name());
    e->set_seq(r.seq());
    e->set_target(target);
    if (auto it = by_id.find(target); it != by_id.end()) {
      e->set_target_author_name(Name(&members[it->second->author()], it->second->author()));
      e->set_target_kind(it->second->kind());
    }
    e->set_reason(reason);
    *e->mutable_created_at() = r.created_at();
  };

  for (const auto& r : records) {
    api::AuditMember& m = members[r.author()];
    m.set_author(r.author());
    if (m.name().empty()) m.set_name(r.author_name());
    m.set_records(m.records() + 1);
    ++kinds_by_member[r.author()][r.kind()];
    ++by_role[m.role()];
    ++by_kind[r.kind()];
    if (r.kind() == "notice") {
      ++bodies[r.notice().issuing_body()];
      ++jurisdictions[r.notice().jurisdiction()];
      ++categories[r.notice().category()];
    } else if (r.kind() == "opinion" && r.opinion().stance() == "dispute") {
      entry(r, r.opinion().target(), r.opinion().reason(), report.add_disputes());
    } else if (r.kind() == "retraction") {
      entry(r, r.retraction().target(), r.retraction().reason(), report.add_retractions());
    } else if (r.kind() == "signal") {
      // A void signal counts for nothing, so not under its labels either. Retracted and expired
      // are counted each on its own (a signal may be both).
      const SignalStateFacts facts = FactsOf(r, retracted);
      if (DeriveSignalState(facts, now_ms) == SignalState::kVoid) continue;
      const bool gone = facts.retracted;
      const bool expired = Expired(facts, now_ms);
      for (const auto& l : r.signal().labels()) {
        api::AuditLabel& a = labels[l];
        a.set_label(l);
        a.set_signals(a.signals() + 1);
        if (gone) a.set_retracted(a.retracted() + 1);
        if (expired) a.set_expired(a.expired() + 1);
      }
    }
  }
  report.set_records(static_cast<uint32_t>(records.size()));
  uint32_t with_records = 0;
  for (auto& [author, m] : members) {
    if (m.records() == 0) continue;
    ++with_records;
    AddCounts(kinds_by_member[author], m.mutable_kinds());
    *report.add_by_member() = m;
  }
  report.set_members(with_records);
  AddCounts(by_role, report.mutable_by_role());
  AddCounts(by_kind, report.mutable_by_kind());
  AddCounts(bodies, report.mutable_notices_by_issuing_body());
  AddCounts(jurisdictions, report.mutable_notices_by_jurisdiction());
  AddCounts(categories, report.mutable_notices_by_category());
  std::vector<api::AuditLabel> sorted;
  for (auto& [l, a] : labels) sorted.push_back(a);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.signals() > b.signals(); });
  for (auto& a : sorted) *report.add_signals_by_label() = std::move(a);
  return report;
}

std::string FormatAuditReport(const api::AuditReport& report) {
  std::string out = std::to_string(report.records()) + " records from " +
                    std::to_string(report.members()) + " members\n\nrecords per member:\n";
  for (const auto& m : report.by_member()) {
    std::string kinds;
    for (const auto& k : m.kinds()) {
      kinds += (kinds.empty() ? "" : ", ") + std::to_string(k.count()) + " " + k.key();
    }
    out += "  " + (m.name().empty() ? ShortId(m.author()) : m.name()) + " (" +
           (m.role().empty() ? "untrusted" : m.role()) + "): " + std::to_string(m.records()) +
           " (" + kinds + ")\n";
  }
  out += "\nrecords per role:\n" + CountsLine(report.by_role());
  out += "\nrecords per kind:\n" + CountsLine(report.by_kind());
  out += "\nnotices per issuing body:\n" + CountsLine(report.notices_by_issuing_body());
  out += "\nnotices per jurisdiction:\n" + CountsLine(report.notices_by_jurisdiction());
  out += "\nnotices per category:\n" + CountsLine(report.notices_by_category());
  auto entries = [&](const char* title,
                     const google::protobuf::RepeatedPtrField<api::AuditEntry>& list) {
    out += std::string("\n") + title + " (" + std::to_string(list.size()) + "):\n";
    if (list.empty()) out += "  (none)\n";
    for (const auto& e : list) {
      out += "  " + (e.author_name().empty() ? ShortId(e.author()) : e.author_name()) + "#" +
             std::to_string(e.seq()) + " on " +
             (e.target_author_name().empty() ? "" : e.target_author_name() + "'s ") +
             (e.target_kind().empty() ? "record" : e.target_kind()) + " " + e.target() +
             (e.reason().empty() ? "" : ": " + e.reason()) + "\n";
    }
  };
  entries("disputes", report.disputes());
  entries("retractions", report.retractions());
  out += "\nsignals by label (signals, retracted, expired):\n";
  if (report.signals_by_label().empty()) out += "  (none)\n";
  for (const auto& l : report.signals_by_label()) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%6u %6u %6u  ", l.signals(), l.retracted(), l.expired());
    out += std::string("  ") + buf + l.label() + "\n";
  }
  return out;
}

}  // namespace hashmesh::cli
