// One real node end to end: hashmeshd started with no config, driven through the hashmesh CLI and
// raw HTTP on its sockets, restarted and killed.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/json.h"
#include "common/pdq_hash.h"
#include "proto/api.pb.h"
#include "tests/support/json.h"
#include "tests/support/test_node.h"

namespace hashmesh::testing {
namespace {

const std::string kPdq = "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22";

std::string FlipBits(const std::string& hex, std::vector<int> bits) {
  PdqHash h = *PdqHash::FromHex(hex);
  for (int b : bits) h.FlipBit(b);
  return h.ToHex();
}

class NodeTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(node_.Start().ok()) << node_.log(); }

  api::PublishResponse Submit(const std::string& value, const std::string& label = "terrorism/x") {
    auto r = node_.Cli({"--json", "submit", "--type", "pdq", "--value", value, "--label", label});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return ParseJson<api::PublishResponse>(r.out);
  }
  api::MatchResponse Match(const std::string& type, const std::string& value) {
    auto r = node_.Cli({"--json", "match", "--type", type, "--value", value});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return ParseJson<api::MatchResponse>(r.out);
  }

  TempDir dir_;
  TestNode node_{dir_.path(), "alice"};
};

TEST_F(NodeTest, SubmitMatchRestartKill) {
  auto published = Submit(kPdq);
  EXPECT_EQ(published.seq(), 2u) << "seq 1 is the node's manifest";
  EXPECT_EQ(published.id().size(), 64u);

  auto exact = Match("pdq", kPdq);
  ASSERT_EQ(exact.matches_size(), 1);
  EXPECT_EQ(exact.matches(0).distance(), 0u);
  EXPECT_EQ(exact.matches(0).id(), published.id());
  EXPECT_EQ(exact.matches(0).author_name(), "alice");
  EXPECT_EQ(exact.matches(0).labels(0), "terrorism/x");
  // One platform of the two that policy needs: review, not act.
  EXPECT_EQ(exact.verdict().action(), "review");

  auto near = Match("pdq", FlipBits(kPdq, {0, 77, 200}));
  ASSERT_EQ(near.matches_size(), 1);
  EXPECT_EQ(near.matches(0).distance(), 3u);
  auto far = Match(
      "pdq", FlipBits(kPdq, {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                             16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31}));
  EXPECT_EQ(far.matches_size(), 0) << "32 bits away is beyond the default threshold of 31";
  EXPECT_EQ(far.verdict().action(), "none");
  // The admin socket answers the read-only routes too, matching among them.
  auto on_admin = node_.Admin("POST", "/v1/match", "{\"type\":\"pdq\",\"value\":\"" + kPdq + "\"}");
  ASSERT_TRUE(on_admin.ok());
  EXPECT_EQ(on_admin->status, 200) << on_admin->body;
  EXPECT_EQ(ParseJson<api::MatchResponse>(on_admin->body).matches_size(), 1);

  ASSERT_EQ(node_.Stop(), 0) << node_.log();
  ASSERT_TRUE(node_.Start().ok()) << node_.log();
  EXPECT_EQ(Match("pdq", FlipBits(kPdq, {5})).matches_size(), 1) << "survives a restart";

  // Acknowledged means durable: kill -9 right after the answer.
  auto second =
      Submit(FlipBits(kPdq, {100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113,
                             114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127,
                             128, 129, 130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 140}));
  node_.Kill();
  ASSERT_TRUE(node_.Start().ok()) << node_.log();
  auto r = node_.Query("GET", "/v1/records/" + second.id());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 200) << r->body;
  auto view = ParseJson<api::RecordView>(r->body);
  EXPECT_EQ(view.seq(), 3u);
  EXPECT_EQ(view.kind(), "signal");

  // The data directory is a plain LMDB environment.
  node_.Stop();
  std::string cmd = "mdb_stat -a " + node_.data_dir() + " > /dev/null 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  cmd = "mdb_stat -s records " + node_.data_dir() + " | grep -q 'Entries: 3'";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
}

