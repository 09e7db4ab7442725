// Writes the seed corpora that need real signatures: feeds of signed records and manifests for
// fuzz_record, and peer frame streams for fuzz_peer_frame. Deterministic (fixed keys and times),
// so running it again rewrites the same files. Usage: fuzz_make_seeds tests/fuzz/corpus
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "common/manifest.h"
#include "common/record.h"
#include "proto/wire.pb.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/seed_feed.h"

namespace hashmesh {
namespace {

namespace fs = std::filesystem;
std::string Bytes(const ParsedRecord& r) { return r.signed_record.SerializeAsString(); }

std::string Frame(const pb::PeerMessage& m) {
  const std::string body = m.SerializeAsString();
  const uint32_t n = static_cast<uint32_t>(body.size());
  std::string out = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                     static_cast<char>(n >> 8), static_cast<char>(n)};
  return out + body;
}

void Write(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
  std::printf("%s (%zu bytes)\n", path.c_str(), bytes.size());
}

int Main(int argc, char** argv) {
  if (argc != 2 || !InitCrypto()) {
    std::fprintf(stderr, "usage: fuzz_make_seeds CORPUS_DIR\n");
    return 2;
  }
  const fs::path dir = argv[1];
  fuzz::SeedFeeds feeds = fuzz::BuildSeedFeeds();
  const fuzz::Feed& alice = feeds.alice;
  const fuzz::Feed& bob = feeds.bob;
  const fuzz::Feed& bob_fork = feeds.bob_fork;

  // fuzz_record: chunk 0 a SignedManifest, then records in feed order.
  std::vector<std::string> all = {alice.manifest()};
  for (const auto& r : alice.feed()) all.push_back(Bytes(r));
  Write(dir / "fuzz_record" / "alice-feed", fuzz::JoinChunks(all));
  std::vector<std::string> mixed = {bob.manifest()};
  for (size_t i = 0; i < 3; ++i) {
    mixed.push_back(Bytes(alice.feed()[i]));
    if (i < bob.feed().size()) mixed.push_back(Bytes(bob.feed()[i]));
  }
  Write(dir / "fuzz_record" / "two-feeds", fuzz::JoinChunks(mixed));

  // fuzz_peer_frame: byte 0 is how the stream is cut into reads, the rest a stream of frames.
  std::vector<pb::PeerMessage> messages(8);
  messages[0].mutable_hello()->set_protocol_version(1);
  messages[0].mutable_hello()->mutable_manifest()->ParseFromString(bob.manifest());
  messages[0].mutable_hello()->set_node_name("bob-node");
  pb::Head* head = messages[1].mutable_heads()->add_heads();
  head->set_author(std::string(AsStringView(bob.feed().back().author)));
  head->set_seq(2);
  head->set_id(std::string(AsStringView(bob.feed().back().id)));
  messages[2].mutable_want()->set_author(head->author());
  messages[2].mutable_want()->set_from(1);
  messages[2].mutable_want()->set_to(2000);
  for (const auto& r : alice.feed())
    *messages[3].mutable_records()->add_records() = r.signed_record;
  *messages[4].mutable_equivocation()->mutable_first() = bob.feed()[1].signed_record;
  *messages[4].mutable_equivocation()->mutable_second() = bob_fork.feed()[1].signed_record;
  messages[5].mutable_manifests()->add_manifests()->ParseFromString(alice.manifest());
  messages[6].mutable_ping()->set_nonce(42);
  messages[7].mutable_pong()->set_nonce(42);
  const char* names[] = {"hello",        "heads",     "want", "records",
                         "equivocation", "manifests", "ping", "pong"};
  std::string session = "\x07";
  for (size_t i = 0; i < messages.size(); ++i) {
    Write(dir / "fuzz_peer_frame" / names[i], std::string(1, '\0') + Frame(messages[i]));
    session += Frame(messages[i]);
  }
  Write(dir / "fuzz_peer_frame" / "session", session);

  // fuzz_http_request: requests as a client writes them, to records fuzz_http_request stores.
  const std::string id = ToHex(feeds.signal_id);
  const std::string author = KeyToText(alice.feed()[0].author);
  auto get = [](const std::string& target) {
    return "GET " + target + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
  };
  auto post = [](const std::string& target, const std::string& json) {
    return "POST " + target +
           " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json"
           "\r\nContent-Length: " +
           std::to_string(json.size()) + "\r\n\r\n" + json;
  };
  const fs::path http = dir / "fuzz_http_request";
  Write(http / "status", get("/v1/status"));
  Write(http / "feeds", get("/v1/feeds"));
  Write(http / "feed", get("/v1/feeds/" + author + "?from=2&limit=3"));
  Write(http / "record", get("/v1/records/" + id));
  Write(http / "peers", get("/v1/peers"));
  Write(http / "stream", get("/v1/stream"));
  const std::string pdq = fuzz::kSeedPdq;
  Write(http / "match",
        post("/v1/match", R"({"type":"pdq","value":")" + pdq + R"(","max_distance":31})"));
  Write(http / "match-batch",
        post("/v1/match", R"({"queries":[{"type":"pdq","value":")" + pdq +
                              R"(","include_low_quality":true},{"type":"md5","value":)"
                              R"("0123456789abcdef0123456789abcdef"},{"type":"url",)"
                              R"("value":"https://Example.com/a"}]})"));
  Write(http / "signal",
        post("/v1/signals", R"({"type":"pdq","value":")" + pdq +
                                R"(","labels":["terrorism/glorification"],"quality":90,)"
                                R"("note":"n","expires_at":"2099-01-01T00:00:00Z"})"));
  Write(http / "signal-batch",
        post("/v1/signals/batch",
             R"({"signals":[{"type":"sha256","value":)"
             R"("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",)"
             R"("labels":["a/b"]}]})"));
  Write(http / "notice",
        post("/v1/notices", R"({"targets":[")" + id +
                                R"("],"signals":[{"type":"url","value":"https://example.com/x"}],)"
                                R"("category":"terrorism","jurisdiction":"FR","legal_basis":"TCO",)"
                                R"("issuing_body":"Authority","action":"remove"})"));
  Write(http / "opinion",
        post("/v1/opinions", R"({"target":")" + id + R"(","stance":"dispute","reason":"no"})"));
  Write(http / "retraction",
        post("/v1/retractions", R"({"target":")" + id + R"(","reason":"mistake"})"));
  Write(http / "reload", post("/v1/reload", "{}"));
  Write(http / "chunked",
        "POST /v1/opinions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5\r\n{\"tar\r\n8\r\nget\":\"\"}\r\n0\r\n\r\n");
  return 0;
}

}  // namespace
}  // namespace hashmesh

int main(int argc, char** argv) { return hashmesh::Main(argc, argv); }
