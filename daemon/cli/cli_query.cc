// `hashmesh status | peers | feeds | record | stream`: read-only commands on the query socket.
#include <cctype>
#include <cstdio>

#include "daemon/cli/api_client.h"
#include "daemon/cli/cli_commands.h"
#include "daemon/cli/cli_format.h"

namespace hashmesh::cli {

namespace {

void PrintText(const std::string& text) { std::fwrite(text.data(), 1, text.size(), stdout); }

// Prints a 2xx answer: the daemon's JSON with --json, else `format` of the parsed message.
template <typename Message, typename Format>
int PrintAnswer(const Context& ctx, const Result<std::string>& body, Format format) {
  if (!body.ok()) return Fail(body.status());
  if (ctx.json) {
    PrintJsonDocument(*body);
    return kExitOk;
  }
  Message message;
  Status parsed = ParseAnswer(*body, &message);
  if (!parsed.ok()) return Fail(parsed);
  PrintText(format(message));
  return kExitOk;
}

// A member id, normalised, or a trusted member's name (the daemon resolves it).
Result<std::string> ValidateAuthor(const std::string& text) {
  auto id = ValidateMemberId(text);
  if (id.ok()) return id;
  bool name = !text.empty() && text.size() <= 64 && text.find(':') == std::string::npos;
  for (unsigned char c : text) {
    name = name && (std::isalnum(c) || c == '-' || c == '_' || c == '.');
  }
  if (name) return text;
  return id.status();
}

}  // namespace

int RunStatus(const Context& ctx) {
  return PrintAnswer<api::StatusResponse>(ctx, Get(ctx, "/v1/status"), FormatStatus);
}

int RunPeers(const Context& ctx) {
  return PrintAnswer<api::PeersResponse>(ctx, Get(ctx, "/v1/peers"), FormatPeers);
}

int RunForks(const Context& ctx) {
  return PrintAnswer<api::EquivocationsResponse>(ctx, Get(ctx, "/v1/equivocations"), FormatForks);
}

int RunFeeds(const Context& ctx, const FeedsArgs& args) {
  if (args.author.empty()) {
    if (args.from || args.limit) {
      return Fail(InvalidArgument("--from and --limit need an AUTHOR"));
    }
    return PrintAnswer<api::FeedsResponse>(ctx, Get(ctx, "/v1/feeds"), FormatFeeds);
  }
  auto author = ValidateAuthor(args.author);
  if (!author.ok()) return Fail(author.status());
  std::string target = "/v1/feeds/" + *author;
  char sep = '?';
  if (args.from) {
    target += sep + std::string("from=") + std::to_string(*args.from);
    sep = '&';
  }
  if (args.limit) target += sep + std::string("limit=") + std::to_string(*args.limit);
  return PrintAnswer<api::FeedResponse>(ctx, Get(ctx, target), FormatFeed);
}

int RunRecord(const Context& ctx, const std::string& id) {
  auto valid = ValidateRecordId(id);
  if (!valid.ok()) return Fail(valid.status());
  return PrintAnswer<api::RecordView>(ctx, Get(ctx, "/v1/records/" + *valid), FormatRecord);
}

int RunStream(const Context& ctx) {
  Status bad_line;
  auto response = HttpStreamLines(
      ctx.QuerySocket(), "/v1/stream",
      [&](std::string_view line) {
        if (ctx.json) {
          std::fwrite(line.data(), 1, line.size(), stdout);
          std::fputc('\n', stdout);
        } else {
          api::RecordView record;
          Status parsed = ParseAnswer(line, &record);
          if (!parsed.ok()) {
            bad_line = parsed;
            return false;
          }
          PrintText(FormatRecordLine(record));
        }
        std::fflush(stdout);  // a reader downstream wants each record as it comes
        return true;
      },
      ctx.Timeout());
  if (!response.ok()) return Fail(response.status());
  if (!bad_line.ok()) return Fail(bad_line);
  if (response->status < 200 || response->status > 299) {
    return Fail(DaemonError(response->status, response->body));
  }
  // Only Ctrl-C is a normal end for the user; the daemon ends streams when it stops.
  return Fail(Unavailable("hashmeshd ended the stream"));
}

}  // namespace hashmesh::cli
