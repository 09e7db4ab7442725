// CommitFanout: everything that happens after the writer commits, in order, in one place. The
// writer hands out two typed events, a committed batch and a new fork proof; this is their only
// listener.
#pragma once

#include <string>
#include <vector>

#include "common/record.h"

namespace hashmesh {

class CompromisePoints;
class PdqSignalIndex;
class RecordStreams;
class NodeMetrics;
class PeerManager;
class TrustSource;

struct CommitFanoutParts {
  CompromisePoints* compromise = nullptr;
  PdqSignalIndex* index = nullptr;
  RecordStreams* streams = nullptr;
  const TrustSource* trust = nullptr;  // names authors in the streams
  PeerManager* peers = nullptr;        // null on a node without federation
  NodeMetrics* metrics = nullptr;
};

// Runs on the writer thread, so every step is quick: what belongs to a peer session is posted to
// that session's strand by the PeerManager, never run here. The parts outlive the writer.
class CommitFanout {
 public:
  explicit CommitFanout(CommitFanoutParts parts) : parts_(parts) {}

  // A batch was committed (before any submitter hears of it).
  void OnCommit(const std::vector<ParsedRecord>& records) const;
  // A new fork proof (serialised pb::Equivocation) was stored.
  void OnForkProof(const std::string& proof) const;

 private:
  CommitFanoutParts parts_;
};

}  // namespace hashmesh
