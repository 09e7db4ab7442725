// Human-readable output of the `hashmesh` CLI.
#include "daemon/cli/cli_format.h"

#include <string_view>
#include <vector>

#include "daemon/cli/cli_common.h"

namespace hashmesh::cli {

namespace {

template <typename Strings>
std::string Join(const Strings& items, std::string_view sep) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += sep;
    out += item;
  }
  return out;
}

// "ed25519:ab12cd34.. (alice, platform)" with whatever of name and role is known.
std::string Who(const std::string& author, const std::string& name, const std::string& role) {
  std::string out = ShortId(author);
  std::vector<std::string> parts;
  if (!name.empty()) parts.push_back(name);
  if (!role.empty()) parts.push_back(role);
  if (!parts.empty()) out += " (" + Join(parts, ", ") + ")";
  return out;
}

std::string Quoted(const std::string& text) { return "\"" + text + "\""; }

std::string NoticeSummary(const api::NoticeView& n) {
  std::string out = "notice " + n.action();
  if (!n.jurisdiction().empty()) out += " " + n.jurisdiction();
  if (!n.category().empty()) out += " " + n.category();
  if (!n.issuing_body().empty()) out += " by " + Quoted(n.issuing_body());
  if (!n.legal_basis().empty()) out += " (" + n.legal_basis() + ")";
  if (!n.reference().empty()) out += " ref " + n.reference();
  if (n.retracted()) out += " [retracted]";
  if (n.expired()) out += " [expired]";
  return out;
}

std::string SignalSummary(const std::string& type, const std::string& value) {
  std::string shown = value.size() > 16 && type != "url" ? value.substr(0, 16) + ".." : value;
  return type + ":" + shown;
}

std::string Duration(uint32_t seconds) {
  uint32_t d = seconds / 86400, h = seconds / 3600 % 24, m = seconds / 60 % 60, s = seconds % 60;
  if (d > 0) return std::to_string(d) + "d " + std::to_string(h) + "h " + std::to_string(m) + "m";
  if (h > 0) return std::to_string(h) + "h " + std::to_string(m) + "m";
  if (m > 0) return std::to_string(m) + "m " + std::to_string(s) + "s";
  return std::to_string(s) + "s";
}

}  // namespace

std::string FormatMatch(const api::Match& m) {
  std::string line = Who(m.author(), m.author_name(), m.role()) + " " + m.type();
  line += m.type() == "pdq" ? " d=" + std::to_string(m.distance()) : " exact";
  if (m.labels_size() > 0) line += " labels=" + Join(m.labels(), ",");
  line += (m.record_kind() == "notice" ? "  in notice id=" : "  id=") + m.id() + "\n";

  std::vector<std::string> more;
  if (!m.query_type().empty() && m.query_type() != m.type())
    more.push_back("via " + m.query_type());
  if (m.has_quality()) more.push_back("quality " + std::to_string(m.quality()));
  if (m.retracted()) more.push_back("RETRACTED");
  if (m.expired()) more.push_back("expired");
  const auto& o = m.opinions();
  std::vector<std::string> opinions;
  auto count = [&](const char* name, uint32_t n, uint32_t platform) {
    if (n == 0) return;
    std::string s = std::string(name) + " " + std::to_string(n);
    if (platform > 0) s += " (" + std::to_string(platform) + " platform)";
    opinions.push_back(s);
  };
  count("endorse", o.endorse(), o.platform_endorse());
  count("dispute", o.dispute(), o.platform_dispute());
  count("seen", o.seen(), 0);
  count("acted", o.acted(), 0);
  if (!opinions.empty()) more.push_back(Join(opinions, ", "));
  if (!m.note().empty()) more.push_back("note " + Quoted(m.note()));
  for (const auto& n : m.notices()) {
    more.push_back(NoticeSummary(n) + " from " + Who(n.author(), n.author_name(), ""));
  }
  if (!more.empty()) line += "    " + Join(more, "; ") + "\n";
  return line;
}

