// TOML loading through toml++ (exceptions caught here, at the boundary).
#include "common/config.h"

#include <fstream>
#include <sstream>
#include <toml++/toml.h>

namespace hashmesh {
namespace {

Status Flatten(const toml::table& table, const std::string& prefix, ConfigFile* out) {
  for (const auto& [k, node] : table) {
    std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    int line = static_cast<int>(node.source().begin.line);
    if (const auto* sub = node.as_table()) {
      HM_RETURN_IF_ERROR(Flatten(*sub, key, out));
    } else if (const auto* s = node.as_string()) {
      out->values[key] = {s->get(), line};
    } else if (const auto* i = node.as_integer()) {
      out->values[key] = {i->get(), line};
    } else if (const auto* b = node.as_boolean()) {
      out->values[key] = {b->get(), line};
    } else if (const auto* d = node.as_floating_point()) {
      out->values[key] = {d->get(), line};
    } else if (const auto* arr = node.as_array()) {
      std::vector<std::string> items;
      for (const auto& item : *arr) {
        const auto* str = item.as_string();
        if (str == nullptr) return out->Error(key, "expected an array of strings");
        items.push_back(str->get());
      }
      out->values[key] = {std::move(items), line};
    } else {
      return InvalidArgument(out->path + ":" + std::to_string(line) + ": key '" + key +
                             "': unsupported value type");
    }
  }
  return Status::Ok();
}

}  // namespace

const char* ConfigValue::TypeName() const {
  switch (value.index()) {
    case 0: return "string";
    case 1: return "integer";
    case 2: return "boolean";
    case 3: return "float";
    default: return "array of strings";
  }
}

Status ConfigFile::Error(const std::string& key, const std::string& message) const {
  auto it = values.find(key);
  std::string where = path;
  if (it != values.end() && it->second.line > 0) where += ":" + std::to_string(it->second.line);
  return InvalidArgument(where + ": key '" + key + "': " + message);
}

Result<ConfigFile> ParseConfigText(const std::string& text, const std::string& path_for_errors) {
  ConfigFile out;
  out.path = path_for_errors;
  try {
    toml::table table = toml::parse(text, path_for_errors);
    HM_RETURN_IF_ERROR(Flatten(table, "", &out));
  } catch (const toml::parse_error& e) {
    const auto& begin = e.source().begin;
    return InvalidArgument(path_for_errors + ":" + std::to_string(begin.line) + ":" +
                           std::to_string(begin.column) + ": " + std::string(e.description()));
  }
  return out;
}

Result<ConfigFile> LoadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open config file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return IoError("cannot read config file " + path);
  return ParseConfigText(text.str(), path);
}

}  // namespace hashmesh
