// The committed protocol vectors (tests/vectors/README.md) against this implementation: every id
// recomputed from the signed bytes, every feed's validity as `hashmesh verify-log` judges it
// (valid/invalid, the first offending line and the rule's category, not the message text), and
// every match verdict through the matcher and the local policy.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/record.h"
#include "daemon/api/match_codec.h"
#include "daemon/cli/log_verifier.h"
#include "daemon/cli/record_log.h"
#include "daemon/match/matcher.h"
#include "daemon/match/pdq_signal_index.h"
#include "daemon/storage/compromise_points.h"
#include "daemon/storage/store.h"
#include "keys/trust_store.h"
#include "proto/wire.pb.h"

namespace hashmesh {
namespace {

namespace fs = std::filesystem;
const fs::path kDir = HASHMESH_VECTORS_DIR;

struct CaseExpectation {
  bool valid = true;
  std::string rule;
  size_t line = 0;
  std::vector<size_t> void_lines;
};

struct VerdictExpectation {
  std::vector<std::string> cases;
  std::string type, value, action;
};

struct Expected {
  std::map<std::string, CaseExpectation> cases;
  std::vector<VerdictExpectation> verdicts;
  uint64_t now_ms = 0;
};

std::vector<std::string> ReadLines(const fs::path& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

std::vector<std::string> Split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, sep);) {
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

Expected LoadExpected() {
  Expected e;
  for (const std::string& line : ReadLines(kDir / "expected.txt")) {
    if (line.starts_with("#")) continue;
    std::vector<std::string> w = Split(line, ' ');
    if (w[0] == "case" && w.size() == 3 && w[2] == "valid") {
      e.cases[w[1]] = {};
    } else if (w[0] == "case" && w.size() == 5 && w[2] == "invalid") {
      e.cases[w[1]] = {.valid = false, .rule = w[3], .line = std::stoul(w[4]), .void_lines = {}};
    } else if (w[0] == "void" && w.size() == 3) {
      e.cases.at(w[1]).void_lines.push_back(std::stoul(w[2]));
    } else if (w[0] == "now" && w.size() == 2) {
      e.now_ms = std::stoull(w[1]);
    } else if (w[0] == "verdict" && w.size() == 5) {
      e.verdicts.push_back({Split(w[1], ','), w[2], w[3], w[4]});
    } else {
      ADD_FAILURE() << "expected.txt: unreadable line: " << line;
    }
  }
  return e;
}

// "<id hex> <SignedRecord hex>" lines of feeds/NAME.hex.
std::vector<std::pair<std::string, pb::SignedRecord>> HexFeed(const std::string& name) {
  std::vector<std::pair<std::string, pb::SignedRecord>> out;
  for (const std::string& line : ReadLines(kDir / "feeds" / (name + ".hex"))) {
    std::vector<std::string> w = Split(line, ' ');
    EXPECT_EQ(w.size(), 2u) << name << ": " << line;
    if (w.size() != 2) continue;
    auto bytes = FromHex(w[1]);
    EXPECT_TRUE(bytes.ok()) << name;
    pb::SignedRecord record;
    EXPECT_TRUE(record.ParseFromArray(bytes->data(), static_cast<int>(bytes->size()))) << name;
    out.emplace_back(w[0], std::move(record));
  }
  return out;
}

TrustStore Trust() {
  auto trust = LoadTrustStore((kDir / "trust.toml").string());
  EXPECT_TRUE(trust.ok()) << trust.status().message();
  return trust.ok() ? std::move(trust).value() : TrustStore();
}

// Words any wording of each rule's problem contains; the vectors fix the category, not the text.
const std::map<std::string, std::vector<std::string>> kRuleWords = {
    {"signature", {"signature"}},
    {"prev", {"prev"}},
    {"seq-gap", {"missing", "gap", "extend"}},
    {"role", {"publish", "role"}},
    {"unknown-manifest", {"manifest"}},
    {"first-manifest", {"manifest"}},
    {"rotation-key", {"manifest", "key"}},
    {"manifest-rollback", {"supersede", "manifest seq"}},
    {"retraction-target", {"retract"}},
    {"revoked", {"revoke", "revocation"}},
    {"compromise-point", {"compromise"}},
    {"structure", {"canonical", "invalid", "malformed"}},
    {"untrusted", {"trust"}},
    {"fork", {"equivocation", "fork"}},
};

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

TEST(VectorIds, EveryIdIsRecomputedFromTheSignedBody) {
  const Expected expected = LoadExpected();
  ASSERT_FALSE(expected.cases.empty());
  for (const auto& [name, c] : expected.cases) {
    auto hex = HexFeed(name);
    std::vector<std::string> jsonl = ReadLines(kDir / "feeds" / (name + ".jsonl"));
    ASSERT_EQ(hex.size(), jsonl.size()) << name;
    for (size_t i = 0; i < hex.size(); ++i) {
      const auto& [id, record] = hex[i];
      EXPECT_EQ(ToHex(ComputeRecordId(record.body())), id) << name << " line " << i + 1;
      if (auto parsed = ParseRecord(record); parsed.ok()) {
        EXPECT_EQ(ToHex(parsed->id), id) << name << " line " << i + 1;
      }
      // The export line is the same record.
      auto view = cli::ParseRecordLine(jsonl[i]);
      ASSERT_TRUE(view.ok()) << name << " line " << i + 1;
      EXPECT_EQ(view->id(), id) << name << " line " << i + 1;
      EXPECT_EQ(view->body(), record.body()) << name << " line " << i + 1;
      EXPECT_EQ(view->signature(), record.signature()) << name << " line " << i + 1;
    }
  }
}

TEST(VectorValidity, VerifyLogAgreesWithEveryFeed) {
  const Expected expected = LoadExpected();
  const TrustStore trust = Trust();
  for (const auto& [name, c] : expected.cases) {
    SCOPED_TRACE(name);
    std::vector<std::string> lines = ReadLines(kDir / "feeds" / (name + ".jsonl"));
    cli::LogVerifier verifier(&trust);
    std::map<std::string, size_t> line_of_id;
    for (size_t i = 0; i < lines.size(); ++i) {
      verifier.AddLine(name, static_cast<uint32_t>(i + 1), lines[i]);
      auto view = cli::ParseRecordLine(lines[i]);
      ASSERT_TRUE(view.ok());
      line_of_id.emplace(view->id(), i + 1);
    }
    api::VerifyLogReport report = verifier.Finish();
    std::vector<size_t> voided;
    for (const auto& v : report.voided()) voided.push_back(v.line());
    if (c.valid) {
      EXPECT_TRUE(report.ok()) << report.summary();
      for (const auto& p : report.problems()) ADD_FAILURE() << cli::LogVerifier::FormatProblem(p);
      EXPECT_EQ(voided, c.void_lines);
      continue;
    }
    EXPECT_FALSE(report.ok()) << "expected invalid (" << c.rule << ")";
    // Where each problem is: its line, or for a feed-level one the line of the record it names.
    size_t first = SIZE_MAX;
    std::string first_text;
    for (const auto& p : report.problems()) {
      size_t line = p.line();
      if (line == 0 && line_of_id.count(p.id())) line = line_of_id.at(p.id());
      if (line == 0) continue;
      if (line < first) first = line, first_text.clear();
      if (line == first) first_text += Lower(p.problem()) + "\n";
    }
    EXPECT_EQ(first, c.line) << "first problem is not at the expected line";
    const auto& words = kRuleWords.at(c.rule);
    EXPECT_TRUE(
        std::any_of(words.begin(), words.end(),
                    [&](const std::string& w) { return first_text.find(w) != std::string::npos; }))
        << "problem at line " << c.line << " does not read as rule " << c.rule << ": "
        << first_text;
  }
}

// Loads the records of `cases` into a fresh store as a node would hold them: each feed's chain in
// file order, a second record at a taken seq as a fork proof.
void LoadCases(Store& store, const std::vector<std::string>& cases) {
  Status s = store.Write([&](StoreBatch& batch) -> Status {
    for (const std::string& name : cases) {
      for (const auto& [id, signed_record] : HexFeed(name)) {
        HM_ASSIGN_OR_RETURN(ParsedRecord r, ParseRecord(signed_record));
        HM_ASSIGN_OR_RETURN(auto head, batch.Head(r.author));
        if (head && head->seq >= r.seq()) {
          HM_ASSIGN_OR_RETURN(auto stored, batch.GetRecord({r.author, r.seq()}));
          pb::Equivocation proof;
          proof.mutable_first()->ParseFromString(stored.value_or(""));
          *proof.mutable_second() = r.signed_record;
          HM_RETURN_IF_ERROR(batch.PutEquivocation(r.author, r.seq(), proof.SerializeAsString()));
        } else {
          HM_RETURN_IF_ERROR(batch.PutRecord(r));
        }
      }
    }
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.message();
}

TEST(VectorVerdicts, MatchVerdictsUnderTheDefaultPolicy) {
  const Expected expected = LoadExpected();
  ASSERT_FALSE(expected.verdicts.empty());
  ASSERT_NE(expected.now_ms, 0u);
  const TrustStore trust = Trust();
  const PolicyConfig policy;  // the defaults, as README.md states them
  const fs::path root =
      fs::temp_directory_path() / ("hashmesh-vectors-" + std::to_string(getpid()));
  int n = 0;
  for (const VerdictExpectation& v : expected.verdicts) {
    SCOPED_TRACE(v.type + " " + v.value);
    const fs::path dir = root / std::to_string(n++);
    fs::create_directories(dir);
    auto store = Store::Open({.dir = dir.string()});
    ASSERT_TRUE(store.ok()) << store.status().message();
    LoadCases(**store, v.cases);
    PdqSignalIndex index;
    ASSERT_TRUE(index.Load(**store).ok());
    CompromisePoints compromise;
    ASSERT_TRUE(compromise.Load(**store).ok());
    Matcher matcher(store->get(), &index, &compromise);
    api::MatchQuery query;
    query.set_type(v.type);
    query.set_value(v.value);
    auto spec = ParseMatchQuery(query, policy);
    ASSERT_TRUE(spec.ok()) << spec.status().message();
    auto result = matcher.Match(*spec, trust, policy, expected.now_ms);
    ASSERT_TRUE(result.ok()) << result.status().message();
    // Compared as the API answers it, so the vectors name actions as clients see them.
    const api::MatchResponse answer = ToMatchResponse(*result, trust, expected.now_ms);
    std::string reasons;
    for (const auto& r : answer.verdict().reasons()) reasons += r + "; ";
    EXPECT_EQ(answer.verdict().action(), v.action) << reasons;
  }
  fs::remove_all(root);
}

}  // namespace
}  // namespace hashmesh
