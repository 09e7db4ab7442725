// Reads a TOML file into a flat map of dotted keys ("policy.min_platforms") to typed values that
// remember their line, so callers can report "FILE:LINE: key: problem". toml++ stays in config.cc.
// Thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "common/status.h"

namespace hashmesh {

struct ConfigValue {
  std::variant<std::string, int64_t, bool, double, std::vector<std::string>> value;
  int line = 0;

  const char* TypeName() const;
};

struct ConfigFile {
  std::string path;
  std::map<std::string, ConfigValue> values;  // dotted keys; arrays of tables are not flattened

  // "FILE:LINE: key 'k': message"
  Status Error(const std::string& key, const std::string& message) const;
};

// Errors: NotFound if the file is missing; InvalidArgument with "FILE:LINE:COL: ..." for syntax.
Result<ConfigFile> LoadConfigFile(const std::string& path);
Result<ConfigFile> ParseConfigText(const std::string& text, const std::string& path_for_errors);

}  // namespace hashmesh
