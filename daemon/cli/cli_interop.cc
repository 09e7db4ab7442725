// `hashmesh export` (every record as JSON lines, or the current signal list as a
// python-threatexchange CSV) and `hashmesh import` (hash lists published as signals in bulk).
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "common/clock.h"
#include "common/json.h"
#include "daemon/cli/cli_commands.h"
#include "daemon/cli/import_list.h"
#include "daemon/cli/record_log.h"
#include "daemon/cli/signal_state.h"
#include "daemon/cli/te_format.h"
#include "proto/reports.pb.h"

namespace hashmesh::cli {
namespace {

constexpr size_t kMaxBatchBytes = 512 * 1024;  // the daemon takes request bodies up to 1 MiB

// Where export writes: stdout, or a new temporary file beside FILE (FILE.tmp.XXXXXX, created
// exclusively, so a link planted there is never followed) renamed to FILE once complete, so that
// a failed export never leaves a partial file under the name asked for.
class Output {
 public:
  explicit Output(const std::string& path) : to_file_(!path.empty() && path != "-"), path_(path) {}
  ~Output() {
    if (file_ != nullptr && file_ != stdout) {
      std::fclose(file_);
      ::unlink(tmp_.c_str());
    }
  }

  Status Open() {
    if (!to_file_) {
      file_ = stdout;
      return Status::Ok();
    }
    tmp_ = path_ + ".tmp.XXXXXX";
    const int fd = ::mkstemp(tmp_.data());
    if (fd < 0) return IoError("cannot write " + tmp_ + ": " + std::strerror(errno));
    // mkstemp makes the file 0600; an export is as readable as any file the user writes.
    const mode_t mask = ::umask(0);
    ::umask(mask);
    ::fchmod(fd, 0666 & ~mask);
    file_ = ::fdopen(fd, "wb");
    if (file_ == nullptr) {
      Status s = IoError("cannot write " + tmp_ + ": " + std::strerror(errno));
      ::close(fd);
      ::unlink(tmp_.c_str());
      return s;
    }
    return Status::Ok();
  }
  Status Write(std::string_view text) {
    if (std::fwrite(text.data(), 1, text.size(), file_) != text.size()) {
      return IoError("cannot write " + Name() + ": " + std::strerror(errno));
    }
    return Status::Ok();
  }
  Status Commit() {
    if (file_ == stdout) return std::fflush(stdout) == 0 ? Status::Ok() : IoError("stdout");
    FILE* f = file_;
    file_ = nullptr;
    if (std::fflush(f) != 0 || ::fsync(fileno(f)) != 0 || std::fclose(f) != 0 ||
        std::rename(tmp_.c_str(), path_.c_str()) != 0) {
      Status s = IoError("cannot write " + path_ + ": " + std::strerror(errno));
      ::unlink(tmp_.c_str());
      return s;
    }
    return Status::Ok();
  }
  std::string Name() const { return to_file() ? path_ : std::string("stdout"); }
  bool to_file() const { return to_file_; }

