// Writes the protocol test vectors (tests/vectors/README.md): small feeds signed with fixed keys at
// fixed times, each as hex lines and as `hashmesh export` JSON lines, with the expected record
// ids, validity verdicts and match verdicts. Built from the code's own record and manifest
// builders, so running it again rewrites the same files. Usage: make_vectors tests/vectors
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/manifest.h"
#include "common/record.h"
#include "daemon/cli/record_log.h"
#include "daemon/match/record_view.h"
#include "keys/trust_store.h"

namespace hashmesh {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kTime = 1'767'225'600'000;  // 2026-01-01T00:00:00Z

SecretKey Key(uint8_t n) {
  Seed seed{};
  seed.fill(n);
  return SecretKey::FromSeed(seed);
}

// A member's keys: member key seed n, signing key of manifest m seed n + 16 * m.
struct Member {
  std::string name;
  Role role;
  uint8_t n;
  PublicKey id() const { return Key(n).public_key(); }
};

const Member kAlice{"alice", Role::kPlatform, 1};
const Member kBob{"bob", Role::kPlatform, 2};
const Member kCarol{"carol", Role::kPlatform, 3};
const Member kGov{"gov", Role::kAuthority, 4};
const Member kAudit{"audit", Role::kAuditor, 5};
const Member kMirror{"mirror", Role::kReplica, 6};
const Member kMallory{"mallory", Role::kPlatform, 9};  // not in the trust store

SecretKey SigningKey(const Member& m, uint32_t manifest_seq) {
  return Key(static_cast<uint8_t>(m.n + 16 * manifest_seq));
}

// Overrides for one append, to break one rule.
struct Bend {
  std::optional<uint32_t> manifest_seq;  // what the record names
  std::optional<uint32_t> sign_with;     // manifest seq whose key signs it
  std::optional<uint64_t> seq;
  std::optional<RecordId> prev;
  bool flip_signature = false;

  Bend& ManifestSeq(uint32_t v) { return manifest_seq = v, *this; }
  Bend& SignWith(uint32_t v) { return sign_with = v, *this; }
  Bend& Seq(uint64_t v) { return seq = v, *this; }
  Bend& Prev(const RecordId& v) { return prev = v, *this; }
  Bend& FlipSignature() { return flip_signature = true, *this; }
};

// One member's feed, appended with the real builders; each append may be bent by a test case.
class Feed {
 public:
  explicit Feed(const Member& m) : m_(m) {}

