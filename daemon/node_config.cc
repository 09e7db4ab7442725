// The option table and its application to NodeConfig.
#include "daemon/node_config.h"

#include <unistd.h>

#include <charconv>
#include <functional>
#include <variant>

#include "common/host_port.h"
#include "common/log.h"
#include "daemon/metrics.h"

namespace hashmesh {
namespace {

using StringRef = std::string& (*)(NodeConfig&);
using IntRef = int64_t& (*)(NodeConfig&);
using ListRef = std::vector<std::string>& (*)(NodeConfig&);

struct Option {
  const char* key;
  const char* flag;
  std::variant<StringRef, IntRef, ListRef> ref;
  int64_t min = 0, max = 0;  // for integers
  const char* default_text;
  const char* help;
};

// The one place where settings are declared.
const std::vector<Option>& Table() {
  static const std::vector<Option> table = {
      {"data", "--data", [](NodeConfig& c) -> std::string& { return c.data_dir; }, 0, 0,
       "./hashmesh-data", "Data directory: the LMDB environment, and by default keys and sockets."},
      {"keys", "--keys", [](NodeConfig& c) -> std::string& { return c.keys_dir; }, 0, 0,
       "<data>/keys", "Key directory made by `hashmesh-keys init` (created on first start if empty)."},
      {"trust", "--trust", [](NodeConfig& c) -> std::string& { return c.trust_file; }, 0, 0,
       "<data>/trust.toml", "Trust store: the members whose records this node accepts."},
      {"socket", "--socket", [](NodeConfig& c) -> std::string& { return c.socket; }, 0, 0,
       "<data>/query.sock", "Query socket (read-only API), mode 0660."},
      {"admin_socket", "--admin-socket",
       [](NodeConfig& c) -> std::string& { return c.admin_socket; }, 0, 0, "<data>/admin.sock",
       "Admin socket (publishing API), mode 0600."},
      {"socket_group", "--socket-group",
       [](NodeConfig& c) -> std::string& { return c.socket_group; }, 0, 0, "hashmesh",
       "Group given the query socket, so its members may query; ignored, with a notice, if no "
       "such group exists (empty: leave the daemon's group)."},
      {"name", "--name", [](NodeConfig& c) -> std::string& { return c.name; }, 0, 0, "hostname",
       "Node name written into new keys on first start."},
      {"listen", "--listen", [](NodeConfig& c) -> std::string& { return c.listen; }, 0, 0, "",
       "HOST:PORT to accept peer connections on (empty: none)."},
      {"peers", "--peer", [](NodeConfig& c) -> std::vector<std::string>& { return c.peers; }, 0,
       0, "[]", "HOST:PORT of a peer to dial (repeatable)."},
      {"metrics", "--metrics", [](NodeConfig& c) -> std::string& { return c.metrics; }, 0, 0, "",
       "HOST:PORT for Prometheus /metrics over HTTP; `:PORT` means 127.0.0.1 (empty: off). "
       "The packaged config uses 127.0.0.1:9464."},
      {"log_level", "--log-level", [](NodeConfig& c) -> std::string& { return c.log_level; }, 0,
       0, "info", "error, warning, notice, info or debug."},
      {"map_size_mib", "--map-size-mib", [](NodeConfig& c) -> int64_t& { return c.map_size_mib; },
       1, 1 << 24, "64", "Initial LMDB map size in MiB; it doubles when full."},
      {"api_threads", "--api-threads", [](NodeConfig& c) -> int64_t& { return c.api_threads; }, 1,
       64, "2", "Threads serving the local API sockets."},
      {"max_request_bytes", "--max-request-bytes",
       [](NodeConfig& c) -> int64_t& { return c.max_request_bytes; }, 1024, 64 << 20, "1048576",
       "Largest local API request body; larger ones get 413."},
      {"max_batch_queries", "", [](NodeConfig& c) -> int64_t& { return c.max_batch_queries; }, 1,
       1000000, "10000", "Most queries in one batch match request."},
      {"ban_seconds", "--ban-seconds", [](NodeConfig& c) -> int64_t& { return c.ban_seconds; },
       1, 86400 * 30, "600", "How long a misbehaving peer's key and address stay banned."},
      {"heads_interval_seconds", "",
       [](NodeConfig& c) -> int64_t& { return c.heads_interval_seconds; }, 1, 3600, "30",
       "Seconds between anti-entropy Heads messages on each peer session."},
      {"policy.min_platforms", "",
       [](NodeConfig& c) -> int64_t& { return c.policy.min_platforms; }, 1, 1000, "2",
       "Distinct platform members that must submit or endorse a signal for `act`."},
      {"policy.max_disputes", "", [](NodeConfig& c) -> int64_t& { return c.policy.max_disputes; },
       0, 1000, "0", "More platform disputes than this make a signal `review` at most."},
      {"policy.act_labels", "",
       [](NodeConfig& c) -> std::vector<std::string>& { return c.policy.act_labels; }, 0, 0, "[]",
       "Label prefixes that may lead to `act` (empty: any label)."},
      {"policy.authority_notice", "",
       [](NodeConfig& c) -> std::string& { return c.policy.authority_notice; }, 0, 0, "review",
       "Verdict from an authority's notice alone: none, review or act."},
      {"policy.pdq_max_distance", "",
       [](NodeConfig& c) -> int64_t& { return c.policy.pdq_max_distance; }, 0, 128, "31",
       "Default and largest PDQ Hamming distance for a match."},
      {"policy.ignore_members", "",
       [](NodeConfig& c) -> std::vector<std::string>& { return c.policy.ignore_members; }, 0, 0,
       "[]", "Member ids (ed25519:...) whose records are left out of verdicts."},
  };
  return table;
}

const Option* FindOption(const std::string& key) {
  for (const auto& o : Table()) {
    if (key == o.key) return &o;
  }
  return nullptr;
}

const char* TypeOf(const Option& o) {
  switch (o.ref.index()) {
    case 0: return "string";
    case 1: return "integer";
    default: return "list of strings";
  }
}

Status CheckRange(const Option& o, int64_t v) {
  if (v < o.min || v > o.max) {
    return InvalidArgument("must be between " + std::to_string(o.min) + " and " +
                           std::to_string(o.max) + ", got " + std::to_string(v));
  }
  return Status::Ok();
}

// The same parser as the transport's and the trust store's, so that an address the node cannot
// use is refused at load, not when the node starts to listen or dial.
Status CheckAddress(const std::string& what, const std::string& addr, PortZero zero) {
  Result<HostPort> parsed = ParseHostPort(addr, zero);
  if (!parsed.ok()) return InvalidArgument(what + " " + parsed.status().message());
  return Status::Ok();
}

// The settings that hold addresses: checked as the file is read (so the error names its line) and
// again once the flags are applied.
constexpr const char* kAddressKeys[] = {"listen", "metrics", "peers"};

Status CheckAddressSetting(std::string_view key, const NodeConfig& config) {
  // Listeners may ask for port 0 (any free port); a peer to dial may not.
  if (key == "listen" && !config.listen.empty()) {
    return CheckAddress("listen", config.listen, PortZero::kAllow);
  }
  if (key == "metrics" && !config.metrics.empty()) {
    return CheckAddress("metrics", MetricsListenAddress(config.metrics), PortZero::kAllow);
  }
  if (key == "peers") {
    for (const auto& p : config.peers) HM_RETURN_IF_ERROR(CheckAddress("peer", p, PortZero::kRefuse));
  }
  return Status::Ok();
}

}  // namespace

void NodeConfig::ResolveDefaults() {
  if (data_dir.empty()) data_dir = "./hashmesh-data";
  while (data_dir.size() > 1 && data_dir.back() == '/') data_dir.pop_back();
  if (keys_dir.empty()) keys_dir = data_dir + "/keys";
  if (trust_file.empty()) trust_file = data_dir + "/trust.toml";
  if (socket.empty()) socket = data_dir + "/query.sock";
  if (admin_socket.empty()) admin_socket = data_dir + "/admin.sock";
  if (name.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::snprintf(host, 5, "node");
    name = host;
    for (char& c : name) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '-';
    }
  }
}

