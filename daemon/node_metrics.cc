// The node's metric names, and the collector that copies the parts' stats in at scrape time.
#include "daemon/node_metrics.h"

#include <map>
#include <string>

#include "common/record.h"
#include "daemon/match/pdq_signal_index.h"
#include "daemon/storage/store.h"
#include "daemon/storage/writer.h"
#include "daemon/sync/peer_manager.h"
#include "keys/roles.h"
#include "keys/trust_store.h"
#include "proto/api.pb.h"

namespace hashmesh {
namespace {

// Sizes of committed batches: 1 is a quiet node, hundreds a catch-up from a peer.
std::vector<double> BatchBuckets() { return {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000}; }

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// Every state PeerView.state can take, so that a state with no peer shows as 0, not absent.
const char* const kPeerStates[] = {"connecting", "handshaking", "connected", "backoff", "banned"};

}  // namespace

NodeMetrics::NodeMetrics(NodeMetricsSources sources) : sources_(std::move(sources)) {
  MetricsRegistry& r = registry_;
  build_info_ = &r.AddGauge("hashmesh_build_info", "Always 1; the version is in the label.");
  start_time_ = &r.AddGauge("hashmesh_start_time_seconds", "Unix time at which hashmeshd started.");
  uptime_ = &r.AddGauge("hashmesh_uptime_seconds", "Seconds since hashmeshd started.");
  ready_ = &r.AddGauge("hashmesh_ready",
                       "1 when /v1/status says ready (store open, index built, own feed ready, "
                       "a peer connected if any is configured), else 0.");
  member_info_ = &r.AddGauge("hashmesh_member_info",
                             "1 per member of the trust store in force, with its name and roles.");
  feed_records_ = &r.AddGauge("hashmesh_feed_records",
                              "Records stored of each author's feed (its head seq).");
  committed_ = &r.AddCounter("hashmesh_records_committed_total",
                             "Records committed since start, by author and kind.");
  store_records_ = &r.AddGauge("hashmesh_store_records", "Records in the store.");
  store_signals_ = &r.AddGauge("hashmesh_store_signals", "Signal entries in the store.");
  store_authors_ = &r.AddGauge("hashmesh_store_authors", "Feeds (authors) in the store.");
  store_equivocations_ =
      &r.AddGauge("hashmesh_store_equivocations", "Fork proofs (equivocations) in the store.");
  map_size_ = &r.AddGauge("hashmesh_lmdb_map_size_bytes", "LMDB map size (grows when full).");
  map_used_ = &r.AddGauge("hashmesh_lmdb_used_bytes", "LMDB pages in use, in bytes.");
  index_hashes_ = &r.AddGauge("hashmesh_pdq_index_hashes", "PDQ hashes in the in-memory index.");
  index_memory_ =
      &r.AddGauge("hashmesh_pdq_index_memory_bytes", "Memory held by the PDQ index, in bytes.");
  writer_batches_ =
      &r.AddCounter("hashmesh_writer_batches_total", "Write transactions (group commits).");
  writer_records_ = &r.AddCounter("hashmesh_writer_records_total", "Records committed.");
  writer_rejected_ = &r.AddCounter(
      "hashmesh_writer_rejected_total",
      "Records refused: bad signature, untrusted author or role, broken chain, store error.");
  writer_duplicates_ =
      &r.AddCounter("hashmesh_writer_duplicates_total", "Records offered that were already stored.");
  writer_equivocations_ = &r.AddCounter("hashmesh_writer_equivocations_total",
                                        "New fork proofs found by the writer.");
  writer_last_batch_ =
      &r.AddGauge("hashmesh_writer_last_batch_size", "Items in the last write transaction.");
  writer_last_commit_ = &r.AddGauge("hashmesh_writer_last_commit_seconds",
                                    "Duration of the last write transaction, commit included.");
  batch_records_ = &r.AddHistogram("hashmesh_writer_committed_batch_records",
                                   "Records committed per write transaction (those with any).",
                                   BatchBuckets())
                        .With();
  own_seq_ = &r.AddGauge("hashmesh_own_seq", "Head seq of this node's own feed.");
  writer_commit_seconds_ = &r.AddCounter(
      "hashmesh_writer_commit_seconds_total",
      "Time spent in write transactions; divided by hashmesh_writer_batches_total it is the mean "
      "commit latency.");
  bans_ = &r.AddCounter("hashmesh_peer_bans_total", "Peers banned for misbehaviour since start.");
  peers_ = &r.AddGauge("hashmesh_peers", "Peers by state (banned: keys banned right now).");
  // Per session: a new session starts from zero, which rate() treats as a counter reset.
  peer_bytes_in_ = &r.AddCounter("hashmesh_peer_received_bytes_total",
                                 "Bytes received from a peer in its current session.");
  peer_bytes_out_ = &r.AddCounter("hashmesh_peer_sent_bytes_total",
                                  "Bytes sent to a peer in its current session.");
  peer_frames_in_ = &r.AddCounter("hashmesh_peer_received_frames_total",
                                  "Frames received from a peer in its current session.");
  peer_frames_out_ = &r.AddCounter("hashmesh_peer_sent_frames_total",
                                   "Frames sent to a peer in its current session.");
  peer_records_in_ = &r.AddCounter("hashmesh_peer_received_records_total",
                                   "Records accepted from a peer in its current session.");
  peer_records_out_ = &r.AddCounter("hashmesh_peer_sent_records_total",
                                    "Records sent to a peer in its current session.");
  auto& match_requests =
      r.AddCounter("hashmesh_match_requests_total", "Requests to /v1/match, by outcome.");
  match_ok_ = &match_requests.With({{"outcome", "ok"}});
  match_error_ = &match_requests.With({{"outcome", "error"}});
  match_queries_ = &r.AddCounter("hashmesh_match_queries_total",
                                 "Queries answered by /v1/match (a batch has many).")
                        .With();
  match_seconds_ = &r.AddHistogram("hashmesh_match_duration_seconds",
                                   "Time to answer a /v1/match request.", LatencyBuckets())
                        .With();

  build_info_->With({{"version", HASHMESH_VERSION}}).Set(1);
  start_time_->With().Set(Seconds(std::chrono::system_clock::now().time_since_epoch()) -
                          Seconds(std::chrono::steady_clock::now() - sources_.started));
  r.AddCollector([this] { Collect(); });
}

void NodeMetrics::OnCommit(const std::vector<ParsedRecord>& records) {
  // Batches are small and kinds few: count per batch, then touch each cell once.
  std::map<std::pair<PublicKey, RecordKind>, int> counts;
  for (const auto& rec : records) ++counts[{rec.author, rec.kind}];
  for (const auto& [key, n] : counts) {
    committed_
        ->With({{"author", KeyToText(key.first)}, {"kind", std::string(RecordKindName(key.second))}})
        .Inc(n);
  }
  batch_records_->Observe(static_cast<double>(records.size()));
}

void NodeMetrics::ObserveMatch(bool ok, size_t queries, double seconds) {
  (ok ? match_ok_ : match_error_)->Inc();
  match_queries_->Inc(static_cast<double>(queries));
  match_seconds_->Observe(seconds);
}

void NodeMetrics::Collect() {
  uptime_->With().Set(Seconds(std::chrono::steady_clock::now() - sources_.started));
  if (sources_.fill_status) {
    api::StatusResponse status;
    sources_.fill_status(&status);
    ready_->With().Set(status.ready() ? 1 : 0);
  }

  auto trust = sources_.trust ? sources_.trust() : nullptr;
  member_info_->Clear();
  if (trust) {
    for (const auto& m : trust->members()) {
      std::string roles;
      for (Role role : m.roles) roles += (roles.empty() ? "" : ",") + std::string(RoleName(role));
      member_info_->With({{"author", KeyToText(m.member_key)}, {"name", m.name}, {"roles", roles}})
          .Set(1);
    }
  }

  const Store& store = *sources_.store;
  feed_records_->Clear();
  if (auto heads = store.Heads(); heads.ok()) {
    for (const auto& h : *heads) {
      feed_records_->With({{"author", KeyToText(h.author)}}).Set(static_cast<double>(h.seq));
    }
  }
  if (auto stats = store.Stats(); stats.ok()) {
    store_records_->With().Set(static_cast<double>(stats->records));
    store_signals_->With().Set(static_cast<double>(stats->signals));
    store_authors_->With().Set(static_cast<double>(stats->authors));
    store_equivocations_->With().Set(static_cast<double>(stats->equivocations));
    map_size_->With().Set(static_cast<double>(stats->map_size_bytes));
    map_used_->With().Set(static_cast<double>(stats->used_bytes));
  }
  index_hashes_->With().Set(static_cast<double>(sources_.index->size()));
  index_memory_->With().Set(static_cast<double>(sources_.index->MemoryBytes()));

  const WriterStats w = sources_.writer->stats();
  writer_batches_->With().Set(static_cast<double>(w.batches));
  writer_records_->With().Set(static_cast<double>(w.records));
  writer_rejected_->With().Set(static_cast<double>(w.rejected));
  writer_duplicates_->With().Set(static_cast<double>(w.duplicates));
  writer_equivocations_->With().Set(static_cast<double>(w.equivocations));
  writer_last_batch_->With().Set(static_cast<double>(w.last_batch_size));
  writer_last_commit_->With().Set(w.last_commit_ms / 1000.0);
  writer_commit_seconds_->With().Set(w.commit_ms_total / 1000.0);
  own_seq_->With().Set(static_cast<double>(sources_.writer->own_seq()));

  peers_->Clear();
  for (const char* state : kPeerStates) peers_->With({{"state", state}}).Set(0);
  for (auto* f : {peer_bytes_in_, peer_bytes_out_, peer_frames_in_, peer_frames_out_,
                  peer_records_in_, peer_records_out_}) {
    f->Clear();
  }
  if (sources_.peers == nullptr) return;
  bans_->With().Set(static_cast<double>(sources_.peers->bans_total()));
  for (const PeerInfo& p : sources_.peers->Peers()) {
    peers_->With({{"state", p.state}}).Add(1);
    if (p.state != "connected") continue;
    const std::string member = p.member ? KeyToText(*p.member) : "";
    const MetricLabels labels = {{"peer", p.name.empty() ? member : p.name},
                                 {"address", p.address},
                                 {"direction", p.outbound ? "outbound" : "inbound"}};
    // As the API shows them (32-bit record counters).
    peer_bytes_in_->With(labels).Set(static_cast<double>(p.bytes_in));
    peer_bytes_out_->With(labels).Set(static_cast<double>(p.bytes_out));
    peer_frames_in_->With(labels).Set(static_cast<double>(p.frames_in));
    peer_frames_out_->With(labels).Set(static_cast<double>(p.frames_out));
    peer_records_in_->With(labels).Set(static_cast<double>(static_cast<uint32_t>(p.records_in)));
    peer_records_out_->With(labels).Set(static_cast<double>(static_cast<uint32_t>(p.records_out)));
  }
}

}  // namespace hashmesh
