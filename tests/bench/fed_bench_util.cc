// Feed preparation, the raw verify baseline and node readers for the federation benchmarks.
#include "tests/bench/fed_bench_util.h"

#include <sodium.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/clock.h"
#include "common/json.h"
#include "keys/record_acceptance.h"
#include "tests/support/daemon_process.h"

namespace hashmesh::fedbench {

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

namespace {

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace

std::string BenchPdqHex(uint64_t salt, uint64_t seq) {
  // splitmix64: well spread values, so the PDQ index sees a realistic, uniform population.
  uint64_t x = salt * 0x9E3779B97F4A7C15ull ^ (seq + 0x632BE59BD9B4E019ull);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(64);
  for (int word = 0; word < 4; ++word) {
    x += 0x9E3779B97F4A7C15ull;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    for (int i = 0; i < 16; ++i) hex += kDigits[(z >> (4 * i)) & 15];
  }
  return hex;
}

Result<std::vector<ParsedRecord>> BuildFeed(const FeedSigner& signer, uint64_t n, uint64_t salt,
                                            int threads) {
  std::optional<RecordId> prev;
  HM_ASSIGN_OR_RETURN(auto out, testing::BuildFeedRecords(
                                    signer, 1, n, &prev, NowMs(),
                                    [salt](uint64_t seq) {
                                      pb::RecordBody body;
                                      body.mutable_signal()->set_type(pb::SIGNAL_TYPE_PDQ);
                                      body.mutable_signal()->set_value(BenchPdqHex(salt, seq));
                                      body.mutable_signal()->add_labels("terrorism/glorification");
                                      return body;
                                    },
                                    threads));
  HM_RETURN_IF_ERROR(testing::VerifyFeedStart(out, 3, "prepared feed"));
  return out;
}

VerifyRate RawVerifyRate(const std::vector<ParsedRecord>& records, const PublicKey& key,
                         double seconds) {
  // Messages built beforehand: only the verification itself is timed.
  std::vector<std::string> messages;
  const size_t count = std::min<size_t>(records.size(), 4096);
  for (size_t i = 0; i < count; ++i) {
    messages.push_back(std::string(kRecordPurpose) + '\0' + records[i].signed_record.body());
  }
  uint64_t done = 0, failed = 0;
  const double cpu_start = ThreadCpuSeconds();
  const auto start = Clock::now();
  double elapsed = 0;
  while (elapsed < seconds) {
    for (int k = 0; k < 256; ++k, ++done) {
      const size_t i = done % count;
      const std::string& sig = records[i].signed_record.signature();
      failed += crypto_sign_verify_detached(reinterpret_cast<const uint8_t*>(sig.data()),
                                            reinterpret_cast<const uint8_t*>(messages[i].data()),
                                            messages[i].size(), key.data()) != 0;
    }
    elapsed = SecondsSince(start);
  }
  // Every one must verify, or the rate measured something else than a successful check.
  if (failed > 0)
    std::fprintf(stderr, "raw verify: %lu signatures failed\n", (unsigned long)failed);
  return {static_cast<double>(done) / elapsed,
          static_cast<double>(done) / (ThreadCpuSeconds() - cpu_start)};
}

std::optional<uint64_t> ReadFeedSeq(const testing::TestNode& node, const std::string& member) {
  auto r = node.Query("GET", "/v1/feeds");
  if (!r.ok() || r->status != 200) return std::nullopt;
  api::FeedsResponse feeds;
  if (!FromJson(r->body, &feeds).ok()) return std::nullopt;
  for (const auto& f : feeds.feeds()) {
    if (f.author() == member) return f.seq();
  }
  return 0;
}

Result<api::PeersResponse> ReadPeers(const testing::TestNode& node) {
  HM_ASSIGN_OR_RETURN(ClientResponse r, node.Query("GET", "/v1/peers"));
  if (r.status != 200) return Unavailable("GET /v1/peers: HTTP " + std::to_string(r.status));
  api::PeersResponse peers;
  HM_RETURN_IF_ERROR(FromJson(r.body, &peers));
  return peers;
}

Result<api::StatusResponse> ReadStatus(const testing::TestNode& node) {
  HM_ASSIGN_OR_RETURN(ClientResponse r, node.Query("GET", "/v1/status"));
  if (r.status != 200) return Unavailable("GET /v1/status: HTTP " + std::to_string(r.status));
  api::StatusResponse status;
  HM_RETURN_IF_ERROR(FromJson(r.body, &status));
  return status;
}

namespace {

long DaemonPid(const std::string& data_dir) {
  std::ifstream lock(data_dir + "/hashmeshd.lock");
  long pid = 0;
  if (!(lock >> pid)) return -1;
  return pid;
}

}  // namespace

double DaemonCpuSeconds(const std::string& data_dir) {
  const long pid = DaemonPid(data_dir);
  return pid > 0 ? testing::ProcessCpuSeconds(static_cast<pid_t>(pid)) : -1;
}

std::vector<ThreadTime> DaemonThreads(const std::string& data_dir) {
  std::vector<ThreadTime> out;
  const long pid = DaemonPid(data_dir);
  if (pid <= 0) return out;
  std::error_code ec;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& entry : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream in(entry.path() / "schedstat");
    double run_ns = 0, wait_ns = 0;
    if (!(in >> run_ns >> wait_ns)) continue;
    out.push_back({std::stol(entry.path().filename().string()), run_ns / 1e9, wait_ns / 1e9});
  }
  std::sort(out.begin(), out.end(),
            [](const ThreadTime& a, const ThreadTime& b) { return a.cpu_s > b.cpu_s; });
  return out;
}

std::string FormatThreads(const std::vector<ThreadTime>& threads, size_t n) {
  std::string line;
  char buf[96];
  for (size_t i = 0; i < std::min(n, threads.size()); ++i) {
    std::snprintf(buf, sizeof buf, "%s%ld %.2f/%.2f", i == 0 ? "" : ", ", threads[i].tid,
                  threads[i].cpu_s, threads[i].queue_s);
    line += buf;
  }
  return line;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  rank = std::clamp<size_t>(rank, 1, values.size());
  return values[rank - 1];
}

void PrintMachine(const std::string& bench) {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line, model = "?";
  while (std::getline(cpuinfo, line)) {
    if (line.starts_with("model name")) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  std::printf("# %s on %u cores (%s), %s\n", bench.c_str(), std::thread::hardware_concurrency(),
              model.c_str(), FormatRfc3339(NowMs()).c_str());
  std::fflush(stdout);
}

void PrintFigure(const std::string& name, double value, const std::string& unit,
                 const std::string& note) {
  std::printf("%-36s %12.2f %-10s%s%s\n", name.c_str(), value, unit.c_str(),
              note.empty() ? "" : "  ", note.c_str());
  std::fflush(stdout);
}

}  // namespace hashmesh::fedbench