const std::vector<ConfigOptionInfo>& ConfigOptions() {
  static const std::vector<ConfigOptionInfo> infos = [] {
    std::vector<ConfigOptionInfo> out;
    for (const auto& o : Table()) {
      out.push_back({o.key, o.flag, TypeOf(o), o.default_text, o.help});
    }
    return out;
  }();
  return infos;
}

Status ApplyConfigFile(const ConfigFile& file, NodeConfig* config) {
  for (const auto& [key, value] : file.values) {
    const Option* o = FindOption(key);
    if (o == nullptr) return file.Error(key, "unknown key (see `hashmeshd --config-reference`)");
    if (auto* s = std::get_if<StringRef>(&o->ref)) {
      const auto* v = std::get_if<std::string>(&value.value);
      if (v == nullptr) return file.Error(key, std::string("expected a string, got ") + value.TypeName());
      (*s)(*config) = *v;
    } else if (auto* i = std::get_if<IntRef>(&o->ref)) {
      const auto* v = std::get_if<int64_t>(&value.value);
      if (v == nullptr) return file.Error(key, std::string("expected an integer, got ") + value.TypeName());
      Status range = CheckRange(*o, *v);
      if (!range.ok()) return file.Error(key, range.message());
      (*i)(*config) = *v;
    } else {
      const auto* v = std::get_if<std::vector<std::string>>(&value.value);
      if (v == nullptr) {
        return file.Error(key, std::string("expected an array of strings, got ") + value.TypeName());
      }
      std::get<ListRef>(o->ref)(*config) = *v;
    }
    if (Status a = CheckAddressSetting(key, *config); !a.ok()) return file.Error(key, a.message());
  }
  config->config_file = file.path;
  return Status::Ok();
}

