// `hashmesh match`: one hash given on the command line, a stream of hashes (--batch), or image
// files hashed here (never in the daemon) and queried with all their fingerprints at once.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>

#include "common/file_hasher.h"
#include "common/json.h"
#include "common/pdq_hash.h"
#include "daemon/cli/cli_commands.h"
#include "daemon/cli/cli_format.h"
#include "daemon/cli/te_format.h"

namespace hashmesh::cli {

namespace {

constexpr size_t kBatchQueries = 256;  // per request: well under the daemon's body limit

void PrintText(const std::string& text) { std::fwrite(text.data(), 1, text.size(), stdout); }

Status CheckMaxDistance(const MatchArgs& args, const std::string& type) {
  if (!args.max_distance) return Status::Ok();
  if (type != "pdq") return InvalidArgument("--max-distance applies to pdq only");
  if (*args.max_distance > kPdqBits) {
    return InvalidArgument("--max-distance must be 0 to " + std::to_string(kPdqBits));
  }
  return Status::Ok();
}

void SetOptions(const MatchArgs& args, api::MatchQuery* q) {
  if (args.max_distance && q->type() == "pdq") q->set_max_distance(*args.max_distance);
  q->set_include_low_quality(args.include_low_quality);
}

// Sends `queries` in batches; returns one MatchResponse per query, in order.
Result<std::vector<api::MatchResponse>> QueryAll(const Context& ctx,
                                                 const std::vector<api::MatchQuery>& queries) {
  std::vector<api::MatchResponse> out;
  out.reserve(queries.size());
  for (size_t start = 0; start < queries.size(); start += kBatchQueries) {
    api::MatchRequest request;
    size_t end = std::min(queries.size(), start + kBatchQueries);
    for (size_t i = start; i < end; ++i) *request.add_queries() = queries[i];
    HM_ASSIGN_OR_RETURN(std::string body, PostQuery(ctx, "/v1/match", ToJson(request)));
    api::MatchBatchResponse batch;
    HM_RETURN_IF_ERROR(ParseAnswer(body, &batch));
    if (static_cast<size_t>(batch.results_size()) != end - start) {
      return Internal("hashmeshd answered " + std::to_string(batch.results_size()) +
                      " results for " + std::to_string(end - start) + " queries");
    }
    for (auto& r : *batch.mutable_results()) out.push_back(std::move(r));
  }
  return out;
}

// `{"k":v,` + the fields of `message_json` (an object).
std::string PrependFields(const std::string& fields, const std::string& message_json) {
  std::string rest = message_json.size() >= 2 ? message_json.substr(1) : "}";
  if (rest == "}") return "{" + fields + "}";
  return "{" + fields + "," + rest;
}

int RunSingle(const Context& ctx, const MatchArgs& args) {
  if (args.type.empty() || args.value.empty()) {
    return Fail(InvalidArgument("give --type and --value, FILE..., or --batch FILE"));
  }
  auto signal = ValidateSignal(args.type, args.value, /*match_only=*/true);
  if (!signal.ok()) return Fail(signal.status());
  Status s = CheckMaxDistance(args, signal->type);
  if (!s.ok()) return Fail(s);
  api::MatchRequest request;
  request.set_type(signal->type);
  request.set_value(signal->value);
  if (args.max_distance) request.set_max_distance(*args.max_distance);
  request.set_include_low_quality(args.include_low_quality);
  auto body = PostQuery(ctx, "/v1/match", ToJson(request));
  if (!body.ok()) return Fail(body.status());
  if (ctx.json) {
    PrintJsonDocument(*body);
    return kExitOk;
  }
  api::MatchResponse response;
  s = ParseAnswer(*body, &response);
  if (!s.ok()) return Fail(s);
  PrintText(FormatMatchResponse(response));
  return kExitOk;
}

// ---- --batch ----

struct BatchItem {
  int line = 0;
  Status error;            // not ok: the line is reported, not queried
  size_t query_index = 0;  // into the pending queries otherwise
  SignalInput signal;
};

int RunBatch(const Context& ctx, const MatchArgs& args) {
  if (!args.value.empty() || !args.files.empty()) {
    return Fail(
        InvalidArgument("--batch takes its hashes from the file, not from --value or FILE"));
  }
  std::string default_type;
  if (!args.type.empty()) {
    auto type = ValidateMatchType(args.type);
    if (!type.ok()) return Fail(type.status());
    default_type = *type;
  }
  // Lines may carry their own types: --max-distance then applies to the pdq ones.
  Status s = CheckMaxDistance(args, default_type.empty() ? "pdq" : default_type);
  if (!s.ok()) return Fail(s);
  std::ifstream file;
  std::istream* in = &std::cin;
  if (args.batch != "-") {
    file.open(args.batch);
    if (!file) return Fail(InvalidArgument("cannot open " + args.batch));
    in = &file;
  }

  int exit_code = kExitOk;
  std::vector<BatchItem> items;
  std::vector<api::MatchQuery> queries;
  auto flush = [&]() -> Status {
    std::vector<api::MatchResponse> results;
    if (!queries.empty()) {
      HM_ASSIGN_OR_RETURN(results, QueryAll(ctx, queries));
    }
    for (const auto& item : items) {
      std::string line;
      if (!item.error.ok()) {
        // By hand rather than through api::ErrorResponse, whose printer escapes '<' as \u003c.
        line = "{\"line\":" + std::to_string(item.line) +
               ",\"error\":{\"code\":" + JsonQuote(StatusCodeName(item.error.code())) +
               ",\"message\":" + JsonQuote(item.error.message()) + "}}";
      } else {
        line = PrependFields("\"line\":" + std::to_string(item.line) +
                                 ",\"type\":" + JsonQuote(item.signal.type) +
                                 ",\"value\":" + JsonQuote(item.signal.value),
                             ToJson(results[item.query_index]));
      }
      line += '\n';
      PrintText(line);
    }
    std::fflush(stdout);
    items.clear();
    queries.clear();
    return Status::Ok();
  };

  std::string text;
  int line_no = 0;
  while (std::getline(*in, text)) {
    ++line_no;
    auto parsed = ParseBatchLine(text, default_type);
    BatchItem item;
    item.line = line_no;
    if (!parsed.ok()) {
      item.error = parsed.status();
      std::fprintf(stderr, "hashmesh: %s line %d: %s\n",
                   args.batch == "-" ? "stdin" : args.batch.c_str(), line_no,
                   parsed.status().message().c_str());
      exit_code = kExitError;
    } else if (!parsed->has_value()) {
      continue;  // blank or comment
    } else {
      item.signal = **parsed;
      item.query_index = queries.size();
      api::MatchQuery q;
      q.set_type(item.signal.type);
      q.set_value(item.signal.value);
      SetOptions(args, &q);
      queries.push_back(std::move(q));
    }
    items.push_back(std::move(item));
    if (queries.size() >= kBatchQueries || items.size() >= 4 * kBatchQueries) {
      s = flush();
      if (!s.ok()) return Fail(s);
    }
  }
  if (in->bad()) return Fail(IoError("error reading " + args.batch));
  s = flush();
  if (!s.ok()) return Fail(s);
  return exit_code;
}

// ---- FILE... ----

constexpr const char* kDihedralNames[] = {"pdq",       "pdq/rot90", "pdq/rot180", "pdq/rot270",
                                          "pdq/flipx", "pdq/flipy", "pdq/flipp",  "pdq/flipm"};

int ActionRank(const std::string& action) {
  if (action == "act") return 2;
  if (action == "review") return 1;
  return 0;
}

}  // namespace

api::MatchResponse MergeFileAnswers(const std::vector<LabelledAnswer>& answers) {
  std::map<std::string, api::Match> best;
  int rank = -1;
  api::Verdict verdict;
  for (const auto& [label, answer] : answers) {
    for (const auto& m : answer->matches()) {
      auto it = best.find(m.id());
      if (it == best.end() || m.distance() < it->second.distance()) {
        api::Match copy = m;
        copy.set_query_type(label);
        best[m.id()] = std::move(copy);
      }
    }
    int r = ActionRank(answer->verdict().action());
    if (r > rank) {
      rank = r;
      verdict.set_action(answer->verdict().action().empty() ? "none" : answer->verdict().action());
      verdict.clear_reasons();
    }
    if (r == rank) {
      for (const auto& reason : answer->verdict().reasons()) {
        if (std::find(verdict.reasons().begin(), verdict.reasons().end(), reason) ==
            verdict.reasons().end()) {
          verdict.add_reasons(reason);
        }
      }
    }
  }
  std::vector<api::Match> matches;
  for (auto& [id, m] : best) matches.push_back(std::move(m));
  std::stable_sort(matches.begin(), matches.end(), [](const api::Match& a, const api::Match& b) {
    return a.distance() < b.distance();
  });
  api::MatchResponse merged;
  for (auto& m : matches) *merged.add_matches() = std::move(m);
  if (rank < 0) verdict.set_action("none");
  *merged.mutable_verdict() = std::move(verdict);
  return merged;
}

namespace {

int RunFiles(const Context& ctx, const MatchArgs& args) {
  if (!args.type.empty() || !args.value.empty()) {
    return Fail(InvalidArgument("give either FILE... or --type and --value, not both"));
  }
  auto paths = ExpandImagePaths(args.files);
  if (!paths.ok()) return Fail(InvalidArgument(paths.status().message()));
  if (paths->empty()) return Fail(InvalidArgument("no image files found"));
  HashOptions options;
  options.dihedral = true;
  std::vector<Result<FileHashes>> hashed;
  {
    ProgressBar bar("hashing", paths->size());
    hashed =
        HashFiles(*paths, options, args.threads, [&bar](size_t done, size_t) { bar.Update(done); });
  }

  int exit_code = kExitOk;
  std::vector<api::MatchQuery> queries;
  std::vector<std::pair<size_t, std::string>> owners;  // per query: file index, label
  auto add = [&](size_t file, const std::string& label, const std::string& type,
                 const std::string& value) {
    api::MatchQuery q;
    q.set_type(type);
    q.set_value(value);
    SetOptions(args, &q);
    queries.push_back(std::move(q));
    owners.emplace_back(file, label);
  };
  for (size_t i = 0; i < hashed.size(); ++i) {
    if (!hashed[i].ok()) {
      Fail(FileError((*paths)[i], hashed[i].status()));
      exit_code = kExitError;
      continue;
    }
    const FileHashes& h = *hashed[i];
    if (h.quality >= kPdqMinQuality || args.include_low_quality) {
      std::vector<PdqHash> seen;
      const std::vector<PdqHash> own =
          h.dihedral.empty() ? std::vector<PdqHash>{h.pdq} : h.dihedral;
      for (size_t k = 0; k < own.size() && k < std::size(kDihedralNames); ++k) {
        // Symmetric images give equal variants: ask once.
        if (std::find(seen.begin(), seen.end(), own[k]) != seen.end()) continue;
        seen.push_back(own[k]);
        add(i, kDihedralNames[k], "pdq", own[k].ToHex());
      }
    } else {
      std::fprintf(stderr,
                   "hashmesh: %s: pdq quality %d is below %d, matching by md5 and sha256 only "
                   "(--include-low-quality to use it)\n",
                   h.file.c_str(), h.quality, kPdqMinQuality);
    }
    add(i, "md5", "md5", h.md5);
    add(i, "sha256", "sha256", h.sha256);
  }
  auto results = QueryAll(ctx, queries);
  if (!results.ok()) return Fail(results.status());

  std::vector<std::vector<LabelledAnswer>> per_file(hashed.size());
  for (size_t q = 0; q < owners.size(); ++q) {
    per_file[owners[q].first].emplace_back(owners[q].second, &(*results)[q]);
  }
  const bool one_object =
      args.files.size() == 1 && paths->size() == 1 && (*paths)[0] == args.files[0];
  std::string json;
  std::string text;
  for (size_t i = 0; i < hashed.size(); ++i) {
    if (!hashed[i].ok()) continue;
    api::MatchResponse merged = MergeFileAnswers(per_file[i]);
    if (ctx.json) {
      if (!json.empty()) json += ",";
      json += PrependFields("\"file\":" + JsonQuote((*paths)[i]), ToJson(merged));
    } else {
      text += "== " + (*paths)[i] + "  (pdq quality " + std::to_string(hashed[i]->quality) + ")\n" +
              FormatMatchResponse(merged);
    }
  }
  if (ctx.json) {
    PrintJsonDocument(one_object ? (json.empty() ? "{}" : json) : "[" + json + "]");
  } else {
    PrintText(text);
  }
  return exit_code;
}

}  // namespace

Result<std::optional<SignalInput>> ParseBatchLine(std::string_view line,
                                                  const std::string& default_type) {
  std::vector<std::string_view> tokens = SplitWhitespace(line);
  if (tokens.empty() || tokens[0].front() == '#') return std::optional<SignalInput>();
  std::string_view type;
  std::string_view value;
  if (tokens.size() == 1) {
    if (default_type.empty()) {
      return InvalidArgument("a bare value needs --type (or write '<type> <value>')");
    }
    type = default_type;
    value = tokens[0];
  } else if (tokens.size() == 2) {
    type = tokens[0];
    value = tokens[1];
  } else {
    return InvalidArgument("expected '<type> <value>' or a bare value, got " +
                           std::to_string(tokens.size()) + " fields");
  }
  HM_ASSIGN_OR_RETURN(SignalInput signal, ValidateSignal(type, value, /*match_only=*/true));
  return std::optional<SignalInput>(std::move(signal));
}

int RunMatch(const Context& ctx, const MatchArgs& args) {
  if (!args.batch.empty()) return RunBatch(ctx, args);
  if (!args.files.empty()) return RunFiles(ctx, args);
  return RunSingle(ctx, args);
}

}  // namespace hashmesh::cli
