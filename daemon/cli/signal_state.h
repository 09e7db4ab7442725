// What a set of records (a node's export) says about its signals: which records their own authors
// retracted, and each signal's or notice's state (common/signal_state.h, the daemon's rule too).
// Pure functions over RecordViews; thread-safe.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "common/signal_state.h"
#include "proto/api.pb.h"

namespace hashmesh::cli {

// Ids of the records that a retraction by the same author withdraws (a retraction of somebody
// else's record, or a void one, withdraws nothing).
std::set<std::string> RetractedIds(const std::vector<api::RecordView>& records);

// The facts common/signal_state.h derives a state from, for one exported record.
SignalStateFacts FactsOf(const api::RecordView& record, const std::set<std::string>& retracted);
// The state of a signal record, or of a notice record's inline fingerprints, given the ids
// RetractedIds found. Other kinds are current unless void.
SignalState StateOf(const api::RecordView& record, const std::set<std::string>& retracted,
                    uint64_t now_ms);

}  // namespace hashmesh::cli
