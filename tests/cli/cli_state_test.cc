// The CLI's view of signal state over exported records: retractions, expiry (sub-second ones
// included) and void records, and what `hashmesh audit` counts of them.
#include <gtest/gtest.h>

#include <google/protobuf/timestamp.pb.h>

#include "daemon/cli/audit_report.h"
#include "daemon/cli/signal_state.h"

namespace hashmesh::cli {
namespace {

api::RecordView SignalView(const std::string& id, const std::string& author,
                           const std::string& label) {
  api::RecordView v;
  v.set_id(id);
  v.set_author(author);
  v.set_kind("signal");
  v.mutable_signal()->set_type("md5");
  v.mutable_signal()->set_value(id);
  v.mutable_signal()->add_labels(label);
  return v;
}

api::RecordView Retraction(const std::string& id, const std::string& author,
                           const std::string& target) {
  api::RecordView v;
  v.set_id(id);
  v.set_author(author);
  v.set_kind("retraction");
  v.mutable_retraction()->set_target(target);
  return v;
}

TEST(CliSignalStateTest, OnlyTheAuthorsOwnLiveRetractionWithdraws) {
  api::RecordView void_retraction = Retraction("r3", "alice", "s3");
  void_retraction.set_voided(true);
  const std::vector<api::RecordView> records = {
      SignalView("s1", "alice", "a"), SignalView("s2", "alice", "a"),
      SignalView("s3", "alice", "a"), Retraction("r1", "alice", "s1"),
      Retraction("r2", "bob", "s2"),  void_retraction};
  EXPECT_EQ(RetractedIds(records), std::set<std::string>{"s1"});
}

TEST(CliSignalStateTest, SubSecondExpiryIsAnExpiry) {
  // 0.5 s after the epoch: seconds 0, nanos 500000000. It used to read as "no expiry".
  api::RecordView v = SignalView("s1", "alice", "a");
  v.mutable_signal()->mutable_expires_at()->set_nanos(500000000);
  EXPECT_EQ(FactsOf(v, {}).expires_at_ms, 500u);
  EXPECT_EQ(StateOf(v, {}, 499), SignalState::kCurrent);
  EXPECT_EQ(StateOf(v, {}, 500), SignalState::kExpired);

  api::RecordView notice;
  notice.set_id("n1");
  notice.set_kind("notice");
  notice.mutable_notice()->mutable_expires_at()->set_nanos(1000000);
  EXPECT_EQ(StateOf(notice, {}, 1), SignalState::kExpired);
}

TEST(CliSignalStateTest, VoidOutranksRetractedOutranksExpired) {
  api::RecordView v = SignalView("s1", "alice", "a");
  v.mutable_signal()->mutable_expires_at()->set_seconds(10);
  EXPECT_EQ(StateOf(v, {}, 5000), SignalState::kCurrent);
  EXPECT_EQ(StateOf(v, {}, 10000), SignalState::kExpired);
  EXPECT_EQ(StateOf(v, {"s1"}, 10000), SignalState::kRetracted);
  v.set_voided(true);
  EXPECT_EQ(StateOf(v, {"s1"}, 10000), SignalState::kVoid);
}

TEST(CliAuditTest, VoidSignalsAreNotCountedUnderTheirLabels) {
  api::RecordView live = SignalView("s1", "alice", "terror/x");
  api::RecordView gone = SignalView("s2", "alice", "terror/x");
  api::RecordView expired = SignalView("s3", "alice", "terror/x");
  expired.mutable_signal()->mutable_expires_at()->set_nanos(1000000);  // 1 ms
  api::RecordView voided = SignalView("s4", "alice", "terror/x");
  voided.set_voided(true);
  api::RecordView voided_only = SignalView("s5", "alice", "void/only");
  voided_only.set_voided(true);
  const std::vector<api::RecordView> records = {live, gone, expired, voided, voided_only,
                                                Retraction("r1", "alice", "s2")};
  api::AuditReport report = BuildAuditReport(api::FeedsResponse(), records, 1000);
  ASSERT_EQ(report.signals_by_label_size(), 1);  // no row for a label of void signals only
  const api::AuditLabel& l = report.signals_by_label(0);
  EXPECT_EQ(l.label(), "terror/x");
  EXPECT_EQ(l.signals(), 3u);
  EXPECT_EQ(l.retracted(), 1u);
  EXPECT_EQ(l.expired(), 1u);  // the sub-second expiry counts
  EXPECT_EQ(report.records(), 6u);  // void records are still records of their feed
}

}  // namespace
}  // namespace hashmesh::cli
