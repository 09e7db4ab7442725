// `hashmesh audit`: what a node's records say, counted: records per member, role and kind; notices
// per issuing body, jurisdiction and category; every dispute and retraction; signals by label.
// Pure functions over exported records; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "proto/api.pb.h"
#include "proto/reports.pb.h"

namespace hashmesh::cli {

// `feeds` gives each member's name and role (as the node's trust store has them).
api::AuditReport BuildAuditReport(const api::FeedsResponse& feeds,
                                  const std::vector<api::RecordView>& records, uint64_t now_ms);
// The report as text sections, each line ending in '\n'.
std::string FormatAuditReport(const api::AuditReport& report);

}  // namespace hashmesh::cli