 private:
  const bool to_file_;
  const std::string path_;
  std::string tmp_;
  FILE* file_ = nullptr;
};

// Every record of every feed, then the records of the other branch of each fork the node holds a
// proof of (a node keeps one branch in its feed, and the proof's other record beside it).
Status ExportJsonLines(const Context& ctx, Output* out, api::ExportSummary* summary) {
  HM_ASSIGN_OR_RETURN(std::string answer, Get(ctx, "/v1/equivocations"));
  api::EquivocationsResponse forks;
  HM_RETURN_IF_ERROR(ParseAnswer(answer, &forks));
  std::map<std::pair<std::string, uint32_t>, std::string> chain_id;  // at each forked seq
  for (const auto& f : forks.equivocations()) chain_id[{f.author(), f.seq()}];

  api::FeedsResponse feeds;
  std::set<std::string> authors;
  HM_RETURN_IF_ERROR(ForEachNodeRecord(ctx, &feeds, [&](api::RecordView r) {
    authors.insert(r.author());
    if (auto it = chain_id.find({r.author(), r.seq()}); it != chain_id.end()) it->second = r.id();
    summary->set_records(summary->records() + 1);
    return out->Write(RecordLine(r) + "\n");
  }));
  std::set<std::string> written;
  for (const auto& f : forks.equivocations()) {
    for (const api::RecordView* r : {&f.first(), &f.second()}) {
      if (r->id() == chain_id[{f.author(), f.seq()}] || !written.insert(r->id()).second) continue;
      authors.insert(r->author());
      summary->set_records(summary->records() + 1);
      summary->set_fork_records(summary->fork_records() + 1);
      HM_RETURN_IF_ERROR(out->Write(RecordLine(*r) + "\n"));
    }
  }
  summary->set_members(static_cast<uint32_t>(authors.size()));
  return Status::Ok();
}

// The fingerprints that match now: those of current signals, and those inline in current notices
// (POSITIVE_CLASS, tagged "notice" and the notice's category), each row once.
Status ExportTeCsv(const Context& ctx, Output* out, api::ExportSummary* summary) {
  api::FeedsResponse feeds;
  HM_ASSIGN_OR_RETURN(std::vector<api::RecordView> records, FetchNodeRecords(ctx, &feeds));
  const std::set<std::string> retracted = RetractedIds(records);
  const uint64_t now = NowMs();
  std::set<std::string> rows_seen;
  std::set<std::string> collabs;
  HM_RETURN_IF_ERROR(out->Write(std::string(kTeCsvHeader) + "\n"));
  auto add_row = [&](const api::RecordView& r, const std::string& type, const std::string& value,
                     const std::vector<std::string>& labels) -> Status {
    TeRow row;
    row.signal_type = std::string(ToTeType(type));
    if (row.signal_type.empty()) {
      summary->set_left_out(summary->left_out() + 1);
      return Status::Ok();
    }
    row.signal_str = value;
    row.collab = r.author_name().empty() ? r.author() : r.author_name();
    TeCategoryAndTags(labels, &row.category, &row.tags);
    std::string line = FormatTeCsvRow(row);
    if (!rows_seen.insert(line).second) return Status::Ok();
    collabs.insert(row.collab);
    summary->set_records(summary->records() + 1);
    return out->Write(line);
  };
  for (const auto& r : records) {
    if (StateOf(r, retracted, now) != SignalState::kCurrent) continue;
    if (r.kind() == "signal") {
      HM_RETURN_IF_ERROR(add_row(r, r.signal().type(), r.signal().value(),
                                 {r.signal().labels().begin(), r.signal().labels().end()}));
    } else if (r.kind() == "notice") {
      for (const auto& s : r.notice().signals()) {
        HM_RETURN_IF_ERROR(
            add_row(r, s.type(), s.value(), {"notice", r.notice().category()}));
      }
    }
  }
  summary->set_members(static_cast<uint32_t>(collabs.size()));
  return Status::Ok();
}

Result<std::string> ReadInput(const std::string& path) {
  std::string text;
  HM_RETURN_IF_ERROR(ForEachInputLine(
      path, [&text](const std::string&, uint32_t, const std::string& line) {
        text += line;
        text += '\n';
      }));
  return text;
}

void Count(google::protobuf::RepeatedPtrField<api::ReasonCount>* counts, const std::string& why) {
  for (auto& c : *counts) {
    if (c.reason() == why) {
      c.set_count(c.count() + 1);
      return;
    }
  }
  api::ReasonCount* c = counts->Add();
  c->set_reason(why);
  c->set_count(1);
}

void Refuse(const ImportItem& item, const std::string& why, api::ImportReport* report) {
  report->set_refused(report->refused() + 1);
  Count(report->mutable_refused_by_reason(), why);
  api::ImportIssue* issue = report->add_refused_lines();
  issue->set_line(item.line);
  issue->set_type(item.te_type);
  issue->set_value(item.te_value);
  issue->set_reason(why);
}

// What this node already published: "type value" -> whether it was retracted since.
Result<std::map<std::string, bool>> OwnSignals(const Context& ctx) {
  HM_ASSIGN_OR_RETURN(std::string body, Get(ctx, "/v1/status"));
  api::StatusResponse status;
  HM_RETURN_IF_ERROR(ParseAnswer(body, &status));
  std::vector<api::RecordView> own;
  HM_RETURN_IF_ERROR(ForEachFeedRecord(ctx, status.member_id(), [&](api::RecordView r) {
    if (r.kind() == "signal" || r.kind() == "retraction") own.push_back(std::move(r));
    return Status::Ok();
  }));
  const std::set<std::string> retracted = RetractedIds(own);
  std::map<std::string, bool> signals;
  for (const auto& r : own) {
    if (r.kind() != "signal") continue;
    bool& gone =
        signals.try_emplace(r.signal().type() + " " + r.signal().value(), true).first->second;
    gone = gone && retracted.count(r.id()) > 0;  // retracted only if every copy is
  }
  return signals;
}

// Publishes `batch` (indexes into list.items) with one POST /v1/signals/batch.
Status PublishBatch(const Context& ctx, const ImportList& list, const std::vector<size_t>& batch,
                    api::ImportReport* report) {
  api::SignalBatchRequest request;
  for (size_t i : batch) *request.add_signals() = list.items[i].request;
  HM_ASSIGN_OR_RETURN(std::string body, PostAdmin(ctx, "/v1/signals/batch", ToJson(request)));
  api::SignalBatchResponse response;
  HM_RETURN_IF_ERROR(ParseAnswer(body, &response));
  if (static_cast<size_t>(response.results_size()) != batch.size()) {
    return Internal("hashmeshd answered " + std::to_string(response.results_size()) +
                    " results for " + std::to_string(batch.size()) + " signals");
  }
  for (size_t k = 0; k < batch.size(); ++k) {
    const api::SignalBatchResult& result = response.results(static_cast<int>(k));
    if (result.has_error() || !result.has_seq()) {
      Refuse(list.items[batch[k]], "refused by hashmeshd: " + result.error().message(), report);
      continue;
    }
    report->set_imported(report->imported() + 1);
    if (report->first_seq() == 0) report->set_first_seq(result.seq());
    report->set_last_seq(result.seq());
  }
  return Status::Ok();
}

void PrintImportReport(const api::ImportReport& r) {
  std::printf("imported %u of %u signals from %s (%s)", r.imported(), r.signals(), r.file().c_str(),
              r.format().c_str());
  if (r.imported() > 0) std::printf(" as seq %u..%u", r.first_seq(), r.last_seq());
  std::printf("\n");
  auto reasons = [](const char* what, uint32_t total,
                    const google::protobuf::RepeatedPtrField<api::ReasonCount>& counts) {
    if (total == 0) return;
    std::printf("%s %u:", what, total);
    const char* sep = " ";
    for (const auto& c : counts) {
      std::printf("%s%u %s", sep, c.count(), c.reason().c_str());
      sep = ", ";
    }
    std::printf("\n");
  };
  reasons("skipped", r.skipped(), r.skipped_by_reason());
  if (r.refused() > 0) std::printf("refused %u:\n", r.refused());
  for (const auto& issue : r.refused_lines()) {
    std::printf("  line %u: %s\n", issue.line(), issue.reason().c_str());
  }
}

}  // namespace

int RunExport(const Context& ctx, const ExportArgs& args) {
  if (args.format != "jsonl" && args.format != "te-csv") {
    return Fail(InvalidArgument("--format must be jsonl or te-csv, got '" + args.format + "'"));
  }
  Output out(args.output);
  Status s = out.Open();
  if (!s.ok()) return Fail(s);
  api::ExportSummary summary;
  summary.set_file(out.Name());
  summary.set_format(args.format);
  s = args.format == "jsonl" ? ExportJsonLines(ctx, &out, &summary)
                             : ExportTeCsv(ctx, &out, &summary);
  if (s.ok()) s = out.Commit();
  if (!s.ok()) return Fail(s);
  if (summary.left_out() > 0) {
    std::fprintf(stderr,
                 "hashmesh: left out %u current signals whose type python-threatexchange "
                 "lacks (photodna)\n",
                 summary.left_out());
  }
  if (out.to_file()) {
    if (ctx.json) {
      PrintJsonDocument(ToJson(summary));
    } else {
      std::printf("exported %u %s to %s", summary.records(),
                  args.format == "jsonl" ? "records" : "signals", summary.file().c_str());
      if (summary.fork_records() > 0) {
        std::printf(" (%u from fork proofs)", summary.fork_records());
      }
      std::printf("\n");
    }
  }
  return kExitOk;
}

int RunImport(const Context& ctx, const ImportArgs& args) {
  if (args.batch_size == 0 || args.batch_size > 1000) {
    return Fail(InvalidArgument("--batch-size must be 1 to 1000"));
  }
  auto text = ReadInput(args.file);
  if (!text.ok()) return Fail(text.status());
  auto list = ParseImportList(*text, args.format, args.labels);
  if (!list.ok()) return Fail(FileError(args.file, list.status()));

  api::ImportReport report;
  report.set_file(args.file == "-" ? "stdin" : args.file);
  report.set_format(list->format);
  report.set_signals(static_cast<uint32_t>(list->items.size()));
  auto own = OwnSignals(ctx);
  if (!own.ok()) return Fail(own.status());

  std::map<std::string, uint32_t> in_file;  // "type value" -> first line
  std::vector<size_t> to_publish;
  for (size_t i = 0; i < list->items.size(); ++i) {
    const ImportItem& item = list->items[i];
    if (!item.error.empty()) {
      Refuse(item, item.error, &report);
      continue;
    }
    const std::string key = item.request.type() + " " + item.request.value();
    std::string skip;
    if (auto it = own->find(key); it != own->end()) {
      skip = it->second ? "retracted earlier by this node" : "already published by this node";
    } else if (!in_file.emplace(key, item.line).second) {
      skip = "repeated in the file";
    }
    if (!skip.empty()) {
      report.set_skipped(report.skipped() + 1);
      Count(report.mutable_skipped_by_reason(), skip);
      continue;
    }
    to_publish.push_back(i);
  }

  Status s;
  {
    ProgressBar progress("importing", to_publish.size());
    std::vector<size_t> batch;
    size_t batch_bytes = 0;
    size_t done = 0;
    for (size_t k = 0; k <= to_publish.size() && s.ok(); ++k) {
      size_t bytes = k < to_publish.size() ? list->items[to_publish[k]].request.ByteSizeLong() : 0;
      bool last = k == to_publish.size();
      if (!batch.empty() &&
          (last || batch.size() >= args.batch_size || batch_bytes + 2 * bytes > kMaxBatchBytes)) {
        s = PublishBatch(ctx, *list, batch, &report);
        done += batch.size();
        progress.Update(done);
        batch.clear();
        batch_bytes = 0;
      }
      if (!last) {
        batch.push_back(to_publish[k]);
        batch_bytes += 2 * bytes + 64;  // JSON is larger than the wire form
      }
    }
  }
  if (!s.ok()) {
    std::fprintf(stderr, "hashmesh: import stopped after %u of %zu signals were published\n",
                 report.imported(), to_publish.size());
    return Fail(s);
  }
  if (ctx.json) {
    PrintJsonDocument(ToJson(report));
  } else {
    PrintImportReport(report);
  }
  return report.refused() > 0 ? kExitError : kExitOk;
}

}  // namespace hashmesh::cli
