// Crash safety with real daemons: a node SIGKILLed at random moments under ingest (local clients
// and a peer) loses nothing it acknowledged and never forks its own feed; a 1 MiB map grows under
// load; killed LMDB readers never exhaust the reader table.
//
// HASHMESH_CRASH_CYCLES=N runs N kill cycles instead of 100 (about a minute and a half).
// HASHMESH_CRASH_SEED=S replays the kill delays and client choices of a run; every run prints its
// seed. The LMDB checks need mdb_stat (lmdb-utils, installed by scripts/setup.sh).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "common/json.h"
#include "proto/api.pb.h"
#include "tests/support/test_member.h"
#include "tests/support/federation.h"

namespace hashmesh::testing {
namespace {

using std::chrono::milliseconds;

// ---- external programs (mdb_stat, the reader helper) ----

struct Child {
  pid_t pid = -1;
  int out = -1;  // the child's stdout and stderr
};

Child SpawnPiped(const std::string& path, const std::vector<std::string>& args) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(path.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    execv(path.c_str(), argv.data());
    _exit(127);
  }
  close(fds[1]);
  return {pid, fds[0]};
}

CommandResult RunTool(const std::string& path, const std::vector<std::string>& args) {
  Child child = SpawnPiped(path, args);
  CommandResult r;
  if (child.pid < 0) return r;
  char buf[4096];
  for (ssize_t n; (n = read(child.out, buf, sizeof buf)) > 0;) r.out.append(buf, n);
  close(child.out);
  int status = 0;
  waitpid(child.pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string FindTool(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = dir + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// mdb_stat -e and -a on a data dir: the environment and every database read back cleanly.
std::string MdbStatProblems(const std::string& mdb_stat, const std::string& dir) {
  std::string problems;
  for (const char* flag : {"-e", "-a"}) {
    auto r = RunTool(mdb_stat, {flag, dir});
    if (r.exit_code != 0) {
      problems += std::string("mdb_stat ") + flag + " exited " + std::to_string(r.exit_code) +
                  ": " + r.out + "\n";
    }
  }
  return problems;
}

uint64_t Seed() {
  if (const char* s = std::getenv("HASHMESH_CRASH_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

// ---- what the node showed: seq -> record id, per feed ----

// Every (seq, id) a node acknowledged or reported as committed for one feed. A second id at a
// seq already seen is a fork.
class FeedLedger {
 public:
  void Add(uint32_t seq, const std::string& id, bool acked) {
    std::lock_guard lock(mu_);
    auto [it, inserted] = ids_.emplace(seq, Entry{id, acked});
    if (inserted) {
      pending_.push_back(seq);
    } else if (it->second.id != id) {
      forks_.push_back("seq " + std::to_string(seq) + ": " + it->second.id + " then " + id);
    } else {
      it->second.acked |= acked;
    }
    if (acked) ++acked_total_;
  }
  // Entries added since the last call.
  std::map<uint32_t, std::string> TakePending() {
    std::lock_guard lock(mu_);
    std::map<uint32_t, std::string> out;
    for (uint32_t seq : pending_) out[seq] = ids_[seq].id;
    pending_.clear();
    return out;
  }
  uint32_t max_seq() const {
    std::lock_guard lock(mu_);
    return ids_.empty() ? 0 : ids_.rbegin()->first;
  }
  std::vector<std::string> forks() const {
    std::lock_guard lock(mu_);
    return forks_;
  }
  uint64_t acked_total() const {
    std::lock_guard lock(mu_);
    return acked_total_;
  }
  // Compares with a feed read back in full (seq -> id); returns the acknowledged entries that
  // are missing or different, and describes the first few in *detail.
  uint64_t Lost(const std::map<uint32_t, std::string>& feed, bool acked_only,
                std::string* detail) const {
    std::lock_guard lock(mu_);
    uint64_t lost = 0;
    for (const auto& [seq, e] : ids_) {
      if (acked_only && !e.acked) continue;
      auto it = feed.find(seq);
      if (it != feed.end() && it->second == e.id) continue;
      if (++lost <= 5) {
        *detail += "seq " + std::to_string(seq) + " " + e.id + " is " +
                   (it == feed.end() ? "missing" : "now " + it->second) + "\n";
      }
    }
    return lost;
  }

 private:
  struct Entry {
    std::string id;
    bool acked = false;
  };
  mutable std::mutex mu_;
  std::map<uint32_t, Entry> ids_;   // GUARDED_BY(mu_)
  std::vector<uint32_t> pending_;   // GUARDED_BY(mu_)
  std::vector<std::string> forks_;  // GUARDED_BY(mu_)
  uint64_t acked_total_ = 0;        // GUARDED_BY(mu_)
};

std::string SignalJson(uint32_t value_seed) {
  return R"({"type":"pdq","value":")" + RandomPdqHex(value_seed) + R"(","labels":["test/x"]})";
}

// One local client: single and batch publishes on the admin socket, recording every answer that
// says a record was committed. Errors (node down, still recovering) are retried.
void SubmitLoop(const TestNode& node, uint64_t seed, std::atomic<uint32_t>& next_value,
                FeedLedger& ledger, const std::atomic<bool>& stop) {
  std::mt19937_64 rng(seed);
  while (!stop) {
    const bool single = rng() % 2 == 0;
    Result<ClientResponse> r = Unavailable("unset");
    if (single) {
      r = HttpCall(node.admin_socket(), "POST", "/v1/signals", SignalJson(next_value++),
                   std::chrono::seconds(5));
    } else {
      std::string body = R"({"signals":[)";
      const int n = 2 + static_cast<int>(rng() % 7);
      for (int i = 0; i < n; ++i) body += (i ? "," : "") + SignalJson(next_value++);
      r = HttpCall(node.admin_socket(), "POST", "/v1/signals/batch", body + "]}",
                   std::chrono::seconds(5));
    }
    if (r.ok() && single && r->status == 201) {
      api::PublishResponse out;
      if (FromJson(r->body, &out).ok()) ledger.Add(out.seq(), out.id(), /*acked=*/true);
    } else if (r.ok() && !single && (r->status == 200 || r->status == 201)) {
      api::SignalBatchResponse out;
      if (FromJson(r->body, &out).ok()) {
        for (const auto& item : out.results()) {
          if (item.has_id()) ledger.Add(item.seq(), item.id(), /*acked=*/true);
        }
      }
    } else {
      std::this_thread::sleep_for(milliseconds(5));
      continue;
    }
    std::this_thread::sleep_for(milliseconds(rng() % 8));
  }
}

// Watches the node's feed heads: whatever it reports is committed there.
void WatchHeads(const TestNode& node, const std::string& own, const std::string& peer,
                FeedLedger& own_ledger, FeedLedger& peer_ledger, const std::atomic<bool>& stop) {
  while (!stop) {
    auto r = HttpCall(node.socket(), "GET", "/v1/feeds", "", std::chrono::seconds(2));
    api::FeedsResponse feeds;
    if (r.ok() && r->status == 200 && FromJson(r->body, &feeds).ok()) {
      for (const auto& f : feeds.feeds()) {
        if (f.author() == own) own_ledger.Add(f.seq(), f.head_id(), /*acked=*/false);
        if (f.author() == peer) peer_ledger.Add(f.seq(), f.head_id(), /*acked=*/false);
      }
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
}

// Checks that each (seq, id) is on the node: GET /v1/records/{id} answers it at that seq.
std::string MissingRecords(TestNode& node, const std::map<uint32_t, std::string>& entries) {
  std::string problems;
  for (const auto& [seq, id] : entries) {
    auto r = node.Query("GET", "/v1/records/" + id);
    api::RecordView view;
    if (!r.ok() || r->status != 200 || !FromJson(r->body, &view).ok()) {
      problems += "record " + id + " (seq " + std::to_string(seq) + ") is gone: " +
                  (r.ok() ? std::to_string(r->status) + " " + r->body : r.status().message()) +
                  "\n";
    } else if (view.seq() != seq) {
      problems += "record " + id + " was seq " + std::to_string(seq) + ", now " +
                  std::to_string(view.seq()) + "\n";
    }
  }
  return problems;
}

// The whole of one feed at a node, seq -> id, read in pages.
std::map<uint32_t, std::string> ReadWholeFeed(TestNode& node, const std::string& author) {
  std::map<uint32_t, std::string> out;
  for (uint32_t from = 1;;) {
    auto r =
        node.Query("GET", "/v1/feeds/" + author + "?from=" + std::to_string(from) + "&limit=1000");
    api::FeedResponse page;
    if (!r.ok() || r->status != 200 || !FromJson(r->body, &page).ok()) break;
    for (const auto& rec : page.records()) out[rec.seq()] = rec.id();
    if (page.records_size() < 1000) break;
    from += 1000;
  }
  return out;
}

std::string ForkReport(TestNode& node) {
  auto s = NodeStatus(node);
  if (s.equivocations() == 0 && s.forked_members_size() == 0) return "";
  std::string out = "equivocations " + std::to_string(s.equivocations()) + ", forked:";
  for (const auto& m : s.forked_members()) out += " " + m;
  return out;
}

// Node A takes local publishes from three clients and syncs B's feed while B publishes; A is
// SIGKILLed at a random moment, checked, and restarted, over and over.
TEST(CrashTest, KillLoopUnderIngestLosesNothingAcknowledgedAndNeverForks) {
  const std::string mdb_stat = FindTool("mdb_stat");
  int cycles = 100;
  if (const char* c = std::getenv("HASHMESH_CRASH_CYCLES")) cycles = std::atoi(c);
  const uint64_t seed = Seed();
  std::printf("crash kill loop: seed %llu (HASHMESH_CRASH_SEED=%llu replays it), %d cycles%s\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed), cycles,
              mdb_stat.empty() ? ", no mdb_stat: LMDB checks skipped" : "");
  std::fflush(stdout);  // seen even if ctest's timeout kills the test
  std::mt19937_64 rng(seed);
  const auto started = std::chrono::steady_clock::now();

  Federation fed({{"a"}, {"b"}});
  const size_t a = 0, b = 1;
  ASSERT_TRUE(fed.Start(b, {}).ok()) << fed.node(b).log();
  ASSERT_TRUE(fed.Start(a, {b}).ok()) << fed.node(a).log();
  TestNode& node = fed.node(a);

  FeedLedger own, peer;
  std::atomic<bool> stop{false};
  std::atomic<uint32_t> next_value{static_cast<uint32_t>(seed)};
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back(SubmitLoop, std::cref(node), seed + 1 + i, std::ref(next_value),
                         std::ref(own), std::cref(stop));
  }
  threads.emplace_back(WatchHeads, std::cref(node), fed.member_id(a), fed.member_id(b),
                       std::ref(own), std::ref(peer), std::cref(stop));
  // B publishes all along; A pulls B's records from it.
  std::atomic<uint32_t> b_value{static_cast<uint32_t>(seed) ^ 0x80000000u};
  threads.emplace_back([&] {
    while (!stop) {
      std::string body = R"({"signals":[)";
      for (int i = 0; i < 4; ++i) body += (i ? "," : "") + SignalJson(b_value++);
      (void)fed.node(b).Admin("POST", "/v1/signals/batch", body + "]}");
      std::this_thread::sleep_for(milliseconds(15));
    }
  });

  std::string failure;
  int cycle = 0;
  for (; cycle < cycles && failure.empty(); ++cycle) {
    // Mostly anywhere in a busy stretch; one kill in eight right after the restart.
    const int delay = rng() % 8 == 0 ? static_cast<int>(rng() % 30) : static_cast<int>(rng() % 400);
    std::this_thread::sleep_for(milliseconds(delay));
    node.Kill();
    const std::string at = "cycle " + std::to_string(cycle) + " (kill after " +
                           std::to_string(delay) + " ms, seed " + std::to_string(seed) + "): ";
    if (!mdb_stat.empty()) {
      if (auto p = MdbStatProblems(mdb_stat, node.data_dir()); !p.empty()) {
        failure = at + p;
        break;
      }
    }
    if (Status s = fed.Start(a, {b}); !s.ok()) {
      failure = at + "restart failed: " + s.ToString();
      break;
    }
    if (!WaitFor([&] { return NodeStatus(node).ready(); }, 15)) {
      auto s = NodeStatus(node);
      failure = at + "not ready after restart:";
      for (const auto& reason : s.not_ready_reasons()) failure += " " + reason;
      break;
    }
    // Read the bounds before the heads: the watcher keeps adding as we check.
    const uint32_t own_max = own.max_seq(), peer_max = peer.max_seq();
    const uint32_t own_head = FeedSeq(node, fed.member_id(a));
    const uint32_t peer_head = FeedSeq(node, fed.member_id(b));
    if (own_head < own_max) {
      failure = at + "own head went back from " + std::to_string(own_max) + " to " +
                std::to_string(own_head);
    } else if (peer_head < peer_max) {
      failure = at + "B's feed went back from " + std::to_string(peer_max) + " to " +
                std::to_string(peer_head);
    } else if (auto p = MissingRecords(node, own.TakePending()); !p.empty()) {
      failure = at + p;
    } else if (auto q = MissingRecords(node, peer.TakePending()); !q.empty()) {
      failure = at + q;
    } else if (auto forks = own.forks(); !forks.empty()) {
      failure = at + "A's own feed forked: " + forks.front();
    } else if (auto fb = ForkReport(fed.node(b)); !fb.empty()) {
      failure = at + "B: " + fb;
    } else if (auto fa = ForkReport(node); !fa.empty()) {
      failure = at + "A: " + fa;
    }
  }
  stop = true;
  for (auto& t : threads) t.join();
  const std::string log = node.log();
  ASSERT_EQ(failure, "") << log.substr(log.size() > 8000 ? log.size() - 8000 : 0);

  std::string detail;
  ASSERT_TRUE(WaitConverged(fed, {a, b}, 30, &detail)) << detail;
  // Every acknowledged record, at its seq, on both nodes; and everything A reported committed.
  uint64_t lost = 0;
  std::string lost_detail;
  for (size_t i : {a, b}) {
    const auto feed = ReadWholeFeed(fed.node(i), fed.member_id(a));
    lost += own.Lost(feed, /*acked_only=*/true, &lost_detail);
    EXPECT_EQ(own.Lost(feed, /*acked_only=*/false, &lost_detail), 0u)
        << fed.name(i) << ": " << lost_detail;
    EXPECT_EQ(
        peer.Lost(ReadWholeFeed(fed.node(i), fed.member_id(b)), /*acked_only=*/false, &lost_detail),
        0u)
        << fed.name(i) << ": " << lost_detail;
    EXPECT_EQ(ForkReport(fed.node(i)), "") << fed.name(i);
  }
  EXPECT_TRUE(own.forks().empty());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf(
      "crash kill loop: %d kill cycles, %llu records acknowledged to local clients (A's head "
      "%u), B's feed committed at A up to seq %u, records lost %llu, %.1f s, seed %llu\n",
      cycle, static_cast<unsigned long long>(own.acked_total()), own.max_seq(), peer.max_seq(),
      static_cast<unsigned long long>(lost), seconds, static_cast<unsigned long long>(seed));
  EXPECT_EQ(lost, 0u) << lost_detail;
  EXPECT_GT(own.acked_total(), 0u);
}

// Publishes `n` signals with ~3.5 KiB notes in one batch request; records what was acknowledged.
// Returns how many were, or an error.
Result<int> PublishBigBatch(TestNode& node, uint32_t first_value, int n, FeedLedger& ledger) {
  const std::string note(3500, 'n');
  std::string body = R"({"signals":[)";
  for (int i = 0; i < n; ++i) {
    body += std::string(i ? "," : "") + R"({"type":"pdq","value":")" +
            RandomPdqHex(first_value + i) + R"(","labels":["test/x"],"note":")" + note + "\"}";
  }
  HM_ASSIGN_OR_RETURN(ClientResponse r, HttpCall(node.admin_socket(), "POST", "/v1/signals/batch",
                                                 body + "]}", std::chrono::seconds(60)));
  if (r.status != 200 && r.status != 201) return Internal(std::to_string(r.status) + " " + r.body);
  api::SignalBatchResponse out;
  HM_RETURN_IF_ERROR(FromJson(r.body, &out));
  int acked = 0;
  for (const auto& item : out.results()) {
    if (!item.has_id()) return Internal("refused: " + item.error().message());
    ledger.Add(item.seq(), item.id(), /*acked=*/true);
    ++acked;
  }
  return acked;
}

// A node started with the smallest map (1 MiB) takes a batch several times its map at once, then
// more until the map has doubled again and again: nothing acknowledged is lost, and a restart
// with the same flags keeps the records and the grown map.
TEST(CrashTest, SmallMapGrowsUnderIngestAndKeepsEveryAcknowledgedRecord) {
  const std::string mdb_stat = FindTool("mdb_stat");
  TempDir dir;
  TestNode node(dir.path(), "small");
  const std::vector<std::string> flags = {"--map-size-mib", "1", "--max-request-bytes", "16777216"};
  ASSERT_TRUE(node.Start(flags).ok()) << node.log();
  ASSERT_EQ(NodeStatus(node).map_size_mib(), 1u);
  const std::string self = NodeStatus(node).member_id();

  FeedLedger ledger;
  uint32_t value = 1;
  auto first = PublishBigBatch(node, value, 1000, ledger);  // ~3.5 MiB in one request
  ASSERT_TRUE(first.ok()) << first.status().ToString() << node.log();
  value += 1000;
  for (int i = 0; i < 8 && NodeStatus(node).map_size_mib() < 16; ++i, value += 1000) {
    auto more = PublishBigBatch(node, value, 1000, ledger);
    ASSERT_TRUE(more.ok()) << more.status().ToString();
  }
  const uint32_t grown = NodeStatus(node).map_size_mib();
  EXPECT_GE(grown, 16u) << "the map did not grow 4 times";
  std::string detail;
  EXPECT_EQ(ledger.Lost(ReadWholeFeed(node, self), /*acked_only=*/true, &detail), 0u) << detail;
  const size_t grew = [&] {
    size_t n = 0;
    const std::string log = node.log();
    for (size_t at = log.find("LMDB map grown"); at != std::string::npos;
         at = log.find("LMDB map grown", at + 1)) {
      ++n;
    }
    return n;
  }();
  EXPECT_GE(grew, 4u);

  ASSERT_EQ(node.Stop(), 0) << node.log();
  if (!mdb_stat.empty()) {
    EXPECT_EQ(MdbStatProblems(mdb_stat, node.data_dir()), "");
  }
  ASSERT_TRUE(node.Start(flags).ok()) << node.log();
  EXPECT_GE(NodeStatus(node).map_size_mib(), grown) << "the restart shrank the map";
  EXPECT_EQ(ledger.Lost(ReadWholeFeed(node, self), /*acked_only=*/true, &detail), 0u) << detail;
  auto after = PublishBigBatch(node, value, 1000, ledger);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(ledger.Lost(ReadWholeFeed(node, self), /*acked_only=*/true, &detail), 0u) << detail;
  std::printf(
      "small map: %llu records acknowledged, map 1 -> %u MiB in %zu growths, %u MiB "
      "after the restart and one more batch\n",
      static_cast<unsigned long long>(ledger.acked_total()), grown, grew,
      NodeStatus(node).map_size_mib());
}

// The pids in `mdb_stat -r` output that are not alive processes.
std::vector<pid_t> DeadReaders(const std::string& mdb_stat, const std::string& dir,
                               std::string* table) {
  auto r = RunTool(mdb_stat, {"-r", dir});
  *table = r.out;
  std::vector<pid_t> dead;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    long pid = 0;
    if (!(fields >> pid) || pid <= 0) continue;
    if (kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) dead.push_back(pid);
  }
  return dead;
}

// Reads up to and including the first '\n' (or EOF).
std::string ReadLine(int fd) {
  std::string line;
  char c;
  while (read(fd, &c, 1) == 1) {
    line += c;
    if (c == '\n') break;
  }
  return line;
}

// Starts `count` reader helpers on `dir`, waits until each holds its slots, and returns them.
std::vector<Child> HoldReaders(const std::string& dir, int count, int slots_each, int* held) {
  const std::string helper = std::string(HASHMESH_BIN_DIR) + "/lmdb_reader_hold";
  std::vector<Child> children;
  for (int i = 0; i < count; ++i) {
    children.push_back(SpawnPiped(helper, {dir, std::to_string(slots_each)}));
  }
  for (const Child& c : children) {
    const std::string line = ReadLine(c.out);
    int n = 0;
    if (std::sscanf(line.c_str(), "held %d", &n) == 1) *held += n;
  }
  return children;
}

void KillAll(std::vector<Child>& children) {
  for (Child& c : children) {
    kill(c.pid, SIGKILL);
    waitpid(c.pid, nullptr, 0);
    close(c.out);
  }
  children.clear();
}

// Readers killed while they hold a slot leave it taken. Many more of them die than the reader
// table has slots (512, see StoreOptions), and then the daemon itself dies while its API threads
// read; the daemon, and its restart, still serve reads and commits, and the stale slots go.
TEST(CrashTest, KilledReadersNeverExhaustTheReaderTable) {
  const std::string mdb_stat = FindTool("mdb_stat");
  if (mdb_stat.empty()) GTEST_SKIP() << "mdb_stat not installed (lmdb-utils; scripts/setup.sh)";
  TempDir dir;
  TestNode node(dir.path(), "readers");
  const std::vector<std::string> flags = {"--api-threads", "4"};
  ASSERT_TRUE(node.Start(flags).ok()) << node.log();
  // A feed of 1,000 records, so that reading a page of it keeps a read transaction open a while.
  std::string batch = R"({"signals":[)";
  for (int i = 0; i < 1000; ++i) batch += (i ? "," : "") + SignalJson(9000 + i);
  auto filled = node.Admin("POST", "/v1/signals/batch", batch + "]}");
  ASSERT_TRUE(filled.ok() && filled->status < 300) << node.log();
  const std::string page = "/v1/feeds/" + NodeStatus(node).member_id() + "?limit=1000";

  int kills = 0, slots = 0;
  std::set<pid_t> helper_pids;
  uint32_t value = 19000;
  for (int wave = 0; kills < 1200 || slots < 3 * 512; ++wave) {
    ASSERT_LT(wave, 100) << "helpers got only " << slots << " slots in " << kills << " kills";
    std::vector<Child> helpers = HoldReaders(node.data_dir(), 40, 1 + wave % 4, &slots);
    for (const Child& c : helpers) helper_pids.insert(c.pid);
    KillAll(helpers);
    kills += 40;
    // The daemon reads (feeds, a record) and commits, whatever the dead left behind.
    auto feeds = node.Query("GET", "/v1/feeds");
    ASSERT_TRUE(feeds.ok() && feeds->status == 200)
        << "after " << kills
        << " killed readers: " << (feeds.ok() ? feeds->body : feeds.status().message());
    auto published = PublishSignal(node, RandomPdqHex(value++));
    ASSERT_TRUE(published.ok()) << published.status().ToString();
    auto record = node.Query("GET", "/v1/records/" + published->id());
    ASSERT_TRUE(record.ok() && record->status == 200)
        << (record.ok() ? record->body : record.status().message());
  }

  // One live reader keeps the lock file's table across the daemon's death (the first process to
  // open an environment resets it, which would hide stale slots).
  int held = 0;
  std::vector<Child> keeper = HoldReaders(node.data_dir(), 1, 2, &held);
  ASSERT_EQ(held, 2);
  // Then the daemon dies ten times while its API threads read. Only a kill inside a read
  // transaction leaves a slot (a few percent of them: a page is read in well under a millisecond
  // and encoded outside the transaction), so the count is reported, not required.
  size_t daemon_slots = 0, stale_before = 0;
  const int daemon_kills = 10;
  for (int k = 0; k < daemon_kills; ++k) {
    std::atomic<bool> stop{false};
    std::vector<std::thread> readers;
    for (int i = 0; i < 6; ++i) {
      readers.emplace_back([&] {
        while (!stop) (void)HttpCall(node.socket(), "GET", page, "", std::chrono::seconds(2));
      });
    }
    std::this_thread::sleep_for(milliseconds(200));
    node.Kill();
    stop = true;
    for (auto& t : readers) t.join();
    std::string table;
    const std::vector<pid_t> stale = DeadReaders(mdb_stat, node.data_dir(), &table);
    stale_before += stale.size();
    daemon_slots += std::count_if(stale.begin(), stale.end(),
                                  [&](pid_t pid) { return helper_pids.count(pid) == 0; });

    ASSERT_TRUE(node.Start(flags).ok()) << node.log();
    auto published = PublishSignal(node, RandomPdqHex(value++));
    ASSERT_TRUE(published.ok()) << published.status().ToString();
    auto record = node.Query("GET", "/v1/records/" + published->id());
    EXPECT_TRUE(record.ok() && record->status == 200);
    EXPECT_EQ(DeadReaders(mdb_stat, node.data_dir(), &table), std::vector<pid_t>()) << table;
  }
  KillAll(keeper);
  std::printf(
      "reader slots: %d reader processes killed holding %d slots (table: 512); the daemon killed "
      "%d times while reading, leaving %zu slots of its own; %zu stale slots before the "
      "restarts, none after\n",
      kills, slots, daemon_kills, daemon_slots, stale_before);
}

}  // namespace
}  // namespace hashmesh::testing
