// Human-readable text for the daemon's answers (the `hashmesh` output without --json). Every
// function returns whole lines, each ending in '\n'. Pure functions; thread-safe.
#pragma once

#include <string>

#include "proto/api.pb.h"

namespace hashmesh::cli {

// "ed25519:ab12cd34.. (alice, platform) pdq d=3 labels=terrorism/x  id=<id>", then an indented
// line with what else is known (retracted, expired, opinions, notices, which query matched).
std::string FormatMatch(const api::Match& match);
// "verdict: review — reason; reason"
std::string FormatVerdict(const api::Verdict& verdict);
// The matches (or "no match") and the verdict.
std::string FormatMatchResponse(const api::MatchResponse& response);
// "#3 2027-01-31T00:00:00Z alice signal pdq:5feb12.. labels=x  id=ab12.."
std::string FormatRecordLine(const api::RecordView& record);
// Field per line.
std::string FormatRecord(const api::RecordView& record);
std::string FormatStatus(const api::StatusResponse& status);
std::string FormatFeeds(const api::FeedsResponse& feeds);
std::string FormatFeed(const api::FeedResponse& feed);
std::string FormatPeers(const api::PeersResponse& peers);
// Each fork proof: who, at which seq, and the two records (their full ids last).
std::string FormatForks(const api::EquivocationsResponse& forks);
// "published signal #12 id=<id>"
std::string FormatPublish(const api::PublishResponse& published);

}  // namespace hashmesh::cli
