// Tests for the `hashmesh` CLI pieces: input validation, batch lines, JSON text, socket discovery,
// human output, merging per-file answers, and commands run against a fake daemon.
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/json.h"
#include "daemon/api/http_server.h"
#include "daemon/cli/cli_commands.h"
#include "daemon/cli/cli_format.h"
#include "gtest/gtest.h"

namespace hashmesh::cli {
namespace {

const std::string kPdq = "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22";
const std::string kMd5 = "8bbbaa9540800e378beadc8bbef7bb32";

// "pdq:<value>", "skip" or "error: <message>".
std::string Batch(std::string_view line, const std::string& default_type = "") {
  auto r = ParseBatchLine(line, default_type);
  if (!r.ok()) return "error: " + r.status().message();
  if (!r->has_value()) return "skip";
  return (*r)->type + ":" + (*r)->value;
}

TEST(CliBatchLineTest, TypesValuesCommentsAndErrors) {
  EXPECT_EQ(Batch(""), "skip");
  EXPECT_EQ(Batch("   \t"), "skip");
  EXPECT_EQ(Batch("# pdq " + kPdq), "skip");
  EXPECT_EQ(Batch("pdq " + kPdq), "pdq:" + kPdq);
  EXPECT_EQ(Batch("  video_md5\t8BBBAA9540800E378BEADC8BBEF7BB32  \r"), "md5:" + kMd5);
  EXPECT_EQ(Batch(kMd5, "md5"), "md5:" + kMd5);
  EXPECT_EQ(Batch("url HTTPS://Example.COM/a#frag"), "url:https://example.com/a");
  EXPECT_EQ(Batch(kMd5), "error: a bare value needs --type (or write '<type> <value>')");
  EXPECT_EQ(Batch("pdq abc"),
            "error: invalid pdq value: pdq value must be 64 hex characters, got 3");
  EXPECT_EQ(Batch("url https://x.org/a b"),
            "error: expected '<type> <value>' or a bare value, got 3 fields");
  EXPECT_EQ(Batch("vpdq 00"),
            "error: cannot match signals of type vpdq; use pdq, md5, sha256 or url");
}

TEST(CliValidationTest, IdsAndSignals) {
  auto signal = ValidateSignal("md5", "8BBBAA9540800E378BEADC8BBEF7BB32", /*match_only=*/false);
  ASSERT_TRUE(signal.ok());
  EXPECT_EQ(signal->value, kMd5);
  EXPECT_TRUE(ValidateSignal("vpdq", "opaque", /*match_only=*/false).ok());
  EXPECT_EQ(ValidateSignal("phash", "00", false).status().code(), StatusCode::kInvalidArgument);

  EXPECT_EQ(*ValidateRecordId(std::string(64, 'A')), std::string(64, 'a'));
  EXPECT_EQ(ValidateRecordId("1234").status().ToString(),
            "invalid_argument: record id must be 64 hex characters, got 4");
  EXPECT_EQ(*ValidateMemberId(std::string(64, 'B')), "ed25519:" + std::string(64, 'b'));
  EXPECT_FALSE(ValidateMemberId("ed25519:zz").ok());

  google::protobuf::Timestamp ts;
  EXPECT_TRUE(ParseExpiry("2027-01-31T00:00:00Z", &ts).ok());
  EXPECT_EQ(FormatTimestamp(ts), "2027-01-31T00:00:00Z");
  EXPECT_EQ(ParseExpiry("soon", &ts).code(), StatusCode::kInvalidArgument);
}

TEST(CliJsonTest, PrettyAndQuote) {
  EXPECT_EQ(PrettyJson(R"({"a":[1,2],"b":{},"c":"x,{y}:\"[","d":[]})"),
            "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {},\n  \"c\": \"x,{y}:\\\"[\",\n"
            "  \"d\": []\n}");
  EXPECT_EQ(JsonQuote("a\"b\\c\n\x01"), R"("a\"b\\c\n\u0001")");
}

TEST(CliSocketTest, FlagThenEnvironmentThenLocalThenSystem) {
  std::string local = ::testing::TempDir() + "/hm-cli-local.sock";
  std::filesystem::remove(local);
  unsetenv("HM_TEST_SOCKET");
  EXPECT_EQ(ResolveSocket("", "HM_TEST_SOCKET", local, "/run/x.sock"), "/run/x.sock");
  { std::ofstream(local) << ""; }
  EXPECT_EQ(ResolveSocket("", "HM_TEST_SOCKET", local, "/run/x.sock"), local);
  setenv("HM_TEST_SOCKET", "/env.sock", 1);
  EXPECT_EQ(ResolveSocket("", "HM_TEST_SOCKET", local, "/run/x.sock"), "/env.sock");
  EXPECT_EQ(ResolveSocket("/flag.sock", "HM_TEST_SOCKET", local, "/run/x.sock"), "/flag.sock");
  unsetenv("HM_TEST_SOCKET");
  std::filesystem::remove(local);
}

TEST(CliErrorTest, DaemonErrorsAndExitCodes) {
  EXPECT_EQ(DaemonError(404, R"({"error":{"code":"not_found","message":"no record with id ab"}})")
                .message(),
            "no record with id ab");
  EXPECT_EQ(DaemonError(502, "<html>bad gateway</html>\n").message(),
            "hashmeshd answered HTTP 502: <html>bad gateway</html>");
  EXPECT_EQ(ExitCodeFor(DaemonError(400, "{}")), kExitError);
  EXPECT_EQ(ExitCodeFor(InvalidArgument("x")), kExitUsage);
  EXPECT_EQ(ExitCodeFor(Unavailable("x")), kExitUnreachable);
  EXPECT_EQ(FileError("/a.jpg", IoError("/a.jpg: no such file")).message(), "/a.jpg: no such file");
  EXPECT_EQ(FileError("/a.jpg", IoError("not an image")).message(), "/a.jpg: not an image");
}

api::Match MakeMatch(const std::string& id, uint32_t distance, const std::string& type = "pdq") {
  api::Match m;
  m.set_id(id);
  m.set_author("ed25519:ab12cd34" + std::string(56, '0'));
  m.set_author_name("alice");
  m.set_role("platform");
  m.set_type(type);
  m.set_value(kPdq);
  m.set_distance(distance);
  m.add_labels("terrorism/x");
  return m;
}

TEST(CliFormatTest, MatchLinesAndVerdict) {
  api::MatchResponse r;
  *r.add_matches() = MakeMatch(std::string(64, 'e'), 3);
  api::Match exact = MakeMatch(std::string(64, 'f'), 0, "md5");
  exact.set_retracted(true);
  exact.mutable_opinions()->set_endorse(2);
  exact.mutable_opinions()->set_platform_endorse(1);
  *r.add_matches() = exact;
  r.mutable_verdict()->set_action("review");
  r.mutable_verdict()->add_reasons("one platform");
  r.mutable_verdict()->add_reasons("a notice");
  EXPECT_EQ(FormatMatchResponse(r),
            "ed25519:ab12cd34.. (alice, platform) pdq d=3 labels=terrorism/x  id=" +
                std::string(64, 'e') +
                "\n"
                "ed25519:ab12cd34.. (alice, platform) md5 exact labels=terrorism/x  id=" +
                std::string(64, 'f') +
                "\n"
                "    RETRACTED; endorse 2 (1 platform)\n"
                "verdict: review \u2014 one platform; a notice\n");
  EXPECT_EQ(FormatMatchResponse(api::MatchResponse()), "no match\nverdict: none\n");
}

TEST(CliMergeTest, BestDistancePerRecordAndStrongestVerdict) {
  api::MatchResponse orig, rot90, md5;
  *orig.add_matches() = MakeMatch("r1", 12);
  orig.mutable_verdict()->set_action("review");
  orig.mutable_verdict()->add_reasons("r1 review");
  *rot90.add_matches() = MakeMatch("r1", 2);
  *rot90.add_matches() = MakeMatch("r2", 30);
  rot90.mutable_verdict()->set_action("review");
  rot90.mutable_verdict()->add_reasons("r1 review");
  md5.mutable_verdict()->set_action("none");
  md5.mutable_verdict()->add_reasons("no matching signal");
  auto merged = MergeFileAnswers({{"pdq", &orig}, {"pdq/rot90", &rot90}, {"md5", &md5}});
  std::string got;
  for (const auto& m : merged.matches()) {
    got += m.id() + "@" + std::to_string(m.distance()) + " via " + m.query_type() + "|";
  }
  EXPECT_EQ(got, "r1@2 via pdq/rot90|r2@30 via pdq/rot90|");
  EXPECT_EQ(FormatVerdict(merged.verdict()), "verdict: review \u2014 r1 review\n");
  EXPECT_EQ(MergeFileAnswers({}).verdict().action(), "none");
}

// A fake hashmeshd: /v1/match answers each query with one match carrying the query's value.
class CliDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/hm-cli-" + std::to_string(getpid());
    std::filesystem::create_directories(dir_);
    HttpServerOptions options;
    options.socket_path = dir_ + "/q.sock";
    auto server = HttpServer::Start(
        options,
        [](HttpRequest&& req, Responder respond) {
          api::MatchRequest request;
          if (req.target != "/v1/match" || !FromJson(req.body, &request).ok()) {
            return respond(JsonErrorResponse(404, "not_found", "no route " + req.target));
          }
          api::MatchBatchResponse batch;
          for (const auto& q : request.queries()) {
            auto* r = batch.add_results();
            api::Match* m = r->add_matches();
            m->set_id(std::string(64, 'a'));
            m->set_type(q.type());
            m->set_value(q.value());
            r->mutable_verdict()->set_action("none");
          }
          respond(HttpResponse{200, "application/json", ToJson(batch), nullptr});
        },
        1);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    ctx_.socket_flag = dir_ + "/q.sock";
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string dir_;
  std::unique_ptr<HttpServer> server_;
  Context ctx_;
};

