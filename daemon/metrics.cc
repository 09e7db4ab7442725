// Metrics registry, Prometheus text format 0.0.4 rendering, and the /metrics server (an
// HttpServer on TCP, so no Beast here).
#include "daemon/metrics.h"

#include <cassert>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "daemon/api/http_server.h"

namespace hashmesh {

// ---- cells --------------------------------------------------------------------------------------

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1)) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double v) {
  // Non-cumulative buckets: one increment per observation; Snapshot adds them up.
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> LatencyBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
          0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5, 5, 10};
}

// ---- text format --------------------------------------------------------------------------------

bool IsValidMetricName(const std::string& name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':' ||
                    (i > 0 && std::isdigit(static_cast<unsigned char>(c)));
    if (!ok) return false;
  }
  return true;
}

bool IsValidLabelName(const std::string& name) {
  if (name.empty() || name.starts_with("__")) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = std::isalpha(static_cast<unsigned char>(c)) || c == '_' ||
                    (i > 0 && std::isdigit(static_cast<unsigned char>(c)));
    if (!ok) return false;
  }
  return true;
}

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

std::string EscapeHelp(const std::string& help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string RenderLabels(const MetricLabels& labels, const std::string& le = "") {
  if (labels.empty() && le.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    assert(IsValidLabelName(k));
    if (!first) out += ",";
    first = false;
    out += k + "=\"" + EscapeLabelValue(v) + "\"";
  }
  if (!le.empty()) {
    if (!first) out += ",";
    out += "le=\"" + le + "\"";
  }
  return out + "}";
}

void Header(std::string& out, const std::string& name, const std::string& help,
            const char* type) {
  out += "# HELP " + name + " " + EscapeHelp(help) + "\n";
  out += "# TYPE " + name + " " + type + "\n";
}

}  // namespace

std::string FormatMetricValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  // Shortest text that reads back as the same double: 0.0001, not 0.00010000000000000000479.
  const bool plain = std::fabs(v) >= 1e-5 && std::fabs(v) < 1e15;
  auto [end, ec] = plain ? std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed)
                         : std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : "NaN";
}

// ---- registry -----------------------------------------------------------------------------------

void MetricsRegistry::CheckNewName(const std::string& name) {
  assert(IsValidMetricName(name));
  for (const auto& e : entries_) {
    const std::string& taken = e.counter   ? e.counter->name()
                               : e.gauge   ? e.gauge->name()
                                           : e.histogram->name();
    assert(taken != name);
    (void)taken;
  }
  (void)name;
}

MetricFamily<Counter>& MetricsRegistry::AddCounter(const std::string& name,
                                                   const std::string& help) {
  MutexLock lock(mu_);
  CheckNewName(name);
  Entry e{MetricType::kCounter, std::make_unique<MetricFamily<Counter>>(name, help), nullptr,
          nullptr};
  entries_.push_back(std::move(e));
  return *entries_.back().counter;
}

MetricFamily<Gauge>& MetricsRegistry::AddGauge(const std::string& name, const std::string& help) {
  MutexLock lock(mu_);
  CheckNewName(name);
  Entry e{MetricType::kGauge, nullptr, std::make_unique<MetricFamily<Gauge>>(name, help), nullptr};
  entries_.push_back(std::move(e));
  return *entries_.back().gauge;
}

MetricFamily<Histogram>& MetricsRegistry::AddHistogram(const std::string& name,
                                                       const std::string& help,
                                                       std::vector<double> bounds) {
  MutexLock lock(mu_);
  CheckNewName(name);
  Entry e{MetricType::kHistogram, nullptr, nullptr,
          std::make_unique<MetricFamily<Histogram>>(name, help, std::move(bounds))};
  entries_.push_back(std::move(e));
  return *entries_.back().histogram;
}

void MetricsRegistry::AddCollector(std::function<void()> collector) {
  MutexLock lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::string MetricsRegistry::Render() {
  MutexLock lock(mu_);
  for (const auto& collect : collectors_) collect();
  std::string out;
  for (const auto& e : entries_) {
    switch (e.type) {
      case MetricType::kCounter: {
        const auto& f = *e.counter;
        Header(out, f.name(), f.help(), "counter");
        f.ForEach([&](const MetricLabels& labels, const Counter& c) {
          out += f.name() + RenderLabels(labels) + " " + FormatMetricValue(c.value()) + "\n";
        });
        break;
      }
      case MetricType::kGauge: {
        const auto& f = *e.gauge;
        Header(out, f.name(), f.help(), "gauge");
        f.ForEach([&](const MetricLabels& labels, const Gauge& g) {
          out += f.name() + RenderLabels(labels) + " " + FormatMetricValue(g.value()) + "\n";
        });
        break;
      }
      case MetricType::kHistogram: {
        const auto& f = *e.histogram;
        Header(out, f.name(), f.help(), "histogram");
        f.ForEach([&](const MetricLabels& labels, const Histogram& h) {
          const Histogram::Snapshot s = h.snapshot();
          for (size_t i = 0; i < s.bounds.size(); ++i) {
            out += f.name() + "_bucket" + RenderLabels(labels, FormatMetricValue(s.bounds[i])) +
                   " " + std::to_string(s.cumulative[i]) + "\n";
          }
          out += f.name() + "_bucket" + RenderLabels(labels, "+Inf") + " " +
                 std::to_string(s.count) + "\n";
          out += f.name() + "_sum" + RenderLabels(labels) + " " + FormatMetricValue(s.sum) + "\n";
          out += f.name() + "_count" + RenderLabels(labels) + " " + std::to_string(s.count) +
                 "\n";
        });
        break;
      }
    }
  }
  return out;
}

// ---- server -------------------------------------------------------------------------------------

std::string MetricsListenAddress(const std::string& address) {
  // Local by default: the node's internals are nobody else's business.
  return address.starts_with(":") ? "127.0.0.1" + address : address;
}

Result<std::unique_ptr<HttpServer>> StartMetricsServer(const std::string& address,
                                                       MetricsRegistry* registry) {
  HttpServerOptions options;
  options.tcp_address = MetricsListenAddress(address);
  options.max_body_bytes = 0;
  options.max_connections = 64;
  auto handler = [registry](HttpRequest&& request, Responder respond) {
    const std::string path = request.target.substr(0, request.target.find('?'));
    if (request.method != "GET" && request.method != "HEAD") {
      return respond(JsonErrorResponse(405, "method_not_allowed", "only GET is served here"));
    }
    if (path == "/metrics") {
      HttpResponse r;
      r.content_type = kMetricsContentType;
      r.body = registry->Render();
      return respond(std::move(r));
    }
    if (path == "/") {
      HttpResponse r;
      r.content_type = "text/plain; charset=utf-8";
      r.body = "hashmeshd: metrics are at /metrics\n";
      return respond(std::move(r));
    }
    respond(JsonErrorResponse(404, "not_found", "no route " + path + " (try /metrics)"));
  };
  return HttpServer::Start(std::move(options), std::move(handler), /*threads=*/1);
}

}  // namespace hashmesh
