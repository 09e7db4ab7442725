// NodeConfig: every setting of hashmeshd, declared once in a table (name, flag, default, help)
// from which the TOML keys, the command-line flags and the reference docs all come.
// Precedence: built-in defaults < config file < flags. Plain values; thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/status.h"
#include "daemon/match/policy.h"

namespace hashmesh {

struct NodeConfig {
  std::string config_file;  // where it was loaded from, if anywhere
  std::string data_dir = "./hashmesh-data";
  std::string keys_dir;      // default: <data>/keys
  std::string trust_file;    // default: <data>/trust.toml
  std::string socket;        // default: <data>/query.sock
  std::string admin_socket;  // default: <data>/admin.sock
  std::string socket_group = "hashmesh";  // group of the query socket, if it exists
  std::string name;          // node name used when keys are first created (default: hostname)
  std::string listen;        // HOST:PORT for peers; empty: no listener
  std::vector<std::string> peers;
  std::string metrics;       // HOST:PORT (or :PORT for 127.0.0.1) for /metrics; empty: off
  std::string log_level = "info";
  int64_t map_size_mib = 64;
  int64_t api_threads = 2;
  int64_t max_request_bytes = 1 << 20;
  int64_t max_batch_queries = 10000;
  int64_t ban_seconds = 600;
  int64_t heads_interval_seconds = 30;
  PolicyConfig policy;

  // Fills the paths that default to places in the data dir.
  void ResolveDefaults();
};

// One row of the option table.
struct ConfigOptionInfo {
  std::string key;   // TOML key, dotted for tables ("policy.min_platforms")
  std::string flag;  // "--data", or empty when the option has no flag
  std::string type;  // "string", "integer", "list of strings"
  std::string default_text;
  std::string help;
};

const std::vector<ConfigOptionInfo>& ConfigOptions();

// Applies a loaded TOML file to `config`: unknown keys, wrong types and out-of-range values are
// errors naming the file, line and key.
Status ApplyConfigFile(const ConfigFile& file, NodeConfig* config);
// Applies one flag's text value (lists take one item per use, appended).
Status ApplyConfigFlag(const std::string& key, const std::string& value, NodeConfig* config);
// Checks cross-field rules after everything is applied (addresses, log level, policy values).
Status ValidateConfig(const NodeConfig& config);
// The reference as Markdown (what docs/configuration.md holds).
std::string ConfigReferenceMarkdown();

}  // namespace hashmesh