std::string FormatVerdict(const api::Verdict& verdict) {
  std::string action = verdict.action().empty() ? "none" : verdict.action();
  std::string line = "verdict: " + action;
  if (verdict.reasons_size() > 0) line += " \u2014 " + Join(verdict.reasons(), "; ");
  return line + "\n";
}

std::string FormatMatchResponse(const api::MatchResponse& response) {
  std::string out;
  if (response.matches_size() == 0) out += "no match\n";
  for (const auto& m : response.matches()) out += FormatMatch(m);
  out += FormatVerdict(response.verdict());
  return out;
}

std::string FormatForks(const api::EquivocationsResponse& forks) {
  if (forks.equivocations_size() == 0) return "no forks known\n";
  std::string out;
  for (const auto& f : forks.equivocations()) {
    out += Who(f.author(), f.author_name(), "") + " signed two records at seq " +
           std::to_string(f.seq()) + ":\n";
    out += "    " + FormatRecordLine(f.first());
    out += "    " + FormatRecordLine(f.second());
    out += "    ids " + f.first().id() + " " + f.second().id() + "\n";
  }
  return out;
}

std::string FormatRecordLine(const api::RecordView& r) {
  std::string line = "#" + std::to_string(r.seq());
  std::string created = FormatTimestamp(r.created_at());
  if (!created.empty()) line += " " + created;
  line += " " + (r.author_name().empty() ? ShortId(r.author()) : r.author_name()) + " ";
  if (r.kind() == "signal") {
    const auto& s = r.signal();
    line += "signal " + SignalSummary(s.type(), s.value());
    if (s.labels_size() > 0) line += " labels=" + Join(s.labels(), ",");
  } else if (r.kind() == "notice") {
    line += NoticeSummary(r.notice());
    int targets = r.notice().targets_size() + r.notice().signals_size();
    line += " targets=" + std::to_string(targets);
  } else if (r.kind() == "opinion") {
    line += r.opinion().stance() + " " + ShortId(r.opinion().target());
    if (!r.opinion().reason().empty()) line += " " + Quoted(r.opinion().reason());
  } else if (r.kind() == "retraction") {
    line += "retract " + ShortId(r.retraction().target());
    if (!r.retraction().reason().empty()) line += " " + Quoted(r.retraction().reason());
  } else if (r.kind() == "manifest") {
    line += "manifest " + std::to_string(r.manifest_seq_published()) + " key " +
            ShortId(r.manifest_signing_key());
  } else {
    line += r.kind();
  }
  return line + "  id=" + ShortId(r.id()) + "\n";
}

std::string FormatRecord(const api::RecordView& r) {
  std::string out;
  auto field = [&](std::string_view name, const std::string& value) {
    if (value.empty()) return;
    out += std::string(name);
    out.append(name.size() < 14 ? 14 - name.size() : 1, ' ');
    out += value + "\n";
  };
  field("id", r.id());
  field("kind", r.kind());
  field("author", Who(r.author(), r.author_name(), "") + "  " + r.author());
  field("seq", std::to_string(r.seq()));
  field("prev", r.prev());
  field("created", FormatTimestamp(r.created_at()));
  field("manifest", std::to_string(r.manifest_seq()));
  if (r.kind() == "signal") {
    const auto& s = r.signal();
    field("type", s.type());
    field("value", s.value());
    field("labels", Join(s.labels(), ", "));
    field("content type", s.content_type());
    if (s.has_quality()) field("quality", std::to_string(s.quality()));
    field("note", s.note());
    field("expires", FormatTimestamp(s.expires_at()));
  } else if (r.kind() == "notice") {
    const auto& n = r.notice();
    field("action", n.action());
    field("category", n.category());
    field("jurisdiction", n.jurisdiction());
    field("legal basis", n.legal_basis());
    field("issuing body", n.issuing_body());
    field("reference", n.reference());
    field("expires", FormatTimestamp(n.expires_at()));
    for (const auto& t : n.targets()) field("target", t);
    for (const auto& s : n.signals()) field("target", s.type() + ":" + s.value());
    if (n.retracted()) field("state", "retracted");
    if (n.expired()) field("state", "expired");
  } else if (r.kind() == "opinion") {
    field("stance", r.opinion().stance());
    field("target", r.opinion().target());
    field("reason", r.opinion().reason());
  } else if (r.kind() == "retraction") {
    field("target", r.retraction().target());
    field("reason", r.retraction().reason());
  } else if (r.kind() == "manifest") {
    field("signing key", r.manifest_signing_key());
    field("manifest seq", std::to_string(r.manifest_seq_published()));
  }
  return out;
}

