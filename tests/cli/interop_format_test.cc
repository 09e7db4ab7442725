// Offline record-log verification (rotation, forks, retractions of others' records, duplicates)
// and python-threatexchange CSV rows and labels, without a daemon.
#include <gtest/gtest.h>

#include "common/json.h"
#include "daemon/cli/log_verifier.h"
#include "daemon/cli/record_log.h"
#include "daemon/cli/te_format.h"
#include "tests/support/test_member.h"
#include "tests/support/test_trust.h"

namespace hashmesh::cli {
namespace {

using hashmesh::testing::RandomPdqHex;
using hashmesh::testing::TestMember;
using hashmesh::testing::TrustFor;

// The export line of `record` as far as the verifier reads it (ids, author, seq, kind, and the
// body and signature exactly as signed); built here because the CLI, and so its tests, may not
// use the daemon's renderer (daemon/api/record_view.h).
std::string ExportLine(const ParsedRecord& record, const TrustStore& trust) {
  api::RecordView v;
  v.set_id(ToHex(record.id));
  v.set_author(KeyToText(record.author));
  if (const TrustMember* m = trust.FindByKey(record.author)) v.set_author_name(m->name);
  v.set_seq(static_cast<uint32_t>(record.seq()));
  if (record.prev) v.set_prev(ToHex(*record.prev));
  v.set_kind(std::string(RecordKindName(record.kind)));
  v.set_body(record.signed_record.body());
  v.set_signature(record.signed_record.signature());
  return RecordLine(v);
}

// "ok: verified ..." or one "seq N: problem" per problem, then the summary.
std::string Verify(const TrustStore& trust, const std::vector<ParsedRecord>& records) {
  LogVerifier verifier(&trust);
  uint32_t line = 0;
  for (const auto& r : records)
    verifier.AddLine("log", ++line, ExportLine(r, trust));
  api::VerifyLogReport report = verifier.Finish();
  std::string out;
  for (const auto& p : report.problems()) {
    out += p.author_name() + " seq " + std::to_string(p.seq()) + ": " + p.problem() + "\n";
  }
  return out + report.summary();
}

TEST(InteropLogVerifierTest, RotatedKeysVerifyAndDuplicateLinesAreNoFork) {
  TestMember alice;
  alice.AppendManifest();
  alice.AppendSignal(RandomPdqHex(1));
  alice.Rotate();
  alice.AppendSignal(RandomPdqHex(2));
  TrustStore trust = TrustFor({{"alice", &alice}});
  std::vector<ParsedRecord> log = alice.feed();
  log.push_back(alice.feed()[1]);  // the same record twice, e.g. two nodes' exports together
  EXPECT_EQ(Verify(trust, log), "verified 4 records from 1 members; 0 problems");
}

TEST(InteropLogVerifierTest, TwoSignedRecordsAtOneSeqAreAnEquivocation) {
  TestMember alice;
  alice.AppendManifest();
  ParsedRecord first = alice.AppendSignal(RandomPdqHex(1));
  pb::RecordBody other;
  other.mutable_signal()->set_type(pb::SIGNAL_TYPE_PDQ);
  other.mutable_signal()->set_value(RandomPdqHex(2));
  other.mutable_signal()->add_labels("x/y");
  auto fork = BuildRecord(other, alice.signing_key(), alice.id(), 2, alice.feed()[0].id,
                          alice.manifest_seq(), NowMs());
  ASSERT_TRUE(fork.ok());
  TrustStore trust = TrustFor({{"alice", &alice}});
  EXPECT_EQ(
      Verify(trust, {alice.feed()[0], first, *fork}),
      "alice seq 2: equivocation: the author signed another record at seq 2: " + ToHex(fork->id) +
          " (log:3)\n"
          "alice seq 2: equivocation: the author signed another record at seq 2: " +
          ToHex(first.id) +
          " (log:2)\n"
          "verified 1 records from 1 members; 2 problems");
}

TEST(InteropLogVerifierTest, RetractingSomebodyElsesRecordIsReported) {
  TestMember alice, bob;
  alice.AppendManifest();
  ParsedRecord signal = alice.AppendSignal(RandomPdqHex(1));
  bob.AppendManifest();
  pb::RecordBody retraction;
  retraction.mutable_retraction()->set_target(std::string(AsStringView(signal.id)));
  retraction.mutable_retraction()->set_reason("not mine");
  bob.Append(retraction);
  TrustStore trust = TrustFor({{"alice", &alice}, {"bob", &bob}});
  std::vector<ParsedRecord> log = alice.feed();
  log.insert(log.end(), bob.feed().begin(), bob.feed().end());
  EXPECT_EQ(Verify(trust, log), "bob seq 2: retracts " + ToHex(signal.id) +
                                    ", which is not one of the author's own earlier records\n"
                                    "verified 3 records from 2 members; 1 problems");
}

TEST(InteropTeFormatTest, CsvRowsQuoteAndSplitLikePython) {
  auto fields = SplitCsvLine("pdq,\"a,b\",\"say \"\"hi\"\"\",,\"x y\"\r");
  ASSERT_TRUE(fields.ok());
  EXPECT_EQ(*fields, (std::vector<std::string>{"pdq", "a,b", "say \"hi\"", "", "x y"}));
  EXPECT_FALSE(SplitCsvLine("pdq,\"open").ok());
  EXPECT_FALSE(SplitCsvLine("pdq,a\"b").ok());
  EXPECT_EQ(FormatTeCsvRow({"url", "https://x.org/a,b", "alice", "POSITIVE_CLASS", "a b"}),
            "url,\"https://x.org/a,b\",alice,POSITIVE_CLASS,a b\n");
}

TEST(InteropTeFormatTest, TypesAndLabelsMapBothWays) {
  EXPECT_EQ(FromTeType("video_md5")->type, "md5");
  EXPECT_EQ(FromTeType("video_md5")->content_type, "video");
  EXPECT_EQ(FromTeType("video_tmkpdqf")->type, "tmk_pdqf");
  EXPECT_FALSE(FromTeType("url_md5").ok());
  EXPECT_EQ(ToTeType("sha256"), "video_sha256");
  EXPECT_EQ(ToTeType("photodna"), "");
  auto labels = LabelsFromTe("positive_class", " a  b a ");
  ASSERT_TRUE(labels.ok());
  EXPECT_EQ(*labels, (std::vector<std::string>{"category/positive_class", "tag/a", "tag/b"}));
  std::string category, tags;
  TeCategoryAndTags({"src/x", "category/negative_class", "tag/a", "with space"}, &category, &tags);
  EXPECT_EQ(category, "NEGATIVE_CLASS");
  EXPECT_EQ(tags, "src/x a with_space");
  TeCategoryAndTags({}, &category, &tags);
  EXPECT_EQ(category, "POSITIVE_CLASS");
  EXPECT_EQ(tags, "");
}

}  // namespace
}  // namespace hashmesh::cli
