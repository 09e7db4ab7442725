// What a set of records (a node's export) says about its signals: which records their own authors
// retracted, and which signals have expired. Pure functions over RecordViews; thread-safe.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "proto/api.pb.h"

namespace hashmesh::cli {

// Ids of the records that a retraction by the same author withdraws (a retraction of somebody
// else's record is void and ignored here).
std::set<std::string> RetractedIds(const std::vector<api::RecordView>& records);

// True for a signal, or a notice, whose expiry is set and at or before `now_ms`.
bool SignalExpired(const api::SignalRequest& signal, uint64_t now_ms);
bool NoticeExpired(const api::NoticeView& notice, uint64_t now_ms);

}  // namespace hashmesh::cli
