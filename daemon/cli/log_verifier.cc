// Record-log verification: group by author and seq, walk each feed from seq 1, report what fails.
#include "daemon/cli/log_verifier.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "common/record.h"
#include "daemon/cli/record_log.h"
#include "keys/record_acceptance.h"

namespace hashmesh::cli {
namespace {

// One line's record: parsed from its signed bytes when they parse, with what is wrong with it.
struct Item {
  size_t entry = 0;
  std::optional<ParsedRecord> record;
  std::vector<std::string> issues;
};

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

// One author's feed as the walk below has followed it so far: what a node would hold committed
// when the next record arrives. Only this author's ids are known, which is all the rule asks
// (whether a retraction's target is one of the author's own).
class LogChain : public ChainView {
 public:
  LogChain(const PublicKey& author, const FeedState& state, const std::set<RecordId>& own_ids)
      : author_(author), state_(state), own_ids_(own_ids) {}
  Result<const FeedState*> Feed(const PublicKey& author) override {
    return author == author_ ? &state_ : &other_;
  }
  Result<std::optional<PublicKey>> AuthorOf(const RecordId& id) override {
    if (own_ids_.count(id) == 0) return std::optional<PublicKey>();
    return std::optional<PublicKey>(author_);
  }

 private:
  const PublicKey& author_;
  const FeedState& state_;
  const std::set<RecordId>& own_ids_;
  const FeedState other_;
};

}  // namespace

void LogVerifier::AddLine(const std::string& file, uint32_t line, std::string_view text) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return;
  ++lines_;
  auto view = ParseRecordLine(text);
  if (!view.ok()) {
    api::LogProblem p;
    p.set_file(file);
    p.set_line(line);
    p.set_problem(view.status().message());
    unreadable_.push_back(std::move(p));
    return;
  }
  entries_.push_back(Entry{file, line, std::move(view).value()});
}