  ParsedRecord Append(pb::RecordBody body, const Bend& bend = Bend()) {
    const uint64_t seq = bend.seq.value_or(head_seq_ + 1);
    std::optional<RecordId> prev = bend.prev;
    if (!prev && seq > 1 && seq - 1 <= ids_.size()) prev = ids_[seq - 2];
    const uint32_t mseq = bend.manifest_seq.value_or(current_);
    const SecretKey key = SigningKey(m_, bend.sign_with.value_or(mseq));
    const Member author = m_;
    std::string bytes =
        SealRecordBody(std::move(body), author.id(), seq, prev, mseq, kTime + 60'000 * seq);
    ParsedRecord r;
    r.signed_record.set_body(bytes);
    Signature sig = key.Sign(kRecordPurpose, bytes);
    if (bend.flip_signature) sig[10] ^= 0x01;
    r.signed_record.set_signature(std::string(AsStringView(sig)));
    if (auto parsed = ParseRecord(r.signed_record); parsed.ok()) {
      r = *parsed;
    } else {  // structurally invalid on purpose: fill what the export line shows
      r.body.ParseFromString(bytes);
      r.id = ComputeRecordId(bytes);
      std::copy(r.body.author().begin(), r.body.author().end(), r.author.begin());
      if (r.body.prev().size() == 32) {
        r.prev.emplace();
        std::copy(r.body.prev().begin(), r.body.prev().end(), r.prev->begin());
      }
    }
    head_seq_ = seq;
    if (ids_.size() < seq) ids_.resize(seq);
    ids_[seq - 1] = r.id;
    return r;
  }

  // A manifest record for manifest `mseq` (a revocation if kRevocationManifestSeq). A rotation
  // record is signed by its new key unless `bend` says otherwise.
  ParsedRecord Manifest(uint32_t mseq, uint64_t compromised_after = 0, Bend bend = Bend()) {
    const SecretKey member = Key(m_.n);
    std::string manifest;
    if (mseq == kRevocationManifestSeq) {
      manifest = *BuildSignedManifest(member, nullptr, mseq, kTime, compromised_after);
    } else {
      const SecretKey signing = SigningKey(m_, mseq);
      manifest = *BuildSignedManifest(member, &signing, mseq, kTime, compromised_after);
      if (!bend.manifest_seq) bend.manifest_seq = mseq;
    }
    pb::RecordBody body;
    body.mutable_manifest()->ParseFromString(manifest);
    ParsedRecord r = Append(std::move(body), bend);
    if (mseq != kRevocationManifestSeq && r.kind == RecordKind::kManifest) current_ = mseq;
    return r;
  }

  ParsedRecord Signal(pb::SignalType type, const std::string& value, const Bend& bend = Bend(),
                      uint64_t expires_at_ms = 0) {
    pb::RecordBody body;
    pb::Signal* s = body.mutable_signal();
    s->set_type(type);
    s->set_value(value);
    s->add_labels("terrorism/glorification");
    s->set_content_type("image");
    if (type == pb::SIGNAL_TYPE_PDQ) s->set_quality(90);
    s->set_expires_at_ms(expires_at_ms);
    return Append(std::move(body), bend);
  }

  ParsedRecord Opinion(const RecordId& target, pb::Stance stance, const Bend& bend = Bend()) {
    pb::RecordBody body;
    body.mutable_opinion()->set_target(std::string(AsStringView(target)));
    body.mutable_opinion()->set_stance(stance);
    body.mutable_opinion()->set_reason("vector");
    return Append(std::move(body), bend);
  }

  ParsedRecord Retraction(const RecordId& target, const Bend& bend = Bend()) {
    pb::RecordBody body;
    body.mutable_retraction()->set_target(std::string(AsStringView(target)));
    body.mutable_retraction()->set_reason("published in error");
    return Append(std::move(body), bend);
  }

  ParsedRecord Notice(const std::optional<RecordId>& target, const pb::Signal* inline_signal) {
    pb::RecordBody body;
    pb::Notice* n = body.mutable_notice();
    if (target) n->add_targets()->set_record_id(std::string(AsStringView(*target)));
    if (inline_signal) *n->add_targets()->mutable_signal() = *inline_signal;
    n->set_category("terrorist_content");
    n->set_jurisdiction("EU");
    n->set_legal_basis("Regulation (EU) 2021/784, Art. 3");
    n->set_issuing_body("Example Internet Referral Unit");
    n->set_reference("IRU-2026-0001");
    n->set_requested_action(pb::REQUESTED_ACTION_REMOVE);
    return Append(std::move(body));
  }

 private:
  Member m_;
  uint64_t head_seq_ = 0;
  uint32_t current_ = 1;
  std::vector<RecordId> ids_;
};

// Distinct values per case, far apart (random-looking 256-bit PDQ hashes are ~128 bits apart),
// so that no query finds a neighbour's signal within the PDQ threshold.
std::string HexOf(const std::string& seed) { return ToHex(Sha256(AsBytes(seed))); }
std::string Pdq(int n) { return HexOf("pdq " + std::to_string(n)); }
std::string Md5(int n) { return HexOf("md5 " + std::to_string(n)).substr(0, 32); }
std::string ShaValue(int n) { return HexOf("sha256 " + std::to_string(n)); }

struct Case {
  std::string name;
  std::string description;
  std::string rule;  // empty: valid
  std::vector<ParsedRecord> lines;
  size_t bad_line = 0;  // 1-based line of the first record that breaks the rule
  std::vector<size_t> void_lines;
};

Case NewCase(std::string name, std::string description, std::string rule = "") {
  Case c;
  c.name = std::move(name);
  c.description = std::move(description);
  c.rule = std::move(rule);
  return c;
}

std::vector<Case> BuildCases() {
  std::vector<Case> cases;
  auto add = [&](Case c) { cases.push_back(std::move(c)); };

  {  // Every kind a platform may publish, and a retraction of its own signal.
    Feed a(kAlice);
    Case c = NewCase("valid-basic",
                     "platform feed: manifest, pdq/md5/url signals, own retraction of md5");
    c.lines.push_back(a.Manifest(1));
    c.lines.push_back(a.Signal(pb::SIGNAL_TYPE_PDQ, Pdq(1)));
    ParsedRecord md5 = a.Signal(pb::SIGNAL_TYPE_MD5, Md5(1));
    c.lines.push_back(md5);
    c.lines.push_back(a.Signal(pb::SIGNAL_TYPE_URL, "https://example.com/watch?v=1"));
    c.lines.push_back(a.Retraction(md5.id));
    c.lines.push_back(a.Signal(pb::SIGNAL_TYPE_SHA256, ShaValue(1), {}, kTime - 1));  // expired
    add(std::move(c));
  }
  {  // Four members: support, a notice with an inline signal, an auditor's opinion.
    Feed a(kAlice), b(kBob), g(kGov), u(kAudit);
    Case c = NewCase("valid-multi",
                     "alice signal endorsed by bob; gov notice on it plus an inline sha256; "
                     "audit marks it seen");
    c.lines.push_back(a.Manifest(1));
    ParsedRecord sig = a.Signal(pb::SIGNAL_TYPE_PDQ, Pdq(2));
    c.lines.push_back(sig);
    c.lines.push_back(b.Manifest(1));
    c.lines.push_back(b.Opinion(sig.id, pb::STANCE_ENDORSE));
    c.lines.push_back(g.Manifest(1));
    pb::Signal inline_signal;
    inline_signal.set_type(pb::SIGNAL_TYPE_SHA256);
    inline_signal.set_value(ShaValue(2));
    c.lines.push_back(g.Notice(sig.id, &inline_signal));
    c.lines.push_back(u.Manifest(1));
    c.lines.push_back(u.Opinion(sig.id, pb::STANCE_SEEN));
    add(std::move(c));
  }
  {
    Feed a(kAlice), b(kBob), k(kCarol);
    Case c = NewCase("valid-dispute", "alice signal endorsed by bob, disputed by carol");
    c.lines.push_back(a.Manifest(1));
    ParsedRecord sig = a.Signal(pb::SIGNAL_TYPE_PDQ, Pdq(3));
    c.lines.push_back(sig);
    c.lines.push_back(b.Manifest(1));
    c.lines.push_back(b.Opinion(sig.id, pb::STANCE_ENDORSE));
    c.lines.push_back(k.Manifest(1));
    c.lines.push_back(k.Opinion(sig.id, pb::STANCE_DISPUTE));
    add(std::move(c));
  }
  {
    Feed a(kAlice);
    Case c = NewCase("valid-rotation",
                     "key rotation: manifest 2 signed by the new key, then a signal under it");
    c.lines.push_back(a.Manifest(1));
    c.lines.push_back(a.Signal(pb::SIGNAL_TYPE_PDQ, Pdq(4)));
    c.lines.push_back(a.Manifest(2));
    c.lines.push_back(a.Signal(pb::SIGNAL_TYPE_PDQ, Pdq(5)));
    add(std::move(c));
  }
  {
    Feed a(kAlice);
    Case c = NewCase("valid-compromise",
                     "rotation naming compromise point 2: seq 3 (old key, after 2) is void");
    c.lines.push_back(a.Manifest(1));
    c.lines.push_back(a.Signal(pb::SIGNAL_TYPE_PDQ, Pdq(6)));
    c.lines.push_back(a.Signal(pb::SIGNAL_TYPE_PDQ, Pdq(7)));
    c.lines.push_back(a.Manifest(2, /*compromised_after=*/2));
    c.lines.push_back(a.Signal(pb::SIGNAL_TYPE_PDQ, Pdq(8)));
    c.void_lines = {3};
    add(std::move(c));
  }
  {
    Feed a(kAlice);
    Case c = NewCase("valid-revocation",
                     "revocation (manifest seq 0xFFFFFFFF) signed by the key it ends");
    c.lines.push_back(a.Manifest(1));
    c.lines.push_back(a.Signal(pb::SIGNAL_TYPE_PDQ, Pdq(9)));
    c.lines.push_back(a.Manifest(kRevocationManifestSeq));
    add(std::move(c));
  }
  {
    Feed a(kAlice);
    Case c = NewCase("bad-signature", "seq 2 signature altered", "signature");
    c.lines.push_back(a.Manifest(1));
    c.lines.push_back(a.Signal(pb::SIGNAL_TYPE_PDQ, Pdq(10), Bend().FlipSignature()));
    c.bad_line = 2;
    add(std::move(c));
  }
  {
    Feed a(kAlice);
    Case c = NewCase("wrong-prev", "seq 3 prev is not the id of seq 2", "prev");
    c.lines.push_back(a.Manifest(1));
    ParsedRecord first = a.Signal(pb::SIGNAL_TYPE_PDQ, Pdq(11));
    c.lines.push_back(first);
    RecordId wrong = first.id;
    wrong[0] ^= 0xff;
    c.lines.push_back(a.Signal(pb::SIGNAL_TYPE_PDQ, Pdq(12), Bend().Prev(wrong)));
    c.bad_line = 3;
    add(std::move(c));
  }
  {
    Feed a(kAlice);
    Case c = NewCase("seq-gap", "seq 3 is missing: seq 4 does not extend head 2", "seq-gap");
    c.lines.push_back(a.Manifest(1));
    ParsedRecord two = a.Signal(pb::SIGNAL_TYPE_PDQ, Pdq(13));
    c.lines.push_back(two);
    a.Signal(pb::SIGNAL_TYPE_PDQ, Pdq(14));  // seq 3, left out of the file
    c.lines.push_back(a.Signal(pb::SIGNAL_TYPE_PDQ, Pdq(15)));
    c.bad_line = 3;
    add(std::move(c));
  }
  {
    Feed u(kAudit);
    Case c = NewCase("role-not-allowed", "an auditor publishes a signal", "role");
    c.lines.push_back(u.Manifest(1));
    c.lines.push_back(u.Signal(pb::SIGNAL_TYPE_PDQ, Pdq(16)));
    c.bad_line = 2;
    add(std::move(c));
  }
  {
    Feed r(kMirror);
    Case c = NewCase("replica-opinion", "a replica publishes an opinion", "role");
    c.lines.push_back(r.Manifest(1));
    RecordId any{};
    any.fill(7);
    c.lines.push_back(r.Opinion(any, pb::STANCE_SEEN));
    c.bad_line = 2;
    add(std::move(c));
  }
  {
    Feed a(kAlice);
    Case c = NewCase("unknown-manifest", "seq 2 names manifest 2, which the feed never published",
                     "unknown-manifest");
    c.lines.push_back(a.Manifest(1));
    c.lines.push_back(a.Signal(pb::SIGNAL_TYPE_PDQ, Pdq(17), Bend().ManifestSeq(2).SignWith(2)));
    c.bad_line = 2;
    add(std::move(c));
  }
  {
    Feed a(kAlice);
    Case c = NewCase("superseded-manifest",
                     "after rotating to manifest 2, seq 4 is signed under manifest 1",
                     "unknown-manifest");
    c.lines.push_back(a.Manifest(1));
    c.lines.push_back(a.Signal(pb::SIGNAL_TYPE_PDQ, Pdq(18)));
    c.lines.push_back(a.Manifest(2));
    c.lines.push_back(a.Signal(pb::SIGNAL_TYPE_PDQ, Pdq(19), Bend().ManifestSeq(1)));
    c.bad_line = 4;
    add(std::move(c));
  }
  {
    Feed a(kAlice);
    Case c = NewCase("no-first-manifest", "seq 1 is a signal, not the feed's manifest",
                     "first-manifest");
    c.lines.push_back(a.Signal(pb::SIGNAL_TYPE_PDQ, Pdq(20)));
    c.bad_line = 1;
    add(std::move(c));
  }
  {
    Feed a(kAlice);
    Case c = NewCase("rotation-old-key", "rotation record signed by the old key (manifest_seq 1)",
                     "rotation-key");
    c.lines.push_back(a.Manifest(1));
    c.lines.push_back(a.Manifest(2, 0, Bend().ManifestSeq(1)));
    c.bad_line = 2;
    add(std::move(c));
  }
  {
    Feed a(kAlice);
    Case c = NewCase("manifest-rollback", "manifest 3, then manifest 2", "manifest-rollback");
    c.lines.push_back(a.Manifest(1));
    c.lines.push_back(a.Manifest(3));
    c.lines.push_back(a.Manifest(2));
    c.bad_line = 3;
    add(std::move(c));
  }
  {
    Feed a(kAlice), b(kBob);
    Case c = NewCase("retract-other", "bob retracts alice's signal", "retraction-target");
    c.lines.push_back(a.Manifest(1));
    ParsedRecord sig = a.Signal(pb::SIGNAL_TYPE_PDQ, Pdq(21));
    c.lines.push_back(sig);
    c.lines.push_back(b.Manifest(1));
    c.lines.push_back(b.Retraction(sig.id));
    c.bad_line = 4;
    add(std::move(c));
  }
  {
    Feed a(kAlice);
    Case c = NewCase("after-revocation", "a signal after the feed's revocation", "revoked");
    c.lines.push_back(a.Manifest(1));
    c.lines.push_back(a.Manifest(kRevocationManifestSeq));
    c.lines.push_back(a.Signal(pb::SIGNAL_TYPE_PDQ, Pdq(22)));
    c.bad_line = 3;
    add(std::move(c));
  }
  {
    Feed a(kAlice);
    Case c = NewCase("compromise-not-before", "manifest record at seq 3 names compromise point 3",
                     "compromise-point");
    c.lines.push_back(a.Manifest(1));
    c.lines.push_back(a.Signal(pb::SIGNAL_TYPE_PDQ, Pdq(23)));
    c.lines.push_back(a.Manifest(2, /*compromised_after=*/3));
    c.bad_line = 3;
    add(std::move(c));
  }
  {
    Feed a(kAlice);
    Case c = NewCase("non-canonical", "pdq value in uppercase hex", "structure");
    c.lines.push_back(a.Manifest(1));
    std::string upper = Pdq(24);
    for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    c.lines.push_back(a.Signal(pb::SIGNAL_TYPE_PDQ, upper));
    c.bad_line = 2;
    add(std::move(c));
  }
  {
    Feed m(kMallory);
    Case c = NewCase("untrusted-author", "a well-formed feed by a member not in the trust store",
                     "untrusted");
    c.lines.push_back(m.Manifest(1));
    c.lines.push_back(m.Signal(pb::SIGNAL_TYPE_PDQ, Pdq(25)));
    c.bad_line = 1;
    add(std::move(c));
  }
  {
    Feed a(kAlice);
    Case c =
        NewCase("fork", "two validly signed records at seq 2; seq 3 follows the first", "fork");
    c.lines.push_back(a.Manifest(1));
    ParsedRecord first = a.Signal(pb::SIGNAL_TYPE_PDQ, Pdq(26));
    c.lines.push_back(first);
    c.lines.push_back(a.Signal(pb::SIGNAL_TYPE_PDQ, Pdq(27), Bend().Seq(2)));
    c.lines.push_back(a.Signal(pb::SIGNAL_TYPE_PDQ, Pdq(28), Bend().Seq(3).Prev(first.id)));
    c.bad_line = 2;
    add(std::move(c));
  }
  return cases;
}

struct Verdict {
  std::string cases;  // comma-separated case names loaded into one node
  std::string type, value, action, why;
};

std::vector<Verdict> BuildVerdicts() {
  return {
      {"valid-multi", "pdq", Pdq(2), "act", "2 platforms (author + bob's endorsement)"},
      {"valid-multi", "sha256", ShaValue(2), "review", "inline in an authority notice alone"},
      {"valid-basic", "pdq", Pdq(1), "review", "1 platform of 2 needed"},
      {"valid-basic", "md5", Md5(1), "none", "retracted by its author"},
      {"valid-basic", "url", "https://example.com/watch?v=1", "review", "1 platform"},
      {"valid-basic", "sha256", ShaValue(1), "none", "expired"},
      {"valid-basic", "md5", Md5(99), "none", "no matching signal"},
      {"valid-dispute", "pdq", Pdq(3), "review", "disputed by carol; bob still supports"},
      {"valid-compromise", "pdq", Pdq(7), "none", "the only match is void"},
      {"valid-compromise", "pdq", Pdq(8), "review", "signed by the new key"},
      {"valid-compromise", "pdq", Pdq(6), "review", "before the compromise point"},
      {"fork", "pdq", Pdq(26), "none", "author forked at seq 2"},
  };
}

std::string Hex(const ParsedRecord& r) { return ToHex(r.signed_record.SerializeAsString()); }

void Write(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  std::printf("%s (%zu bytes)\n", path.c_str(), text.size());
}

int Main(int argc, char** argv) {
  if (argc != 2 || !InitCrypto()) {
    std::fprintf(stderr, "usage: make_vectors DIR (tests/vectors)\n");
    return 2;
  }
  const fs::path dir = argv[1];
  fs::create_directories(dir / "feeds");

  TrustStore trust;
  std::string keys =
      "# name role member_seed_byte member_id; signing key of manifest m: seed "
      "byte (member byte + 16*m), every byte of the 32-byte seed equal\n";
  for (const Member& m : {kAlice, kBob, kCarol, kGov, kAudit, kMirror, kMallory}) {
    char line[64];
    std::snprintf(line, sizeof line, "%02x", m.n);
    keys += m.name + " " + std::string(RoleName(m.role)) + " " + line + " " + KeyToText(m.id()) +
            (m.n == kMallory.n ? " (not in trust.toml)" : "") + "\n";
    if (m.n == kMallory.n) continue;
    Status s = trust.Add({.name = m.name, .member_key = m.id(), .roles = {m.role}, .address = ""});
    if (!s.ok()) return std::fprintf(stderr, "%s\n", s.message().c_str()), 1;
  }
  Write(dir / "trust.toml", FormatTrustStore(trust));
  Write(dir / "keys.txt", keys);

  std::string expected =
      "# case NAME valid | case NAME invalid RULE LINE | void NAME LINE | now MS |\n"
      "# verdict CASES TYPE VALUE ACTION (see README.md)\n";
  for (const Case& c : BuildCases()) {
    std::string hex, jsonl;
    std::map<uint32_t, ManifestInfo> manifests;  // for the voided flag an export shows
    for (const ParsedRecord& r : c.lines) {
      if (r.kind == RecordKind::kManifest && r.body.has_manifest()) {
        if (auto info = VerifySignedManifest(r.body.manifest()); info.ok()) {
          if (r.author == info->member_key) manifests[info->seq] = *info;
        }
      }
    }
    for (size_t i = 0; i < c.lines.size(); ++i) {
      const ParsedRecord& r = c.lines[i];
      hex += ToHex(r.id) + " " + Hex(r) + "\n";
      api::RecordView view = ToRecordView(r, &trust);
      if (std::find(c.void_lines.begin(), c.void_lines.end(), i + 1) != c.void_lines.end()) {
        view.set_voided(true);
      }
      jsonl += cli::RecordLine(view) + "\n";
    }
    Write(dir / "feeds" / (c.name + ".hex"), hex);
    Write(dir / "feeds" / (c.name + ".jsonl"), jsonl);
    expected += "# " + c.name + ": " + c.description + "\n";
    if (c.rule.empty()) {
      expected += "case " + c.name + " valid\n";
    } else {
      expected += "case " + c.name + " invalid " + c.rule + " " + std::to_string(c.bad_line) + "\n";
    }
    for (size_t line : c.void_lines)
      expected += "void " + c.name + " " + std::to_string(line) + "\n";
  }
  expected += "# verdicts under the default policy (README.md) at this time (ms since the epoch)\n";
  expected += "now " + std::to_string(kTime + 86'400'000) + "\n";
  for (const Verdict& v : BuildVerdicts()) {
    expected += "# " + v.why + "\n";
    expected += "verdict " + v.cases + " " + v.type + " " + v.value + " " + v.action + "\n";
  }
  Write(dir / "expected.txt", expected);
  return 0;
}

}  // namespace
}  // namespace hashmesh

int main(int argc, char** argv) { return hashmesh::Main(argc, argv); }
