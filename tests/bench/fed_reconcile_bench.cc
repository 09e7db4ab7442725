// Reconciliation overhead benchmark: two hashmeshd nodes that already hold the same 1,000,000
// records of 100 authors connect, then reconnect; the bytes of each session (GET /v1/peers) against
// the size of what they share and against the Hello + Heads frames the protocol must send.
// Run: build/bin/bench_fed_reconcile [--authors 100 --records-per-author 10000]
// (docs/benchmarks.md)
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <future>
#include <thread>

#include "keys/key_dir.h"
#include "keys/trust_store.h"
#include "proto/wire.pb.h"
#include "tests/bench/fed_bench_util.h"
#include "tests/support/test_member.h"
#include "tests/support/federation.h"

namespace hashmesh::fedbench {
namespace {

struct Options {
  int authors = 100;
  uint64_t records_per_author = 10000;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  double quiet_s = 2;
  bool anti_entropy = true;
};

// One side's view of its session with the other node.
struct SessionBytes {
  uint64_t bytes_in = 0, bytes_out = 0, frames_in = 0, frames_out = 0;
  uint64_t records_in = 0, records_out = 0;
  uint64_t total() const { return bytes_in + bytes_out; }
};

std::optional<SessionBytes> Session(const testing::TestNode& node) {
  auto peers = ReadPeers(node);
  if (!peers.ok()) return std::nullopt;
  for (const auto& p : peers->peers()) {
    if (p.state() != "connected") continue;
    return SessionBytes{p.bytes_in(),   p.bytes_out(),  p.frames_in(),
                        p.frames_out(), p.records_in(), p.records_out()};
  }
  return std::nullopt;
}

// Waits for a connected session whose counters then stay still for `quiet_s`: Hello and Heads
// have been exchanged and nothing follows them.
std::optional<SessionBytes> QuietSession(const testing::TestNode& node, double quiet_s) {
  const auto deadline = Clock::now() + std::chrono::seconds(25);
  std::optional<SessionBytes> last;
  auto still_since = Clock::now();
  while (Clock::now() < deadline) {
    auto now = Session(node);
    const bool same = now && last && now->total() == last->total() &&
                      now->frames_in == last->frames_in && now->frames_out == last->frames_out;
    if (!same) still_since = Clock::now();
    last = now;
    // Hello and Heads both ways at least.
    if (same && now->frames_in >= 2 && now->frames_out >= 2 &&
        SecondsSince(still_since) >= quiet_s) {
      return now;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return std::nullopt;
}

// What the protocol cannot avoid: one Hello and one Heads each way (4-byte frame headers included),
// built as PeerSession builds them from what the nodes hold.
uint64_t ModelBytes(const Store& store, const std::vector<const NodeIdentity*>& nodes) {
  pb::PeerMessage heads;
  auto stored = store.Heads();
  if (!stored.ok()) return 0;
  for (const auto& h : *stored) {
    pb::Head* head = heads.mutable_heads()->add_heads();
    head->set_author(std::string(AsStringView(h.author)));
    head->set_seq(h.seq);
    head->set_id(std::string(AsStringView(h.id)));
  }
  uint64_t total = 0;
  for (const NodeIdentity* node : nodes) {
    pb::PeerMessage hello;
    hello.mutable_hello()->set_protocol_version(1);
    hello.mutable_hello()->mutable_manifest()->ParseFromString(node->manifest_bytes);
    hello.mutable_hello()->set_node_name(node->name);
    total += 4 + hello.ByteSizeLong() + 4 + heads.ByteSizeLong();
  }
  return total;
}

void PrintSession(const std::string& name, const SessionBytes& s, uint64_t model) {
  PrintFigure(name + ".bytes", static_cast<double>(s.total()), "B",
              "in " + std::to_string(s.bytes_in) + " + out " + std::to_string(s.bytes_out) +
                  "; target < 16384");
  PrintFigure(name + ".frames", static_cast<double>(s.frames_in + s.frames_out), "frames",
              "in " + std::to_string(s.frames_in) + ", out " + std::to_string(s.frames_out));
  PrintFigure(name + ".records", static_cast<double>(s.records_in + s.records_out), "records",
              "payloads sent either way (should be none)");
  PrintFigure(name + ".ratio_to_model", static_cast<double>(s.total()) / model, "x",
              "model = Hello + Heads each way");
}

int Run(const Options& o) {
  if (!InitCrypto()) return 1;
  PrintMachine("bench_fed_reconcile");
  testing::Federation fed({{"a"}, {"b"}});
  testing::TestNode& a = fed.node(0);
  testing::TestNode& b = fed.node(1);

  // Authors whose keys exist only here; both nodes trust them through the shared trust store.
  const auto prepare_started = Clock::now();
  std::vector<std::unique_ptr<testing::TestMember>> authors;
  auto trust = LoadTrustStore(fed.trust_file());
  if (!trust.ok()) {
    std::fprintf(stderr, "%s\n", trust.status().ToString().c_str());
    return 1;
  }
  for (int i = 0; i < o.authors; ++i) {
    authors.push_back(std::make_unique<testing::TestMember>());
    char name[32];
    std::snprintf(name, sizeof name, "author-%03d", i);
    Status s = trust->Add({name, authors.back()->id(), {Role::kPlatform}, ""});
    if (!s.ok()) return std::fprintf(stderr, "%s\n", s.ToString().c_str()), 1;
  }
  if (Status s = SaveTrustStore(fed.trust_file(), *trust); !s.ok()) {
    return std::fprintf(stderr, "%s\n", s.ToString().c_str()), 1;
  }
  auto id_a = LoadNodeIdentity(fed.keys_dir(0));
  auto id_b = LoadNodeIdentity(fed.keys_dir(1));
  if (!id_a.ok() || !id_b.ok()) return std::fprintf(stderr, "cannot load node keys\n"), 1;

  // One data directory, copied: the nodes' own feeds (their manifest records) go in too, so that
  // neither has anything to publish or recover when it starts.
  uint64_t payload_bytes = 0, records = 0;
  uint64_t model = 0;
  {
    auto store = Store::Open({.dir = a.data_dir(), .initial_map_bytes = 4ull << 30});
    if (!store.ok()) return std::fprintf(stderr, "%s\n", store.status().ToString().c_str()), 1;
    auto write = [&](const std::vector<ParsedRecord>& feed) {
      for (const auto& r : feed) payload_bytes += r.signed_record.ByteSizeLong();
      records += feed.size();
      return WriteRecords(**store, feed, feed.size());
    };
    for (const NodeIdentity* id : {&*id_a, &*id_b}) {
      auto own = BuildFeed({id->member_key(), &id->node_key, id->manifest.seq, id->manifest_bytes},
                           1, 0, 1);
      if (Status s = own.ok() ? write(*own) : own.status(); !s.ok()) {
        return std::fprintf(stderr, "%s\n", s.ToString().c_str()), 1;
      }
    }
    // Sign the next author's feed on every core while this thread writes the previous one.
    auto build = [&](int i) {
      const testing::TestMember& m = *authors[i];
      return BuildFeed({m.id(), &m.signing_key(), m.manifest_seq(), m.manifest()},
                       o.records_per_author, /*salt=*/1000 + i, o.threads);
    };
    auto next = std::async(std::launch::async, build, 0);
    for (int i = 0; i < o.authors; ++i) {
      auto feed = next.get();
      if (i + 1 < o.authors) next = std::async(std::launch::async, build, i + 1);
      if (Status s = feed.ok() ? write(*feed) : feed.status(); !s.ok()) {
        if (next.valid()) next.wait();
        return std::fprintf(stderr, "author %d: %s\n", i, s.ToString().c_str()), 1;
      }
    }
    model = ModelBytes(**store, {&*id_a, &*id_b});
  }
  std::error_code ec;
  std::filesystem::create_directories(b.data_dir(), ec);
  for (const char* file : {"data.mdb", "lock.mdb"}) {
    const auto from = std::filesystem::path(a.data_dir()) / file;
    if (std::filesystem::exists(from)) {
      std::filesystem::copy_file(from, std::filesystem::path(b.data_dir()) / file, ec);
    }
  }
  if (ec) return std::fprintf(stderr, "copying the data dir: %s\n", ec.message().c_str()), 1;
  PrintFigure("prepare.records", static_cast<double>(records), "records",
              std::to_string(o.authors) + " authors + the 2 nodes' manifests");
  PrintFigure("prepare.s", SecondsSince(prepare_started), "s", "sign, write, copy");
  PrintFigure("shared.payload_bytes", static_cast<double>(payload_bytes), "B",
              "signed records the nodes share: what a full transfer would send");
  PrintFigure("shared.data_mdb_mib",
              static_cast<double>(std::filesystem::file_size(
                  std::filesystem::path(a.data_dir()) / "data.mdb", ec)) /
                  (1 << 20),
              "MiB");
  PrintFigure("model.bytes", static_cast<double>(model), "B", "Hello + Heads each way");

  auto started = Clock::now();
  if (Status s = fed.Start(0, {}); !s.ok())
    return std::fprintf(stderr, "a: %s\n", s.ToString().c_str()), 1;
  PrintFigure("start.node_a_s", SecondsSince(started), "s", "open the store, build the PDQ index");
  if (Status s = fed.Start(1, {0}); !s.ok())
    return std::fprintf(stderr, "b: %s\n", s.ToString().c_str()), 1;

  int failures = 0;
  auto measure = [&](const std::string& name) {
    auto at_a = QuietSession(a, o.quiet_s);
    auto at_b = QuietSession(b, o.quiet_s);
    if (!at_a || !at_b) {
      std::fprintf(stderr, "%s: no quiet connected session\n", name.c_str());
      ++failures;
      return;
    }
    PrintSession(name, *at_a, model);
    // Both ends count the same frames; a difference would be a counting bug.
    if (at_a->bytes_in != at_b->bytes_out || at_a->bytes_out != at_b->bytes_in) {
      std::fprintf(stderr, "%s: a counts in/out %lu/%lu, b counts out/in %lu/%lu\n", name.c_str(),
                   (unsigned long)at_a->bytes_in, (unsigned long)at_a->bytes_out,
                   (unsigned long)at_b->bytes_out, (unsigned long)at_b->bytes_in);
    }
    failures += at_a->records_in + at_a->records_out > 0;
  };
  measure("first_connect");

  // The reconnect proper: b goes away and comes back; a's session with it starts from zero.
  b.Stop();
  started = Clock::now();
  if (Status s = fed.Start(1, {0}); !s.ok())
    return std::fprintf(stderr, "b: %s\n", s.ToString().c_str()), 1;
  measure("reconnect");

  if (o.anti_entropy) {
    // Steady state: each session re-sends Heads every 30 s (and pings every 15 s).
    auto before = Session(a);
    std::this_thread::sleep_for(std::chrono::seconds(31));
    auto after = Session(a);
    if (before && after) {
      PrintFigure("anti_entropy.bytes_per_31s",
                  static_cast<double>(after->total() - before->total()), "B",
                  std::to_string(after->frames_in + after->frames_out - before->frames_in -
                                 before->frames_out) +
                      " frames; records " + std::to_string(after->records_in + after->records_out));
    }
  }
  const auto seq_a = ReadFeedSeq(a, KeyToText(authors.back()->id()));
  const auto seq_b = ReadFeedSeq(b, KeyToText(authors.back()->id()));
  if (seq_a != o.records_per_author || seq_b != o.records_per_author) {
    std::fprintf(stderr, "the nodes do not both hold the last author's feed\n");
    ++failures;
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace hashmesh::fedbench

int main(int argc, char** argv) {
  hashmesh::fedbench::Options o;
  CLI::App app{
      "Reconciliation overhead: two hashmeshd nodes sharing the same feeds connect and reconnect;\n"
      "bytes of the session against the Hello + Heads it must carry and the data they share."};
  app.add_option("--authors", o.authors, "Authors (bench-only members)")->capture_default_str();
  app.add_option("--records-per-author", o.records_per_author, "Feed length of each author")
      ->capture_default_str()
      ->check(CLI::Range(2, 10000000));
  app.add_option("--threads", o.threads, "Threads signing the prepared feeds")
      ->capture_default_str();
  app.add_option("--quiet", o.quiet_s, "Seconds without traffic that end a measurement")
      ->capture_default_str();
  app.add_option("--anti-entropy", o.anti_entropy,
                 "Also measure one 30 s Heads round on the open session")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  return hashmesh::fedbench::Run(o);
}
