// After a commit, in this order.
#include "daemon/commit_fanout.h"

#include "daemon/match/pdq_signal_index.h"
#include "daemon/node_metrics.h"
#include "daemon/record_streams.h"
#include "daemon/storage/compromise_points.h"
#include "daemon/sync/peer_manager.h"
#include "proto/records.pb.h"

namespace hashmesh {
namespace {

void IndexSignals(const std::vector<ParsedRecord>& records, PdqSignalIndex& index) {
  for (const auto& r : records) {
    for (const pb::Signal* s : Fingerprints(r.body)) {
      if (s->type() != pb::SIGNAL_TYPE_PDQ) continue;
      if (auto hash = PdqHash::FromHex(s->value()); hash.ok()) index.Add({r.author, r.seq()}, *hash);
    }
  }
}

}  // namespace

void CommitFanout::OnCommit(const std::vector<ParsedRecord>& records) const {
  // 1. Compromise points before the index and streams hear of a commit: a match right after
  //    sees the records a new manifest voids.
  parts_.compromise->OnCommit(records);
  // 2. The index, then the streams: a subscriber that matches what it was streamed finds it.
  IndexSignals(records, *parts_.index);
  parts_.streams->Publish(records, *parts_.trust);
  // 3. Peers: each session posts its push to its strand; superseded keys' sessions are closed.
  if (parts_.peers) parts_.peers->OnCommit(records);
  // 4. Metrics last: they count what the rest has seen.
  parts_.metrics->OnCommit(records);
}

void CommitFanout::OnForkProof(const std::string& proof) const {
  if (parts_.peers) parts_.peers->OnEquivocation(proof);
}

}  // namespace hashmesh
