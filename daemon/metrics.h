// Metrics: a small registry of counters, gauges and fixed-bucket histograms with labels, rendered
// in the Prometheus text exposition format 0.0.4, and the TCP server that answers GET /metrics.
//
// Hot paths hold a reference to a cell (Family::With) and update it with one atomic operation.
// Values kept elsewhere (store, writer, peers) are copied in by collectors that run at scrape
// time, so the parts that own them are not touched. Thread-safe throughout.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"

namespace hashmesh {

class HttpServer;

// Label name/value pairs, in the order they are rendered.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Inc(double by = 1) { value_.fetch_add(by, std::memory_order_relaxed); }
  // For a counter kept elsewhere (e.g. WriterStats) and copied in by a collector.
  void Set(double total) { value_.store(total, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double by) { value_.fetch_add(by, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Fixed upper bounds (ascending, +Inf implied). Observe is lock-free.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
};

enum class MetricType { kCounter, kGauge, kHistogram };

// One metric name with its cells, one per label set. References returned by With() stay valid
// until Clear().
template <typename Cell>
class MetricFamily {
 public:
  MetricFamily(std::string name, std::string help, std::vector<double> bounds = {})
      : name_(std::move(name)), help_(std::move(help)), bounds_(std::move(bounds)) {}

  Cell& With(const MetricLabels& labels = {}) {
    MutexLock lock(mu_);
    auto& cell = cells_[labels];
    if (!cell) cell = MakeCell();
    return *cell;
  }
  // Drops every cell: for families a collector rebuilds at each scrape (peers come and go).
  // Nobody may hold a reference from With() across it.
  void Clear() {
    MutexLock lock(mu_);
    cells_.clear();
  }
  // Calls fn(labels, cell) for each cell in label order.
  template <typename F>
  void ForEach(F&& fn) const {
    MutexLock lock(mu_);
    for (const auto& [labels, cell] : cells_) fn(labels, *cell);
  }
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }

 private:
  std::unique_ptr<Cell> MakeCell() {
    if constexpr (std::is_same_v<Cell, Histogram>) {
      return std::make_unique<Histogram>(bounds_);
    } else {
      return std::make_unique<Cell>();
    }
  }

  const std::string name_;
  const std::string help_;
  const std::vector<double> bounds_;
  mutable Mutex mu_;
  std::map<MetricLabels, std::unique_ptr<Cell>> cells_ GUARDED_BY(mu_);
};

class MetricsRegistry {
 public:
  // Names must match [a-zA-Z_:][a-zA-Z0-9_:]* and be unique; a bad or repeated name is a
  // programming error (asserted). Families live as long as the registry.
  MetricFamily<Counter>& AddCounter(const std::string& name, const std::string& help);
  MetricFamily<Gauge>& AddGauge(const std::string& name, const std::string& help);
  MetricFamily<Histogram>& AddHistogram(const std::string& name, const std::string& help,
                                        std::vector<double> bounds);
  // Runs before each rendering, under the registry's scrape lock (one scrape at a time).
  void AddCollector(std::function<void()> collector);

  // Runs the collectors and renders every family, in registration order.
  std::string Render();

 private:
  struct Entry {
    MetricType type;
    std::unique_ptr<MetricFamily<Counter>> counter;
    std::unique_ptr<MetricFamily<Gauge>> gauge;
    std::unique_ptr<MetricFamily<Histogram>> histogram;
  };
  void CheckNewName(const std::string& name) REQUIRES(mu_);

  Mutex mu_;  // registration and scraping
  std::vector<Entry> entries_ GUARDED_BY(mu_);
  std::vector<std::function<void()>> collectors_ GUARDED_BY(mu_);
};

// Bounds for latencies in seconds: 100 µs to 10 s.
std::vector<double> LatencyBuckets();

// Prometheus text helpers, exposed for tests.
std::string EscapeLabelValue(const std::string& value);
std::string FormatMetricValue(double value);
bool IsValidMetricName(const std::string& name);
bool IsValidLabelName(const std::string& name);

inline constexpr char kMetricsContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// The address the metrics server listens on for the setting `address`: HOST:PORT as written, or
// ":PORT", short for 127.0.0.1:PORT (a scrape target is local unless asked otherwise).
std::string MetricsListenAddress(const std::string& address);

// Serves GET /metrics (and GET / with a pointer to it) from `registry` on `address` (HOST:PORT;
// an empty HOST means 127.0.0.1). `registry` must outlive the server.
Result<std::unique_ptr<HttpServer>> StartMetricsServer(const std::string& address,
                                                       MetricsRegistry* registry);

}  // namespace hashmesh
