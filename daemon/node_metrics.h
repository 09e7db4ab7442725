// NodeMetrics: the node's Prometheus metrics. Most values are read at scrape time from the stats
// the parts already keep (store, writer, index, peers), so their hot paths are untouched; the
// commit listener and the match handler add a few counters and histograms.
// Thread-safe: OnCommit runs on the writer thread, ObserveMatch on API threads, scrapes on the
// metrics server's thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "daemon/metrics.h"

namespace hashmesh {

namespace api {
class StatusResponse;
}
class Store;
class Writer;
class PdqSignalIndex;
class PeerManager;
class TrustStore;
struct ParsedRecord;

struct NodeMetricsSources {
  const Store* store = nullptr;
  const Writer* writer = nullptr;
  const PdqSignalIndex* index = nullptr;
  const PeerManager* peers = nullptr;  // null on a node without federation
  std::function<std::shared_ptr<const TrustStore>()> trust;
  std::function<void(api::StatusResponse*)> fill_status;  // for `ready`
  std::chrono::steady_clock::time_point started;
};

class NodeMetrics {
 public:
  // The sources must outlive this object's last scrape.
  explicit NodeMetrics(NodeMetricsSources sources);
  MetricsRegistry& registry() { return registry_; }

  // Writer thread, after each commit: records by author and kind, committed batch sizes.
  void OnCommit(const std::vector<ParsedRecord>& records);
  // API threads: one /v1/match request with `queries` queries, answered in `seconds`.
  void ObserveMatch(bool ok, size_t queries, double seconds);

 private:
  void Collect();

  NodeMetricsSources sources_;
  MetricsRegistry registry_;
  // Updated as things happen.
  MetricFamily<Counter>* committed_;
  Histogram* batch_records_;
  Counter* match_ok_;
  Counter* match_error_;
  Counter* match_queries_;
  Histogram* match_seconds_;
  // Copied in at scrape time.
  MetricFamily<Gauge>* build_info_;
  MetricFamily<Gauge>* uptime_;
  MetricFamily<Gauge>* start_time_;
  MetricFamily<Gauge>* ready_;
  MetricFamily<Gauge>* member_info_;
  MetricFamily<Gauge>* feed_records_;
  MetricFamily<Gauge>* store_records_;
  MetricFamily<Gauge>* store_signals_;
  MetricFamily<Gauge>* store_authors_;
  MetricFamily<Gauge>* store_equivocations_;
  MetricFamily<Gauge>* map_size_;
  MetricFamily<Gauge>* map_used_;
  MetricFamily<Gauge>* index_hashes_;
  MetricFamily<Gauge>* index_memory_;
  MetricFamily<Counter>* writer_batches_;
  MetricFamily<Counter>* writer_records_;
  MetricFamily<Counter>* writer_rejected_;
  MetricFamily<Counter>* writer_duplicates_;
  MetricFamily<Counter>* writer_equivocations_;
  MetricFamily<Gauge>* writer_last_batch_;
  MetricFamily<Gauge>* writer_last_commit_;
  MetricFamily<Counter>* writer_commit_seconds_;
  MetricFamily<Counter>* bans_;
  MetricFamily<Gauge>* own_seq_;
  MetricFamily<Gauge>* peers_;
  MetricFamily<Counter>* peer_bytes_in_;
  MetricFamily<Counter>* peer_bytes_out_;
  MetricFamily<Counter>* peer_frames_in_;
  MetricFamily<Counter>* peer_frames_out_;
  MetricFamily<Counter>* peer_records_in_;
  MetricFamily<Counter>* peer_records_out_;
};

}  // namespace hashmesh
