// Offline verification of a record log (`hashmesh export` lines): per author, the records in seq
// order form a valid feed from seq 1, each accepted by the nodes' own rule (AcceptRecord in
// keys/record_acceptance.h: signatures, manifests, prev links, trust, roles, retraction targets)
// over the feed as followed so far, so that a log verified here is accepted by every node in any
// batching; two different records at one (author, seq) are an equivocation.
// Nothing but the lines and the trust store is used. Thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "keys/trust_store.h"
#include "proto/api.pb.h"
#include "proto/reports.pb.h"

namespace hashmesh::cli {

class LogVerifier {
 public:
  // `trust` must outlive the verifier.
  explicit LogVerifier(const TrustStore* trust) : trust_(trust) {}

  // One line of `file` (1-based `line`); blank lines are skipped, an unreadable line is a problem.
  void AddLine(const std::string& file, uint32_t line, std::string_view text);
  // Verifies everything added. Problems come in file and line order, feed-level ones after.
  api::VerifyLogReport Finish() const;

  // "FILE:LINE: alice seq 3 id <id>: what is wrong" for the human output.
  static std::string FormatProblem(const api::LogProblem& problem);

 private:
  struct Entry {
    std::string file;
    uint32_t line = 0;
    api::RecordView view;
  };

  const TrustStore* trust_;
  std::vector<Entry> entries_;
  std::vector<api::LogProblem> unreadable_;
  uint32_t lines_ = 0;
};

}  // namespace hashmesh::cli