api::VerifyLogReport LogVerifier::Finish() const {
  api::VerifyLogReport report;
  report.set_lines(lines_);
  std::vector<api::LogProblem> problems = unreadable_;

  // Parse every record from its signed bytes, and compare with what the line says about it.
  std::vector<Item> items(entries_.size());
  for (size_t i = 0; i < entries_.size(); ++i) {
    const api::RecordView& v = entries_[i].view;
    items[i].entry = i;
    pb::SignedRecord signed_record;
    signed_record.set_body(v.body());
    signed_record.set_signature(v.signature());
    auto parsed = ParseRecord(std::move(signed_record));
    if (!parsed.ok()) {
      items[i].issues.push_back("the signed record is invalid: " + parsed.status().message());
      continue;
    }
    std::vector<std::string> differ;
    if (ToHex(parsed->id) != v.id()) differ.push_back("id " + ToHex(parsed->id));
    if (KeyToText(parsed->author) != v.author())
      differ.push_back("author " + KeyToText(parsed->author));
    if (parsed->seq() != v.seq()) differ.push_back("seq " + std::to_string(parsed->seq()));
    if (RecordKindName(parsed->kind) != v.kind()) {
      differ.push_back("kind " + std::string(RecordKindName(parsed->kind)));
    }
    if (!differ.empty()) {
      // Damaged or edited: the line is not the record it says it is, and takes no part in the
      // chain (grouped below by what the line says, where it breaks the chain).
      items[i].issues.push_back("the line's fields do not match its signed body (" + Join(differ) +
                                ")");
      continue;
    }
    items[i].record = std::move(parsed).value();
  }

  // Group by author and seq as the line gives them (equal to the signed body's when it is valid).
  std::map<PublicKey, std::map<uint64_t, std::vector<Item*>>> feeds;
  for (Item& item : items) {
    const api::RecordView& v = entries_[item.entry].view;
    if (auto author = KeyFromText(v.author()); author.ok() && v.seq() > 0) {
      feeds[*author][v.seq()].push_back(&item);
    }  // else: reported below with the issue it has
  }

  uint32_t verified = 0;
  uint32_t members = 0;
  std::vector<api::LogProblem> feed_problems;
  auto feed_problem = [&](const PublicKey& author, uint64_t seq, const std::string& id,
                          const std::string& text) {
    api::LogProblem p;
    p.set_author(KeyToText(author));
    if (const TrustMember* m = trust_->FindByKey(author)) p.set_author_name(m->name);
    p.set_seq(static_cast<uint32_t>(seq));
    p.set_id(id);
    p.set_problem(text);
    feed_problems.push_back(std::move(p));
  };

  for (auto& [author, by_seq] : feeds) {
    const TrustMember* member = trust_->FindByKey(author);
    uint32_t author_records = 0;
    for (const auto& [seq, list] : by_seq) author_records += static_cast<uint32_t>(list.size());
    if (member == nullptr) {
      const Item* first = by_seq.begin()->second.front();
      const api::RecordView& v = entries_[first->entry].view;
      feed_problem(
          author, by_seq.begin()->first, v.id(),
          "author is not in the trust store" +
              (v.author_name().empty() ? std::string()
                                       : " (the export names it '" + v.author_name() + "')") +
              ": none of its " + std::to_string(author_records) + " records can be trusted");
    }
    FeedState state;
    std::set<RecordId> own_ids;
    LogChain log_chain(author, state, own_ids);
    std::vector<const Item*> chain;  // the records followed, in seq order
    uint32_t author_verified = 0;
    for (auto it = by_seq.begin(); it != by_seq.end(); ++it) {
      const uint64_t seq = it->first;
      std::vector<Item*>& list = it->second;
      if (seq != state.head_seq + 1) {
        uint64_t later = 0;
        for (auto jt = it; jt != by_seq.end(); ++jt) later += jt->second.size();
        feed_problem(
            author, seq, entries_[list.front()->entry].view.id(),
            (state.head_seq + 1 == seq - 1 ? "seq " + std::to_string(seq - 1) + " is missing"
                                           : "seqs " + std::to_string(state.head_seq + 1) + ".." +
                                                 std::to_string(seq - 1) + " are missing") +
                ": " + std::to_string(later) + " later records not verified");
        break;
      }
      // Distinct records at this seq (the same record listed twice is not a fork).
      std::vector<Item*> distinct;
      std::set<RecordId> seen;
      for (Item* item : list) {
        if (item->record && !seen.insert(item->record->id).second) continue;
        distinct.push_back(item);
      }
      std::vector<Item*> valid;
      for (Item* item : distinct) {
        if (!item->record) continue;
        // The nodes' rule, over this feed as followed so far.
        const Acceptance acceptance = AcceptRecord(*item->record, *trust_, log_chain);
        switch (acceptance.verdict) {
          case Verdict::kAccepted:
          case Verdict::kUntrusted:  // reported once for the whole feed, above
            break;
          case Verdict::kNotAllowed:
          case Verdict::kForeignTarget:  // refused, but the chain holds: later records follow it
            item->issues.push_back(acceptance.reason);
            break;
          default:
            item->issues.push_back(acceptance.reason);
            continue;
        }
        valid.push_back(item);
      }
      // Only two validly signed records prove a fork; a damaged copy is just damaged.
      if (valid.size() > 1) {
        for (Item* item : valid) {
          std::string others;
          for (Item* other : valid) {
            if (other == item) continue;
            const Entry& e = entries_[other->entry];
            others += (others.empty() ? "" : ", ") + e.view.id() + " (" + e.file + ":" +
                      std::to_string(e.line) + ")";
          }
          item->issues.push_back("equivocation: the author signed another record at seq " +
                                 std::to_string(seq) + ": " + others);
        }
      }
      if (valid.empty()) {
        uint64_t later = 0;
        for (auto jt = std::next(it); jt != by_seq.end(); ++jt) later += jt->second.size();
        if (later > 0) {
          feed_problem(author, std::next(it)->first,
                       entries_[std::next(it)->second.front()->entry].view.id(),
                       std::to_string(later) +
                           " later records not verified: the feed's chain "
                           "is broken at seq " +
                           std::to_string(seq));
        }
        break;
      }
      // Follow the record that the next seq links to (after a fork), else the first valid one.
      Item* chosen = valid.front();
      if (auto next = std::next(it); next != by_seq.end() && valid.size() > 1) {
        for (Item* item : valid) {
          for (Item* n : next->second) {
            if (n->record && n->record->prev == item->record->id) chosen = item;
          }
        }
      }
      AdvanceFeed(*chosen->record, &state);
      own_ids.insert(chosen->record->id);
      chain.push_back(chosen);
      if (member != nullptr && chosen->issues.empty()) ++author_verified;
    }
    verified += author_verified;
    if (author_verified > 0) ++members;
    // Valid, but void: the author later named a compromise point before them.
    for (const Item* item : chain) {
      for (const auto& [manifest_seq, manifest] : state.manifests) {
        if (!VoidedBy(*item->record, manifest)) continue;
        const Entry& e = entries_[item->entry];
        api::LogProblem* v = report.add_voided();
        v->set_file(e.file);
        v->set_line(e.line);
        v->set_author(e.view.author());
        v->set_author_name(member != nullptr ? member->name : e.view.author_name());
        v->set_seq(e.view.seq());
        v->set_id(e.view.id());
        v->set_problem("void: manifest seq " + std::to_string(manifest_seq) +
                       " names the author's old key compromised after feed seq " +
                       std::to_string(manifest.compromised_after));
        break;
      }
    }
  }

  for (const Item& item : items) {
    if (item.issues.empty()) continue;
    const Entry& e = entries_[item.entry];
    api::LogProblem p;
    p.set_file(e.file);
    p.set_line(e.line);
    p.set_author(e.view.author());
    p.set_author_name(e.view.author_name());
    if (auto key = KeyFromText(e.view.author()); key.ok()) {
      if (const TrustMember* m = trust_->FindByKey(*key)) p.set_author_name(m->name);
    }
    p.set_seq(e.view.seq());
    p.set_id(e.view.id());
    p.set_problem(Join(item.issues));
    problems.push_back(std::move(p));
  }
  std::stable_sort(problems.begin(), problems.end(),
                   [](const api::LogProblem& a, const api::LogProblem& b) {
                     if (a.file() != b.file()) return a.file() < b.file();
                     return a.line() < b.line();
                   });
  for (auto& p : feed_problems) problems.push_back(std::move(p));

  report.set_records(verified);
  report.set_members(members);
  for (auto& p : problems) *report.add_problems() = std::move(p);
  report.set_ok(report.problems_size() == 0);
  report.set_void_records(static_cast<uint32_t>(report.voided_size()));
  report.set_summary("verified " + std::to_string(verified) + " records from " +
                     std::to_string(members) + " members" +
                     (report.voided_size() > 0
                          ? " (" + std::to_string(report.voided_size()) +
                                " of them void after a compromise point)"
                          : std::string()) +
                     "; " + std::to_string(report.problems_size()) + " problems");
  return report;
}

std::string LogVerifier::FormatProblem(const api::LogProblem& p) {
  std::string where = p.line() > 0 ? p.file() + ":" + std::to_string(p.line()) + ": " : "";
  std::string who = !p.author_name().empty() ? p.author_name()
                    : !p.author().empty()    ? p.author()
                                             : "";
  std::string record;
  if (!who.empty()) record += who + " ";
  if (p.seq() > 0) record += "seq " + std::to_string(p.seq()) + " ";
  if (!p.id().empty()) record += "id " + p.id() + " ";
  if (!record.empty()) record.back() = ':';
  return where + record + (record.empty() ? "" : " ") + p.problem();
}

}  // namespace hashmesh::cli