std::string FormatStatus(const api::StatusResponse& s) {
  std::string out;
  auto field = [&](std::string_view name, const std::string& value) {
    out += std::string(name);
    out.append(name.size() < 10 ? 10 - name.size() : 1, ' ');
    out += value + "\n";
  };
  field("node",
        (s.node_name().empty() ? "(unnamed)" : s.node_name()) + "  hashmeshd " + s.version());
  field("member", s.member_id());
  field("signing", s.signing_key() + "  manifest " + std::to_string(s.manifest_seq()));
  field("ready", s.ready() ? "yes" : "no: " + Join(s.not_ready_reasons(), "; "));
  field("uptime", Duration(s.uptime_seconds()));
  field("records", std::to_string(s.records()) + " from " + std::to_string(s.authors()) +
                       " authors; " + std::to_string(s.signals()) + " signals, " +
                       std::to_string(s.pdq_indexed()) + " pdq indexed");
  field("own feed", "seq " + std::to_string(s.own_seq()));
  field("data", s.data_dir() + "  (map " + std::to_string(s.map_size_mib()) + " MiB)");
  if (s.heads_size() > 0) {
    out += "feeds\n";
    for (const auto& h : s.heads()) {
      out += "  " + Who(h.author(), h.name(), h.role()) + "  seq " + std::to_string(h.seq()) +
             "  head " + ShortId(h.head_id()) + "\n";
    }
  }
  return out;
}

std::string FormatFeeds(const api::FeedsResponse& feeds) {
  if (feeds.feeds_size() == 0) return "no feeds\n";
  std::string out;
  for (const auto& h : feeds.feeds()) {
    out += Who(h.author(), h.name(), h.role()) + "  seq " + std::to_string(h.seq()) + "  head " +
           ShortId(h.head_id()) + "  " + h.author() + "\n";
  }
  return out;
}

std::string FormatFeed(const api::FeedResponse& feed) {
  std::string out = "feed of " + feed.author() + "\n";
  if (feed.records_size() == 0) out += "no records in this range\n";
  for (const auto& r : feed.records()) out += FormatRecordLine(r);
  return out;
}

std::string FormatPeers(const api::PeersResponse& peers) {
  if (peers.peers_size() == 0) return "no peers\n";
  std::string out;
  for (const auto& p : peers.peers()) {
    std::string line = Who(p.member(), p.name(), "") + "  " +
                       (p.address().empty() ? std::string("-") : p.address()) + "  " + p.state();
    line += p.outbound() ? " (outbound)" : " (inbound)";
    line += "  in " + std::to_string(p.records_in()) + " out " + std::to_string(p.records_out());
    std::string seen = FormatTimestamp(p.last_seen());
    if (!seen.empty()) line += "  last seen " + seen;
    std::string banned = FormatTimestamp(p.banned_until());
    if (!banned.empty()) line += "  banned until " + banned;
    if (!p.last_error().empty()) line += "  error: " + p.last_error();
    out += line + "\n";
  }
  return out;
}

std::string FormatPublish(const api::PublishResponse& p) {
  return "published " + (p.kind().empty() ? std::string("record") : p.kind()) + " #" +
         std::to_string(p.seq()) + " id=" + p.id() + "\n";
}

}  // namespace hashmesh::cli
