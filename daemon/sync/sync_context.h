// SyncContext: what every peer session of this node reads, filled once by the node wiring, and
// the timers of a session.
#pragma once

#include <chrono>
#include <string>

#include "common/crypto.h"
#include "daemon/sync/feed_reader.h"
#include "daemon/sync/ingest_pipeline.h"
#include "daemon/sync/local_identity.h"
#include "keys/trust_source.h"

namespace hashmesh {

// Everything pointed to outlives the PeerManager and its sessions.
struct SyncContext {
  const FeedReader* feeds = nullptr;
  IngestPipeline* pipeline = nullptr;
  const TrustSource* trust = nullptr;
  const LocalIdentity* identity = nullptr;
  PublicKey member{};  // our member id
  std::string node_name;
};

struct SessionTimers {
  std::chrono::seconds hello_timeout{10};  // no Hello by then: close
  std::chrono::seconds heads_interval{30};  // anti-entropy
  std::chrono::seconds ping_interval{15};
};

}  // namespace hashmesh