Status ApplyConfigFlag(const std::string& key, const std::string& value, NodeConfig* config) {
  const Option* o = FindOption(key);
  if (o == nullptr) return InvalidArgument("unknown option " + key);
  const std::string what = std::string(o->flag[0] ? o->flag : o->key);
  if (auto* s = std::get_if<StringRef>(&o->ref)) {
    (*s)(*config) = value;
  } else if (auto* i = std::get_if<IntRef>(&o->ref)) {
    int64_t v = 0;
    auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || p != value.data() + value.size()) {
      return InvalidArgument(what + ": '" + value + "' is not an integer");
    }
    HM_RETURN_IF_ERROR(CheckRange(*o, v).WithContext(what));
    (*i)(*config) = v;
  } else {
    std::get<ListRef>(o->ref)(*config).push_back(value);
  }
  return Status::Ok();
}

Status ValidateConfig(const NodeConfig& config) {
  LogLevel level;
  if (!ParseLogLevel(config.log_level, &level)) {
    return InvalidArgument("log_level '" + config.log_level +
                           "' is not one of error, warning, notice, info, debug");
  }
  for (const char* key : kAddressKeys) HM_RETURN_IF_ERROR(CheckAddressSetting(key, config));
  const auto& a = config.policy.authority_notice;
  if (a != "none" && a != "review" && a != "act") {
    return InvalidArgument("policy.authority_notice must be none, review or act, got '" + a + "'");
  }
  return Status::Ok();
}

std::string ConfigReferenceMarkdown() {
  std::string out =
      "| key | flag | type | default | meaning |\n|---|---|---|---|---|\n";
  for (const auto& o : ConfigOptions()) {
    out += "| `" + o.key + "` | " + (o.flag.empty() ? "" : "`" + o.flag + "`") + " | " + o.type +
           " | `" + o.default_text + "` | " + o.help + " |\n";
  }
  return out;
}

}  // namespace hashmesh
