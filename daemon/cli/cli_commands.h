// The `hashmesh` commands, one function each, taking their parsed flags. Each returns the process
// exit code (see cli_common.h) and prints its result to stdout, errors to stderr.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "daemon/cli/cli_common.h"
#include "proto/api.pb.h"

namespace hashmesh::cli {

// ---- query socket (cli_query.cc) ----
int RunStatus(const Context& ctx);
int RunPeers(const Context& ctx);
int RunForks(const Context& ctx);
struct FeedsArgs {
  std::string author;  // empty: list the feeds
  std::optional<uint32_t> from;
  std::optional<uint32_t> limit;
};
int RunFeeds(const Context& ctx, const FeedsArgs& args);
int RunRecord(const Context& ctx, const std::string& id);
int RunStream(const Context& ctx);

// ---- matching (cli_match.cc) ----
struct MatchArgs {
  std::string type;
  std::string value;
  std::optional<uint32_t> max_distance;
  bool include_low_quality = false;
  std::vector<std::string> files;  // hash locally, then query
  std::string batch;               // file of hashes, "-" for stdin
  int threads = 0;
};
int RunMatch(const Context& ctx, const MatchArgs& args);

// One answer for an image file from the answers to each of its fingerprints (label: "pdq",
// "pdq/rot90", ..., "md5", "sha256"): each matching record once, at its smallest distance, with
// query_type set to the label that found it; the strongest verdict (act > review > none) with
// the reasons of every answer that gave it.
using LabelledAnswer = std::pair<std::string, const api::MatchResponse*>;
api::MatchResponse MergeFileAnswers(const std::vector<LabelledAnswer>& answers);

// One line of a `match --batch` input: "<value>" (with a default type) or "<type> <value>".
// Returns nullopt for blank lines and '#' comments.
Result<std::optional<SignalInput>> ParseBatchLine(std::string_view line,
                                                  const std::string& default_type);

// ---- publishing on the admin socket (cli_publish.cc) ----
struct SubmitArgs {
  std::string type;
  std::string value;
  std::vector<std::string> labels;
  std::string note;
  std::string content_type;
  std::optional<uint32_t> quality;
  std::string expires;
};
int RunSubmit(const Context& ctx, const SubmitArgs& args);

struct NoticeArgs {
  std::vector<std::string> targets;
  std::vector<std::string> signals;  // "TYPE:VALUE"
  std::string category;
  std::string jurisdiction;
  std::string legal_basis;
  std::string issuing_body;
  std::string reference;
  std::string action;
  std::string expires;
};
int RunNotice(const Context& ctx, const NoticeArgs& args);
// stance: endorse, dispute, seen, acted.
int RunOpinion(const Context& ctx, const std::string& stance, const std::string& target,
               const std::string& reason);
int RunRetract(const Context& ctx, const std::string& target, const std::string& reason);
int RunReload(const Context& ctx);

// ---- local hashing (cli_hash.cc) ----
struct HashArgs {
  std::vector<std::string> paths;
  bool dihedral = false;
  int threads = 0;
};
int RunHash(const Context& ctx, const HashArgs& args);

// ---- interop: python-threatexchange lists and record logs (cli_interop.cc) ----
struct ExportArgs {
  std::string format = "jsonl";  // jsonl (every record) or te-csv (the current signal list)
  std::string output;            // empty or "-": stdout
};
int RunExport(const Context& ctx, const ExportArgs& args);
struct ImportArgs {
  std::string file;  // "-" for stdin
  std::string format = "auto";  // auto, lines or te-csv
  std::vector<std::string> labels;
  uint32_t batch_size = 500;
};
int RunImport(const Context& ctx, const ImportArgs& args);

// ---- transparency (cli_audit.cc) ----
struct VerifyLogArgs {
  std::vector<std::string> files;  // "-" for stdin
  std::string trust;
};
int RunVerifyLog(const Context& ctx, const VerifyLogArgs& args);
int RunAudit(const Context& ctx);

}  // namespace hashmesh::cli
