// hashmesh import / export / verify-log / audit against real daemons: python-threatexchange lists
// in, signed record logs out and verified offline, also for a three-node federation.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/json.h"
#include "proto/api.pb.h"
#include "proto/reports.pb.h"
#include "tests/support/federation.h"
#include "tests/support/json.h"
#include "tests/support/test_member.h"
#include "tests/support/test_node.h"

namespace hashmesh::testing {
namespace {

const std::string kPdq1 = "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22";
const std::string kPdq2 = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
const std::string kMd5 = "8bbbaa9540800e378beadc8bbef7bb32";
const std::string kSha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<api::RecordView> Records(const std::string& jsonl) {
  std::vector<api::RecordView> out;
  for (const auto& line : Lines(jsonl)) out.push_back(ParseJson<api::RecordView>(line));
  return out;
}

// The node's signals, sorted: "pdq:d8f8f0ce photo [test/a test/b]" one a line (URLs whole).
std::string SignalsText(const TestNode& node) {
  auto r = node.Cli({"export"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines;
  for (const auto& v : Records(r.out)) {
    if (v.kind() != "signal") continue;
    std::string labels;
    for (const auto& l : v.signal().labels()) labels += (labels.empty() ? "" : " ") + l;
    const std::string& value = v.signal().value();
    lines.push_back(v.signal().type() + ":" +
                    (v.signal().type() == "url" ? value : value.substr(0, 8)) + " " +
                    (v.signal().content_type().empty() ? "" : v.signal().content_type() + " ") +
                    "[" + labels + "]");
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// "4: why | 5: why" (line numbers of the refused lines)
std::string Refused(const api::ImportReport& report) {
  std::string out;
  for (const auto& i : report.refused_lines()) {
    out += (out.empty() ? "" : " | ") + std::to_string(i.line()) + ": " + i.reason();
  }
  return out;
}

// Flips one bit of byte `at` of the body (or signature) of line `line` (0-based), re-encoded.
std::string Tamper(const std::string& jsonl, size_t line, bool signature, size_t at) {
  std::vector<std::string> lines = Lines(jsonl);
  api::RecordView v = ParseJson<api::RecordView>(lines.at(line));
  std::string bytes = signature ? v.signature() : v.body();
  bytes.at(at) = static_cast<char>(bytes.at(at) ^ 0x01);
  signature ? v.set_signature(bytes) : v.set_body(bytes);
  lines[line] = ToJson(v);
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

api::VerifyLogReport VerifyLog(const std::string& file, const std::string& trust, int* exit_code) {
  auto r = RunProgram("hashmesh", {"verify-log", file, "--trust", trust, "--json"});
  *exit_code = r.exit_code;
  return ParseJson<api::VerifyLogReport>(r.out);
}

class InteropTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(node_.Start().ok()) << node_.log(); }

  std::string Path(const std::string& name) const { return dir_.path() + "/" + name; }
  std::string Trust() const { return node_.data_dir() + "/trust.toml"; }

  api::ImportReport Import(const std::vector<std::string>& args, int expected_exit) {
    std::vector<std::string> all = {"--json", "import"};
    all.insert(all.end(), args.begin(), args.end());
    auto r = node_.Cli(all);
    EXPECT_EQ(r.exit_code, expected_exit) << r.out << r.err;
    return ParseJson<api::ImportReport>(r.out);
  }

  TempDir dir_;
  TestNode node_{dir_.path(), "alice"};
};

TEST_F(InteropTest, ImportsListsAndCsvWithLabelsSkipsDuplicatesReportsBadLines) {
  WriteFile(Path("list.txt"),
            "# python-threatexchange local list\n"
            "pdq " +
                kPdq1 +
                "\n"
                "video_md5 " +
                kMd5 +
                "\n"
                "url_md5 " +
                kMd5 +
                "\n"
                "pdq abc\n"
                "\n"
                "PDQ " +
                kPdq1.substr(0, 10) + "ABCDEF" + kPdq1.substr(16) +
                "\n"
                "pdq " +
                kPdq1 + "\n");
  auto lines = Import({Path("list.txt"), "--label", "test/a", "--label", "test/b"}, 1);
  EXPECT_EQ(lines.format(), "lines");
  EXPECT_EQ(lines.signals(), 6u);
  EXPECT_EQ(lines.imported(), 3u);
  EXPECT_EQ(lines.skipped(), 1u);
  EXPECT_EQ(lines.refused(), 2u);
  EXPECT_EQ(Refused(lines),
            "4: hashmesh has no signal type 'url_md5' (it takes pdq, video_md5, video_sha256, "
            "url, vpdq, video_tmkpdqf, and its own md5, sha256, tmk_pdqf, photodna) | "
            "5: invalid pdq value: pdq value must be 64 hex characters, got 3");
  ASSERT_EQ(lines.skipped_by_reason_size(), 1);
  EXPECT_EQ(lines.skipped_by_reason(0).reason(), "repeated in the file");

  WriteFile(Path("set.csv"),
            "signal_type,signal_str,collab,category,tags\n"
            "pdq," +
                kPdq2 +
                ",gifct,POSITIVE_CLASS,terrorism/x violence\n"
                "video_sha256," +
                kSha +
                ",gifct,NEGATIVE_CLASS,\n"
                "url,HTTPS://Example.COM/a,,INVESTIGATION_SEED,\"seed one\"\n"
                "pdq," +
                kPdq1 +
                ",gifct,POSITIVE_CLASS,\n"
                "pdq," +
                RandomPdqHex(7) +
                ",gifct,SOMETIMES,\n"
                "pdq,\"unterminated,x,y,z\n");
  auto csv = Import({Path("set.csv"), "--label", "src/test"}, 1);
  EXPECT_EQ(csv.format(), "te-csv");
  EXPECT_EQ(csv.signals(), 6u);
  EXPECT_EQ(csv.imported(), 3u);
  EXPECT_EQ(csv.skipped(), 1u) << "pdq 1 was published from the list";
  ASSERT_EQ(csv.skipped_by_reason_size(), 1);
  EXPECT_EQ(csv.skipped_by_reason(0).reason(), "already published by this node");
  EXPECT_EQ(Refused(csv),
            "6: unknown category 'SOMETIMES' (expected NEGATIVE_CLASS, INVESTIGATION_SEED or "
            "POSITIVE_CLASS) | 7: unterminated quoted CSV field");

  const std::string p2 = kPdq2.substr(0, 8);
  EXPECT_EQ(
      SignalsText(node_),
      "md5:8bbbaa95 video [test/a test/b]\n"
      "pdq:d8f8f0ce photo [test/a test/b]\n"
      "pdq:d8f8f0ce photo [test/a test/b]\n"
      "pdq:" +
          p2 +
          " photo [src/test category/positive_class tag/terrorism/x tag/violence]\n"
          "sha256:9f86d081 video [src/test category/negative_class]\n"
          "url:https://example.com/a [src/test category/investigation_seed tag/seed tag/one]\n");

  // Everything again: nothing new.
  auto again = Import({Path("list.txt"), "--label", "test/a"}, 1);
  EXPECT_EQ(again.imported(), 0u);
  EXPECT_EQ(again.skipped(), 4u);
  auto again_csv = Import({Path("set.csv"), "--label", "src/test"}, 1);
  EXPECT_EQ(again_csv.imported(), 0u);
  EXPECT_EQ(again_csv.skipped(), 4u);

  // A list of lines carries no labels: one is needed.
  auto no_label = node_.Cli({"import", Path("list.txt")});
  EXPECT_EQ(no_label.exit_code, 2) << no_label.err;
  EXPECT_NE(no_label.err.find("give at least one --label"), std::string::npos) << no_label.err;
}

TEST_F(InteropTest, ExportVerifiesOfflineAndOneFlippedByteFailsNamingTheRecord) {
  for (int i = 0; i < 3; ++i) {
    auto r = node_.Cli(
        {"submit", "--type", "pdq", "--value", RandomPdqHex(100 + i), "--label", "test/x"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  auto export_id = [&](int line) {
    auto r = node_.Cli({"export"});
    return Records(r.out).at(line).id();
  };
  ASSERT_EQ(node_.Cli({"retract", export_id(2), "--reason", "false positive"}).exit_code, 0);
  auto exported = node_.Cli({"--json", "export", "--output", Path("log.jsonl")});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  auto summary = ParseJson<api::ExportSummary>(exported.out);
  EXPECT_EQ(summary.records(), 5u) << "manifest, 3 signals, 1 retraction";
  const std::string log = ReadFile(Path("log.jsonl"));
  ASSERT_EQ(Lines(log).size(), 5u);

  // The node is not needed to verify.
  ASSERT_EQ(node_.Stop(), 0);
  int code = -1;
  auto ok = VerifyLog(Path("log.jsonl"), Trust(), &code);
  EXPECT_EQ(code, 0);
  EXPECT_EQ(ok.summary(), "verified 5 records from 1 members; 0 problems");
  auto text = RunProgram("hashmesh", {"verify-log", Path("log.jsonl"), "--trust", Trust()});
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_EQ(text.out, "verified 5 records from 1 members; 0 problems\n");

  const std::string seq3_id = Records(log).at(2).id();
  for (bool signature : {false, true}) {
    for (size_t at : {size_t{0}, size_t{3}, size_t{40}, size_t{63}}) {
      SCOPED_TRACE(std::string(signature ? "signature" : "body") + " byte " + std::to_string(at));
      WriteFile(Path("bad.jsonl"), Tamper(log, 2, signature, at));
      auto bad = VerifyLog(Path("bad.jsonl"), Trust(), &code);
      EXPECT_EQ(code, 1);
      EXPECT_FALSE(bad.ok());
      ASSERT_GE(bad.problems_size(), 1);
      EXPECT_EQ(bad.problems(0).line(), 3u);
      EXPECT_EQ(bad.problems(0).seq(), 3u);
      EXPECT_EQ(bad.problems(0).id(), seq3_id);
      EXPECT_EQ(bad.problems(0).author_name(), "alice");
      EXPECT_EQ(bad.records(), 2u) << "seq 1 and 2 still verify";
    }
  }
  WriteFile(Path("bad.jsonl"), Tamper(log, 2, /*signature=*/true, 10));
  auto named = RunProgram("hashmesh", {"verify-log", Path("bad.jsonl"), "--trust", Trust()});
  EXPECT_EQ(named.exit_code, 1);
  EXPECT_EQ(Lines(named.out).at(0),
            Path("bad.jsonl") + ":3: alice seq 3 id " + seq3_id + ": signature does not verify");

  // The author is not in this trust file (which lists somebody else).
  ASSERT_EQ(RunProgram("hashmesh-keys",
                       {"trust", "add", "--trust", Path("other.toml"), "--name", "bob", "--member",
                        "ed25519:" + std::string(64, 'b'), "--role", "platform"})
                .exit_code,
            0);
  auto untrusted = VerifyLog(Path("log.jsonl"), Path("other.toml"), &code);
  EXPECT_EQ(code, 1);
  ASSERT_EQ(untrusted.problems_size(), 1);
  EXPECT_EQ(untrusted.problems(0).problem(),
            "author is not in the trust store (the export names it 'alice'): none of its 5 "
            "records can be trusted");
  EXPECT_EQ(untrusted.records(), 0u);

  // alice as an auditor may not publish signals.
  const std::string member = Records(log).at(0).author();
  WriteFile(Path("auditor.toml"),
            "[[member]]\nname = \"alice\"\nid = \"" + member + "\"\nroles = [\"auditor\"]\n");
  auto auditor = VerifyLog(Path("log.jsonl"), Path("auditor.toml"), &code);
  EXPECT_EQ(code, 1);
  ASSERT_EQ(auditor.problems_size(), 3);
  EXPECT_EQ(auditor.problems(0).seq(), 2u);
  EXPECT_EQ(auditor.problems(0).problem(), "member alice (auditor) may not publish a signal");

  // Garbage and a missing trust file.
  WriteFile(Path("junk.jsonl"), log + "not json\n");
  auto junk = VerifyLog(Path("junk.jsonl"), Trust(), &code);
  EXPECT_EQ(code, 1);
  ASSERT_EQ(junk.problems_size(), 1);
  EXPECT_EQ(junk.problems(0).line(), 6u);
  EXPECT_EQ(
      RunProgram("hashmesh", {"verify-log", Path("log.jsonl"), "--trust", Path("none")}).exit_code,
      2);
}

// `export --output F` once wrote through F.tmp: a link planted there by another local user made
// the export overwrite whatever it pointed at. The temporary file is now created exclusively.
TEST_F(InteropTest, ExportNeverWritesThroughALinkPlantedBesideItsOutput) {
  ASSERT_EQ(node_.Cli({"submit", "--type", "pdq", "--value", RandomPdqHex(7), "--label", "t/x"})
                .exit_code,
            0);
  const std::string victim = Path("victim.txt");
  { std::ofstream(victim) << "keep me\n"; }
  ASSERT_EQ(::symlink(victim.c_str(), Path("log.jsonl.tmp").c_str()), 0);
  auto exported = node_.Cli({"--json", "export", "--output", Path("log.jsonl")});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_EQ(ReadFile(victim), "keep me\n");
  EXPECT_EQ(Lines(ReadFile(Path("log.jsonl"))).size(), 2u) << "manifest and the signal";
  // Nothing is left beside the output but the planted link.
  size_t beside = 0;
  for (const auto& e : std::filesystem::directory_iterator(Path(""))) {
    beside += e.path().filename().string().rfind("log.jsonl.tmp", 0) == 0;
  }
  EXPECT_EQ(beside, 1u);
}

TEST_F(InteropTest, TeCsvExportRoundTripsThroughImportIntoASecondNode) {
  WriteFile(Path("set.csv"),
            "signal_type,signal_str,collab,category,tags\n"
            "pdq," +
                kPdq2 +
                ",gifct,POSITIVE_CLASS,terrorism/x violence\n"
                "video_sha256," +
                kSha +
                ",gifct,NEGATIVE_CLASS,\n"
                "video_md5," +
                kMd5 +
                ",gifct,INVESTIGATION_SEED,a\n"
                "url,https://example.com/a,,POSITIVE_CLASS,\n");
  Import({Path("set.csv")}, 0);
  // Retracted and expired signals are not in the current list.
  auto gone = node_.Cli(
      {"--json", "submit", "--type", "pdq", "--value", RandomPdqHex(5), "--label", "x/y"});
  ASSERT_EQ(gone.exit_code, 0);
  auto gone_id = ParseJson<api::PublishResponse>(gone.out).id();
  ASSERT_EQ(node_.Cli({"retract", gone_id, "--reason", "mistake"}).exit_code, 0);
  ASSERT_EQ(node_
                .Cli({"submit", "--type", "pdq", "--value", RandomPdqHex(6), "--label", "x/y",
                      "--expires", "1s"})
                .exit_code,
            0);
  ASSERT_EQ(
      node_.Cli({"submit", "--type", "photodna", "--value", "opaque", "--label", "x/y"}).exit_code,
      0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));

  auto exported = node_.Cli({"export", "--format", "te-csv", "--output", Path("out.csv")});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_NE(exported.err.find("left out 1 current signals"), std::string::npos) << exported.err;
  const std::string csv = ReadFile(Path("out.csv"));
  EXPECT_EQ(csv,
            "signal_type,signal_str,collab,category,tags\n"
            "pdq," +
                kPdq2 +
                ",alice,POSITIVE_CLASS,terrorism/x violence\n"
                "video_sha256," +
                kSha +
                ",alice,NEGATIVE_CLASS,\n"
                "video_md5," +
                kMd5 +
                ",alice,INVESTIGATION_SEED,a\n"
                "url,https://example.com/a,alice,POSITIVE_CLASS,\n");

  TestNode bob(dir_.path(), "bob");
  ASSERT_TRUE(bob.Start().ok()) << bob.log();
  auto imported = bob.Cli({"--json", "import", Path("out.csv")});
  ASSERT_EQ(imported.exit_code, 0) << imported.out << imported.err;
  EXPECT_EQ(ParseJson<api::ImportReport>(imported.out).imported(), 4u);
  auto again = bob.Cli({"export", "--format", "te-csv"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  std::string expected = csv;
  for (size_t at; (at = expected.find(",alice,")) != std::string::npos;) {
    expected.replace(at, 7, ",bob,");
  }
  EXPECT_EQ(again.out, expected);
}

// The case: three nodes publish, one node's export verifies offline with the shared
// trust store, and a flipped byte fails naming the record.
TEST(InteropFederationTest, ThreeNodeExportVerifiesOffline) {
  Federation fed({{"alice"}, {"bob"}, {"gov", "authority"}});
  ASSERT_TRUE(fed.Start(0, {}).ok());
  ASSERT_TRUE(fed.Start(1, {0}).ok());
  ASSERT_TRUE(fed.Start(2, {0, 1}).ok());
  api::PublishResponse alice_signal;
  ASSERT_TRUE(WaitFor([&] {
    auto r = PublishSignal(fed.node(0), RandomPdqHex(1), "terrorism/x");
    if (r.ok()) alice_signal = *r;
    return r.ok();
  })) << fed.node(0).log();
  for (size_t i : {1, 2}) {
    ASSERT_TRUE(WaitFor([&] { return PublishSignal(fed.node(i), RandomPdqHex(10 + i)).ok(); }))
        << fed.node(i).log();
  }
  ASSERT_TRUE(WaitFor([&] {
    return FeedSeq(fed.node(1), fed.member_id(0)) >= 2 &&
           FeedSeq(fed.node(2), fed.member_id(0)) >= 2;
  }));
  auto endorse = fed.node(1).Cli({"dispute", alice_signal.id(), "--reason", "not terrorism"});
  ASSERT_EQ(endorse.exit_code, 0) << endorse.err;
  const std::string notice_pdq = RandomPdqHex(20);
  auto notice = fed.node(2).Cli({"notice", "--target", alice_signal.id(), "--signal",
                                 "pdq:" + notice_pdq, "--category", "terrorism", "--jurisdiction",
                                 "FR", "--legal-basis", "LCEN 6-1", "--issuing-body", "OCLCTIC",
                                 "--action", "remove"});
  ASSERT_EQ(notice.exit_code, 0) << notice.err;
  std::string detail;
  ASSERT_TRUE(WaitConverged(fed, {0, 1, 2}, 15, &detail, "alice:2 bob:3 gov:3")) << detail;

  const std::string file = fed.dir() + "/fed.jsonl";
  auto exported = fed.node(0).Cli({"export", "--output", file});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  int code = -1;
  auto report = VerifyLog(file, fed.trust_file(), &code);
  EXPECT_EQ(code, 0);
  EXPECT_EQ(report.summary(), "verified 8 records from 3 members; 0 problems");

  auto audit = fed.node(0).Cli({"--json", "audit"});
  ASSERT_EQ(audit.exit_code, 0) << audit.err;
  auto a = ParseJson<api::AuditReport>(audit.out);
  EXPECT_EQ(a.records(), 8u);
  EXPECT_EQ(a.members(), 3u);
  ASSERT_EQ(a.notices_by_issuing_body_size(), 1);
  EXPECT_EQ(a.notices_by_issuing_body(0).key(), "OCLCTIC");
  ASSERT_EQ(a.notices_by_jurisdiction_size(), 1);
  EXPECT_EQ(a.notices_by_jurisdiction(0).key(), "FR");
  ASSERT_EQ(a.disputes_size(), 1);
  EXPECT_EQ(a.disputes(0).author_name(), "bob");
  EXPECT_EQ(a.disputes(0).target(), alice_signal.id());
  EXPECT_EQ(a.disputes(0).reason(), "not terrorism");
  ASSERT_GE(a.signals_by_label_size(), 1);
  std::string roles;
  for (const auto& c : a.by_role()) roles += c.key() + "=" + std::to_string(c.count()) + " ";
  EXPECT_EQ(roles, "platform=5 authority=3 ");

  // The te-csv list has the fingerprint inside gov's notice, tagged as one.
  auto csv = fed.node(0).Cli({"export", "--format", "te-csv"});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_NE(csv.out.find("pdq," + notice_pdq + ",gov,POSITIVE_CLASS,notice terrorism\n"),
            std::string::npos)
      << csv.out;

  // Flip a byte in the body of gov's notice.
  const std::string log = ReadFile(file);
  std::vector<api::RecordView> records = Records(log);
  size_t notice_line = 0;
  while (records.at(notice_line).kind() != "notice") ++notice_line;
  WriteFile(file, Tamper(log, notice_line, /*signature=*/false, 20));
  auto bad = VerifyLog(file, fed.trust_file(), &code);
  EXPECT_EQ(code, 1);
  ASSERT_GE(bad.problems_size(), 1);
  EXPECT_EQ(bad.problems(0).author_name(), "gov");
  EXPECT_EQ(bad.problems(0).seq(), records[notice_line].seq());
  EXPECT_EQ(bad.problems(0).id(), records[notice_line].id());
  EXPECT_EQ(bad.records(), 7u);
}

}  // namespace
}  // namespace hashmesh::testing