TEST_F(CliDaemonTest, BatchPrintsOneLinePerInputLine) {
  std::string input = dir_ + "/in.txt";
  { std::ofstream(input) << "# hashes\nmd5 " << kMd5 << "\n\nphash 00\n" << kPdq << "\n"; }
  MatchArgs args;
  args.batch = input;
  args.type = "pdq";
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  int code = RunMatch(ctx_, args);
  std::string out = ::testing::internal::GetCapturedStdout();
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, kExitError) << "a bad line makes the exit non-zero";
  auto answer = [](int line, const std::string& type, const std::string& value) {
    return R"({"line":)" + std::to_string(line) + R"(,"type":")" + type + R"(","value":")" + value +
           R"(","matches":[{"id":")" + std::string(64, 'a') +
           R"(","author":"","author_name":"","role":"","type":")" + type + R"(","value":")" +
           value +
           R"(","distance":0,"labels":[],"seq":0,"note":"","retracted":false,"expired":false,)"
           R"("notices":[],"query_type":"","author_forked":false,"record_kind":""}],)"
           R"("verdict":{"action":"none","reasons":[]}})"
           "\n";
  };
  EXPECT_EQ(out, answer(2, "md5", kMd5) +
                     R"x({"line":4,"error":{"code":"invalid_argument","message":"unknown )x"
                     R"x(signal type 'phash' (expected pdq, md5, sha256, url, vpdq, tmk_pdqf )x"
                     R"x(or photodna)"}})x"
                     "\n" +
                     answer(5, "pdq", kPdq));
  EXPECT_NE(err.find("line 4: unknown signal type 'phash'"), std::string::npos) << err;
}

TEST_F(CliDaemonTest, DaemonErrorsAndUnreachableSocket) {
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunRecord(ctx_, std::string(64, '0')), kExitError);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "hashmesh: no route /v1/records/" + std::string(64, '0') + "\n");

  Context nowhere;
  nowhere.socket_flag = dir_ + "/missing.sock";
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunStatus(nowhere), kExitUnreachable);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "hashmesh: cannot connect to hashmeshd at " + nowhere.socket_flag +
                ": No such file or directory (is the daemon running? use --socket or "
                "$HASHMESH_SOCKET)\n");

  ::testing::internal::CaptureStderr();
  MatchArgs bad;
  bad.type = "pdq";
  bad.value = "abc";
  EXPECT_EQ(RunMatch(nowhere, bad), kExitUsage) << "checked before any daemon call";
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "hashmesh: invalid pdq value: pdq value must be 64 hex characters, got 3\n");
}

}  // namespace
}  // namespace hashmesh::cli
