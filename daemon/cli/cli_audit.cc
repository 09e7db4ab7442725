// `hashmesh verify-log FILE... --trust FILE` (offline, no daemon) and `hashmesh audit`: checking
// and summarising the records a node holds.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>

#include "common/clock.h"
#include "common/json.h"
#include "daemon/cli/audit_report.h"
#include "daemon/cli/cli_commands.h"
#include "daemon/cli/log_verifier.h"
#include "daemon/cli/record_log.h"
#include "keys/trust_store.h"

namespace hashmesh::cli {
namespace {

Status ReadLog(const std::string& path, LogVerifier* verifier) {
  return ForEachInputLine(path, [verifier](const std::string& name, uint32_t number,
                                           const std::string& line) {
    verifier->AddLine(name, number, line);
  });
}

}  // namespace

int RunVerifyLog(const Context& ctx, const VerifyLogArgs& args) {
  if (args.files.empty()) return Fail(InvalidArgument("give the export FILE to verify"));
  auto trust = LoadTrustStore(args.trust);
  if (!trust.ok()) {
    // A missing or malformed trust file is bad input, like a bad flag.
    return Fail(InvalidArgument(FileError(args.trust, trust.status()).message()));
  }
  LogVerifier verifier(&*trust);
  for (const auto& path : args.files) {
    Status s = ReadLog(path, &verifier);
    if (!s.ok()) return Fail(s);
  }
  api::VerifyLogReport report = verifier.Finish();
  if (ctx.json) {
    PrintJsonDocument(ToJson(report));
  } else {
    for (const auto& p : report.problems()) {
      std::printf("%s\n", LogVerifier::FormatProblem(p).c_str());
    }
    std::printf("%s\n", report.summary().c_str());
  }
  return report.ok() ? kExitOk : kExitError;
}

int RunAudit(const Context& ctx) {
  api::FeedsResponse feeds;
  auto records = FetchNodeRecords(ctx, &feeds);
  if (!records.ok()) return Fail(records.status());
  api::AuditReport report = BuildAuditReport(feeds, *records, NowMs());
  if (ctx.json) {
    PrintJsonDocument(ToJson(report));
  } else {
    std::string text = FormatAuditReport(report);
    std::fwrite(text.data(), 1, text.size(), stdout);
  }
  return kExitOk;
}

}  // namespace hashmesh::cli
