// `hashmesh`: the command-line client of hashmeshd. Parses flags (CLI11) and hands each command to
// its function in cli_*.cc; exit codes: 0 ok, 1 error, 2 usage, 3 daemon unreachable.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include "daemon/cli/cli_commands.h"

namespace hashmesh::cli {
namespace {

constexpr const char* kDescription =
    "hashmesh: ask the local hashmesh node (hashmeshd) whether content matches shared "
    "fingerprints, publish fingerprints, notices and opinions, and hash files locally.\n"
    "The query socket is found from --socket, else $HASHMESH_SOCKET, else "
    "./hashmesh-data/query.sock if present, else /run/hashmesh/query.sock (the admin socket "
    "likewise: --admin-socket, $HASHMESH_ADMIN_SOCKET, admin.sock).\n"
    "With --json each command prints exactly one JSON document on stdout (except `stream` and "
    "`match --batch`, which print one JSON object per line). Exit codes: 0 ok, 1 error, "
    "2 usage or invalid input, 3 the daemon cannot be reached.";

// `footer`: the examples, or details and then "Examples:".
CLI::App* Command(CLI::App& app, const std::string& name, const std::string& description,
                  const std::string& footer) {
  CLI::App* sub = app.add_subcommand(name, description);
  sub->footer(footer.rfind("Examples:", 0) == std::string::npos &&
                      footer.find("\nExamples:") == std::string::npos
                  ? "Examples:\n" + footer
                  : footer);
  return sub;
}

int Main(int argc, char** argv) {
  Context ctx;
  std::function<int()> run;
  CLI::App app(kDescription, "hashmesh");
  app.set_version_flag("--version", HASHMESH_VERSION);
  // Not require_subcommand(1): CLI11 would then answer a misspelt command with "A subcommand is
  // required" instead of naming the word it did not expect.
  app.require_subcommand(0, 1);
  app.fallthrough();  // global flags after the command too: `hashmesh match --json ...`
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return std::string("hashmesh: ") + e.what() + "\nRun with --help for more information.\n";
  });
  app.add_option("--socket", ctx.socket_flag, "query socket of hashmeshd")->type_name("PATH");
  app.add_option("--admin-socket", ctx.admin_socket_flag, "admin socket of hashmeshd")
      ->type_name("PATH");
  app.add_flag("--json", ctx.json, "print one JSON document instead of text");
  app.add_option("--timeout", ctx.timeout_seconds, "seconds to wait for an answer (default 10)")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            char* end = nullptr;
            double v = std::strtod(text.c_str(), &end);
            bool ok = end != text.c_str() && *end == '\0' && v > 0 && v <= 86400;
            return ok ? "" : "must be a number of seconds above 0 (at most 86400)";
          },
          "", "seconds"))
      ->type_name("SECONDS");

  // ---- query socket ----
  Command(app, "status", "show the node's identity, readiness and counters",
          "  hashmesh status\n  hashmesh status --json | jq .ready")
      ->callback([&] { run = [&] { return RunStatus(ctx); }; });

  Command(app, "peers", "show the peer sessions of the node", "  hashmesh peers --json")
      ->callback([&] { run = [&] { return RunPeers(ctx); }; });

  Command(app, "forks",
          "show the fork proofs the node holds: members that signed two records at one seq",
          "Policy distrusts a member from its first fork on; the node keeps that lowest proof.\n\n"
          "Examples:\n  hashmesh forks\n  hashmesh forks --json")
      ->callback([&] { run = [&] { return RunForks(ctx); }; });

  FeedsArgs feeds;
  uint32_t from = 0, limit = 0;
  CLI::App* feeds_cmd =
      Command(app, "feeds", "list the feeds (one per member) or show records of one feed",
              "  hashmesh feeds\n"
              "  hashmesh feeds alice --from 1 --limit 20\n"
              "  hashmesh feeds ed25519:3b6a27bc... --json");
  feeds_cmd->add_option("author", feeds.author, "member id (ed25519:...) or trusted name")
      ->type_name("AUTHOR");
  CLI::Option* from_opt = feeds_cmd->add_option("--from", from, "first feed seq (default 1)");
  CLI::Option* limit_opt =
      feeds_cmd->add_option("--limit", limit, "at most this many records (default 100)");
  feeds_cmd->callback([&] {
    if (*from_opt) feeds.from = from;
    if (*limit_opt) feeds.limit = limit;
    run = [&] { return RunFeeds(ctx, feeds); };
  });

  std::string record_id;
  CLI::App* record_cmd =
      Command(app, "record", "show one record by id", "  hashmesh record 5feb0a1c...(64 hex)");
  record_cmd->add_option("id", record_id, "record id (64 hex)")->required()->type_name("ID");
  record_cmd->callback([&] { run = [&] { return RunRecord(ctx, record_id); }; });

  Command(app, "stream", "print records as the node commits them, until interrupted",
          "With --json: one RecordView JSON object per line (NDJSON).\n\n"
          "Examples:\n"
          "  hashmesh stream\n  hashmesh stream --json | jq -c .signal")
      ->callback([&] { run = [&] { return RunStream(ctx); }; });

  MatchArgs match;
  uint32_t max_distance = 0;
  CLI::App* match_cmd = Command(
      app, "match", "ask whether a hash, or image files hashed here, match shared signals",
      "FILE...: each file's PDQ (with its 8 rotations/flips), MD5 and SHA-256 are queried at\n"
      "once; --json prints one object for one FILE, an array for several or a directory.\n"
      "--batch FILE|-: one hash per line, either '<type> <value>' (python-threatexchange style,\n"
      "also video_md5/video_sha256) or a bare value with --type; blank lines and # comments are\n"
      "skipped. Prints one JSON object per input line, with or without --json:\n"
      "{\"line\",\"type\",\"value\",\"matches\",\"verdict\"} or {\"line\",\"error\"}; answers "
      "come\n"
      "256 lines at a time.\n\n"
      "Examples:\n"
      "  hashmesh match --type pdq --value "
      "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22\n"
      "  hashmesh match --type url --value https://example.com/x --json\n"
      "  hashmesh match photo.jpg uploads/\n"
      "  hashmesh match --batch hashes.txt > answers.ndjson\n"
      "  tx hash photo ... | hashmesh match --batch -");
  match_cmd->add_option("files", match.files, "image files or directories to hash and match")
      ->type_name("FILE");
  match_cmd->add_option("--type", match.type, "pdq, md5, sha256 or url")->type_name("TYPE");
  match_cmd->add_option("--value", match.value, "the hash or URL")->type_name("VALUE");
  CLI::Option* distance_opt = match_cmd->add_option(
      "--max-distance", max_distance, "PDQ Hamming distance (default: the node's, 31)");
  match_cmd->add_flag("--include-low-quality", match.include_low_quality,
                      "also use PDQ hashes of quality below 50");
  match_cmd->add_option("--batch", match.batch, "file of hashes, - for stdin")->type_name("FILE|-");
  match_cmd->add_option("--threads", match.threads, "hashing threads (default: all cores)");
  match_cmd->callback([&] {
    if (*distance_opt) match.max_distance = max_distance;
    run = [&] { return RunMatch(ctx, match); };
  });

  // ---- admin socket ----
  SubmitArgs submit;
  uint32_t quality = 0;
  CLI::App* submit_cmd = Command(
      app, "submit", "publish a signal (a fingerprint) in this node's feed",
      "  hashmesh submit --type pdq --value f8f8f0ce...(64 hex) --label terrorism/glorification\n"
      "  hashmesh submit --type md5 --value 900150983cd24fb0d6963f7d28e17f72 --label csam/x "
      "--expires 90d");
  submit_cmd->add_option("--type", submit.type, "pdq, md5, sha256, url, vpdq, tmk_pdqf, photodna")
      ->required()
      ->type_name("TYPE");
  submit_cmd->add_option("--value", submit.value, "the fingerprint")->required()->type_name("V");
  submit_cmd->add_option("--label", submit.labels, "taxonomy label (repeatable)")
      ->required()
      ->type_name("LABEL");
  submit_cmd->add_option("--note", submit.note, "free text for other members");
  submit_cmd->add_option("--content-type", submit.content_type, "e.g. photo, video");
  CLI::Option* quality_opt = submit_cmd->add_option("--quality", quality, "0 to 100");
  submit_cmd->add_option("--expires", submit.expires, "RFC 3339 time or duration (30d, 12h)")
      ->type_name("T");
  submit_cmd->callback([&] {
    if (*quality_opt) submit.quality = quality;
    run = [&] { return RunSubmit(ctx, submit); };
  });

  NoticeArgs notice;
  CLI::App* notice_cmd = Command(
      app, "notice", "publish a takedown notice about records or fingerprints",
      "  hashmesh notice --target 5feb0a1c...(64 hex) --category terrorism --jurisdiction FR \\\n"
      "      --legal-basis 'LCEN art. 6-1' --issuing-body 'OCLCTIC' --action remove --expires 30d");
  notice_cmd->add_option("--target", notice.targets, "record id (repeatable)")->type_name("ID");
  notice_cmd->add_option("--signal", notice.signals, "inline fingerprint (repeatable)")
      ->type_name("TYPE:VALUE");
  notice_cmd->add_option("--category", notice.category, "e.g. terrorism")->required();
  notice_cmd->add_option("--jurisdiction", notice.jurisdiction, "ISO 3166-1 alpha-2, or EU")
      ->required()
      ->type_name("CC");
  notice_cmd->add_option("--legal-basis", notice.legal_basis, "the law invoked")->required();
  notice_cmd->add_option("--issuing-body", notice.issuing_body, "who orders it")->required();
  notice_cmd->add_option("--reference", notice.reference, "the issuer's reference");
  notice_cmd->add_option("--action", notice.action, "remove, geo-block or review")->required();
  notice_cmd->add_option("--expires", notice.expires, "RFC 3339 time or duration (30d)")
      ->type_name("T");
  notice_cmd->callback([&] { run = [&] { return RunNotice(ctx, notice); }; });

  std::string opinion_target, opinion_reason;
  for (const char* stance : {"endorse", "dispute", "seen", "acted"}) {
    std::string s = stance;
    CLI::App* cmd =
        Command(app, s, "publish an opinion (" + s + ") on a record of any member",
                "  hashmesh " + s + " 5feb0a1c...(64 hex) --reason 'reviewed by our team'");
    cmd->add_option("id", opinion_target, "record id (64 hex)")->required()->type_name("ID");
    cmd->add_option("--reason", opinion_reason, "why");
    cmd->callback(
        [&, s] { run = [&, s] { return RunOpinion(ctx, s, opinion_target, opinion_reason); }; });
  }

  std::string retract_target, retract_reason;
  CLI::App* retract_cmd =
      Command(app, "retract", "withdraw one of this node's own records",
              "  hashmesh retract 5feb0a1c...(64 hex) --reason 'false positive'");
  retract_cmd->add_option("id", retract_target, "record id (64 hex)")->required()->type_name("ID");
  retract_cmd->add_option("--reason", retract_reason, "why")->required();
  retract_cmd->callback(
      [&] { run = [&] { return RunRetract(ctx, retract_target, retract_reason); }; });

  Command(app, "reload", "make the node re-read its trust store and configuration",
          "  hashmesh reload")
      ->callback([&] { run = [&] { return RunReload(ctx); }; });

  // ---- local ----
  HashArgs hash;
  CLI::App* hash_cmd = Command(
      app, "hash", "compute PDQ, MD5 and SHA-256 of image files here, without the daemon",
      "JPEG and PNG; directories are searched recursively. A file that fails is reported on\n"
      "stderr (exit 1) and the others are still hashed. --json prints\n"
      "[{\"file\",\"pdq\",\"quality\",\"md5\",\"sha256\"}, ...] (+ \"dihedral\": "
      "{\"orig\",\"rot90\",\n"
      "\"rot180\",\"rot270\",\"flipx\",\"flipy\",\"flipp\",\"flipm\"} with --dihedral).\n\n"
      "Examples:\n"
      "  hashmesh hash photo.jpg\n  hashmesh hash --json --dihedral uploads/ > hashes.json");
  hash_cmd->add_option("paths", hash.paths, "files or directories")
      ->required()
      ->type_name("FILE|DIR");
  hash_cmd->add_flag("--dihedral", hash.dihedral, "also the 7 rotated/flipped PDQ variants");
  hash_cmd->add_option("--threads", hash.threads, "hashing threads (default: all cores)");
  hash_cmd->callback([&] { run = [&] { return RunHash(ctx, hash); }; });

  // ---- interop and transparency ----
  ExportArgs export_args;
  CLI::App* export_cmd = Command(
      app, "export", "write every record the node holds, or its current signal list as CSV",
      "--format jsonl (default): one record a line, the API's RecordView JSON with \"body\" and\n"
      "\"signature\" exactly as signed (base64), every feed in seq order, then the other record\n"
      "of each fork the node holds a proof of; `verify-log` checks it (and reports the forks).\n"
      "--format te-csv: the fingerprints of current signals and notices (not retracted, not\n"
      "expired) as a python-threatexchange CSV dataset, header\n"
      "signal_type,signal_str,collab,category,tags (a notice's rows: tags notice <category>).\n"
      "Types: pdq -> pdq, md5 -> video_md5, sha256 -> video_sha256, url -> url, vpdq -> vpdq,\n"
      "tmk_pdqf -> video_tmkpdqf; photodna has no such type and is left out (counted on stderr).\n"
      "collab is the author's name; category comes from a category/<c> label (POSITIVE_CLASS\n"
      "without one); tags are the other labels, a tag/ prefix removed (the reverse of `import`).\n"
      "With --output, FILE is written whole or not at all, and a summary is printed (--json:\n"
      "{\"file\",\"format\",\"records\",\"members\",\"left_out\"}).\n\n"
      "Examples:\n"
      "  hashmesh export --output node.jsonl\n"
      "  hashmesh export --format te-csv > signals.csv");
  export_cmd->add_option("--format", export_args.format, "jsonl (default) or te-csv")
      ->type_name("FORMAT");
  export_cmd->add_option("--output", export_args.output, "write to FILE instead of stdout")
      ->type_name("FILE");
  export_cmd->callback([&] { run = [&] { return RunExport(ctx, export_args); }; });

  ImportArgs import_args;
  CLI::App* import_cmd = Command(
      app, "import", "publish a python-threatexchange hash list as signals, in batches",
      "FILE (- for stdin) is either '<type> <value>' lines or a CSV dataset with the header\n"
      "signal_type,signal_str,collab,category,tags (found by --format auto). Types: pdq,\n"
      "video_md5 -> md5, video_sha256 -> sha256, url, vpdq, video_tmkpdqf -> tmk_pdqf (our md5,\n"
      "sha256, tmk_pdqf, photodna also); url_md5 and others are refused. Every signal gets the\n"
      "--label values; a CSV row adds category/<category in lower case> and tag/<tag> for each\n"
      "of its tags (collab is not kept). Blank lines and # comments are skipped.\n"
      "Skipped: signals this node already published (or published and retracted: republish\n"
      "those with `submit`) and lines repeating an earlier one. Refused: bad lines (with the\n"
      "line number) and items the daemon refuses. Prints a summary (--json: one document\n"
      "{\"imported\",\"skipped\",\"refused\",\"skipped_by_reason\",\"refused_lines\", ...});\n"
      "exit 1 if any line was refused. A progress bar is drawn on stderr when it is a terminal.\n\n"
      "Examples:\n"
      "  hashmesh import hashes.txt --label terrorism/glorification\n"
      "  hashmesh import dataset.csv --label source/gifct --json");
  import_cmd->add_option("file", import_args.file, "the list, - for stdin")
      ->required()
      ->type_name("FILE");
  import_cmd->add_option("--format", import_args.format, "auto (default), lines or te-csv")
      ->type_name("FORMAT");
  import_cmd->add_option("--label", import_args.labels, "label for every signal (repeatable)")
      ->type_name("LABEL");
  import_cmd->add_option("--batch-size", import_args.batch_size,
                         "signals per request, 1 to 1000 (default 500)");
  import_cmd->callback([&] { run = [&] { return RunImport(ctx, import_args); }; });

  VerifyLogArgs verify;
  CLI::App* verify_cmd = Command(
      app, "verify-log", "verify an export offline: signatures, manifests, chains, roles, forks",
      "Needs no daemon. For each author, the records in seq order must form a valid feed from\n"
      "seq 1 (signatures, manifests, prev links), the author must be in the trust store with a\n"
      "role that may publish each kind, retractions must target the author's own records; two\n"
      "validly signed records at one author and seq are reported as an equivocation. Several\n"
      "FILEs (e.g. exports of several nodes) are verified as one log. Prints each problem\n"
      "(FILE:LINE: author seq N id ID: what is wrong) and 'verified N records from M members;\n"
      "P problems'; exit 1 if there is any problem. --json: {\"ok\",\"summary\",\n"
      "\"records\",\"members\",\"lines\",\"problems\": [{\"file\",\"line\",\"author\",\n"
      "\"author_name\",\"seq\",\"id\",\"problem\"}]}.\n\n"
      "Examples:\n"
      "  hashmesh verify-log node.jsonl --trust /etc/hashmesh/trust.toml");
  verify_cmd->add_option("files", verify.files, "export files (JSON lines), - for stdin")
      ->required()
      ->type_name("FILE");
  verify_cmd->add_option("--trust", verify.trust, "trust store (trust.toml)")
      ->required()
      ->type_name("FILE");
  verify_cmd->callback([&] { run = [&] { return RunVerifyLog(ctx, verify); }; });

  Command(app, "audit",
          "report on the node's records: members, roles, kinds, notices, disputes, labels",
          "Counts every record the node holds (read as `export` does): records per member, role\n"
          "and kind; notices per issuing body, jurisdiction and category; every dispute and\n"
          "retraction; signals per label (with how many were retracted or expired).\n\n"
          "Examples:\n"
          "  hashmesh audit\n  hashmesh audit --json | jq .notices_by_jurisdiction")
      ->callback([&] { run = [&] { return RunAudit(ctx); }; });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);  // prints help, the version, or the error
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (!run) {
    std::fputs("hashmesh: give a command, e.g. `hashmesh status`; see hashmesh --help\n", stderr);
    return kExitUsage;
  }
  return run();
}

}  // namespace
}  // namespace hashmesh::cli

int main(int argc, char** argv) { return hashmesh::cli::Main(argc, argv); }