TEST_F(NodeTest, ExactTypesAndBadInput) {
  const std::string md5 = "900150983cd24fb0d6963f7d28e17f72";
  auto r = node_.Cli({"--json", "submit", "--type", "md5", "--value", md5, "--label", "csam/x"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = node_.Cli({"--json", "submit", "--type", "url", "--value", "HTTPS://Example.com/a#x",
                 "--label", "spam"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Match("md5", "900150983CD24FB0D6963F7D28E17F72").matches_size(), 1);
  EXPECT_EQ(Match("url", "https://example.com/a").matches_size(), 1);
  EXPECT_EQ(Match("sha256", std::string(64, 'a')).matches_size(), 0);

  // Errors a user can make: clear message, non-zero exit, the daemon unharmed.
  r = node_.Cli({"submit", "--type", "pdq", "--value", "abc", "--label", "x"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("64 hex"), std::string::npos) << r.err;
  r = node_.Cli({"match", "--type", "phash", "--value", "00"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("phash"), std::string::npos) << r.err;
  r = node_.Cli({"retract", std::string(64, '0'), "--reason", "x"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("no record"), std::string::npos) << r.err;

  // Raw HTTP: malformed, unknown route, wrong method, oversized, bad values.
  auto h = node_.Query("POST", "/v1/match", "{not json");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->status, 400);
  EXPECT_NE(h->body.find("\"code\":\"invalid_argument\""), std::string::npos) << h->body;
  h = node_.Query("GET", "/v1/nothing");
  EXPECT_EQ(h->status, 404);
  h = node_.Query("DELETE", "/v1/status");
  EXPECT_EQ(h->status, 405);
  h = node_.Query("POST", "/v1/match",
                  "{\"type\":\"pdq\",\"value\":\"" + std::string(2 << 20, 'a') + "\"}");
  if (h.ok()) {  // the server may also close before reading it all
    EXPECT_EQ(h->status, 413);
  }
  h = node_.Query("POST", "/v1/match", "{\"type\":\"pdq\",\"value\":\"zz\"}");
  EXPECT_EQ(h->status, 400);
  h = node_.Query("POST", "/v1/match",
                  "{\"type\":\"pdq\",\"value\":\"" + kPdq + "\",\"max_distance\":200}");
  EXPECT_EQ(h->status, 400);
  h = node_.Query("POST", "/v1/signals", "{\"type\":\"md5\",\"value\":\"" + md5 + "\"}");
  EXPECT_EQ(h->status, 404) << "publishing is only on the admin socket";
  h = node_.Admin("POST", "/v1/signals", "{\"type\":\"md5\",\"value\":\"" + md5 + "\"}");
  EXPECT_EQ(h->status, 400) << "a signal needs a label";
  h = node_.Admin("POST", "/v1/signals",
                  "{\"type\":\"md5\",\"value\":\"" + md5 + "\",\"labelz\":[]}");
  EXPECT_EQ(h->status, 400) << "unknown fields are reported";
  EXPECT_EQ(node_.Query("GET", "/v1/status")->status, 200);
}

TEST_F(NodeTest, OpinionsAndRetractionChangeTheVerdict) {
  auto sig = Submit(kPdq);
  auto r = node_.Cli({"--json", "endorse", sig.id(), "--reason", "seen it"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Endorsing your own signal does not make two platforms.
  EXPECT_EQ(Match("pdq", kPdq).verdict().action(), "review");
  r = node_.Cli({"--json", "retract", sig.id(), "--reason", "mistake"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto after = Match("pdq", kPdq);
  ASSERT_EQ(after.matches_size(), 1);
  EXPECT_TRUE(after.matches(0).retracted());
  EXPECT_EQ(after.verdict().action(), "none");
  EXPECT_NE(after.verdict().reasons(0).find("retracted"), std::string::npos);

  auto feeds = node_.Cli({"--json", "feeds"});
  ASSERT_EQ(feeds.exit_code, 0) << feeds.err;
  auto parsed = ParseJson<api::FeedsResponse>(feeds.out);
  ASSERT_EQ(parsed.feeds_size(), 1);
  EXPECT_EQ(parsed.feeds(0).seq(), 4u);
  EXPECT_EQ(parsed.feeds(0).name(), "alice");
}

TEST_F(NodeTest, StreamShowsCommittedRecords) {
  std::vector<std::string> lines;
  std::thread reader([&] {
    (void)HttpStreamLines(  // the lines read are what the test checks
        node_.socket(), "/v1/stream",
        [&](std::string_view line) {
          lines.emplace_back(line);
          return false;  // one is enough
        },
        std::chrono::seconds(5));
  });
  // Give the stream time to attach before publishing.
  for (int i = 0; i < 100; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (node_.log().find("/v1/stream") != std::string::npos) break;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto sig = Submit(kPdq);
  reader.join();
  ASSERT_EQ(lines.size(), 1u);
  auto view = ParseJson<api::RecordView>(lines[0]);
  EXPECT_EQ(view.id(), sig.id());
  EXPECT_EQ(view.signal().value(), kPdq);
}

TEST(NodeStartTest, RefusesWhatItCannotRun) {
  TempDir dir;
  TestNode a(dir.path(), "a");
  ASSERT_TRUE(a.Start().ok()) << a.log();
  // A second daemon on the same data directory would fork the feed.
  auto second = RunProgram("hashmeshd", {"--data", a.data_dir()}, std::chrono::seconds(30));
  EXPECT_NE(second.exit_code, 0);
  EXPECT_NE(second.err.find("in use"), std::string::npos) << second.err;
  a.Stop();

  // A corrupt key file: the message names it.
  { std::ofstream(a.data_dir() + "/keys/node.key") << "ed25519-secret:zz\n"; }
  chmod((a.data_dir() + "/keys/node.key").c_str(), 0600);
  auto bad_key = RunProgram("hashmeshd", {"--data", a.data_dir()}, std::chrono::seconds(30));
  EXPECT_NE(bad_key.exit_code, 0);
  EXPECT_NE(bad_key.err.find("node.key"), std::string::npos) << bad_key.err;

  // Config errors come with file and line.
  const std::string cfg = dir.path() + "/bad.toml";
  { std::ofstream(cfg) << "data = \"x\"\nlisten = 7\n"; }
  auto bad_cfg = RunProgram("hashmeshd", {"--config", cfg}, std::chrono::seconds(30));
  EXPECT_EQ(bad_cfg.exit_code, 2);
  EXPECT_NE(bad_cfg.err.find("bad.toml:2"), std::string::npos) << bad_cfg.err;
  { std::ofstream(cfg) << "data = \"x\"\nlisten_on = \"a:1\"\n"; }
  bad_cfg = RunProgram("hashmeshd", {"--config", cfg}, std::chrono::seconds(30));
  EXPECT_NE(bad_cfg.err.find("unknown key"), std::string::npos) << bad_cfg.err;
  bad_cfg = RunProgram("hashmeshd", {"--config", dir.path() + "/missing.toml"});
  EXPECT_NE(bad_cfg.err.find("missing.toml"), std::string::npos) << bad_cfg.err;
  auto bad_flag = RunProgram("hashmeshd", {"--no-such-flag"});
  EXPECT_NE(bad_flag.exit_code, 0);
  auto help = RunProgram("hashmeshd", {"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--admin-socket"), std::string::npos);
}

// docs/configuration.md carries the generated reference; it must not drift from the code.
TEST(DocsTest, ConfigurationReferenceIsCurrent) {
  auto ref = RunProgram("hashmeshd", {"--config-reference"});
  ASSERT_EQ(ref.exit_code, 0);
  std::ifstream in(std::string(HASHMESH_SOURCE_DIR) + "/docs/configuration.md");
  std::stringstream doc;
  doc << in.rdbuf();
  EXPECT_NE(doc.str().find(ref.out), std::string::npos)
      << "regenerate docs/configuration.md with `hashmeshd --config-reference`";
}

}  // namespace
}  // namespace hashmesh::testing
