// Signal type names and value canonicalisation.
#include "common/signal_value.h"

#include <algorithm>
#include <cctype>

#include "common/hex.h"

namespace hashmesh {
namespace {

struct KindName {
  SignalKind kind;
  std::string_view name;
};
constexpr KindName kKindNames[] = {
    {SignalKind::kPdq, "pdq"},         {SignalKind::kMd5, "md5"},
    {SignalKind::kSha256, "sha256"},   {SignalKind::kUrl, "url"},
    {SignalKind::kVpdq, "vpdq"},       {SignalKind::kTmkPdqf, "tmk_pdqf"},
    {SignalKind::kPhotoDna, "photodna"},
};

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

Result<std::string> CanonicalHex(std::string_view value, size_t hex_chars, std::string_view what) {
  if (value.size() != hex_chars) {
    return InvalidArgument(std::string(what) + " value must be " + std::to_string(hex_chars) +
                           " hex characters, got " + std::to_string(value.size()));
  }
  auto bytes = FromHex(value);
  if (!bytes.ok()) return bytes.status().WithContext(std::string(what) + " value");
  return ToHex(*bytes);
}

}  // namespace

Result<SignalKind> ParseSignalKind(std::string_view name) {
  std::string lower = Lower(name);
  if (lower == "video_md5") return SignalKind::kMd5;
  if (lower == "video_sha256") return SignalKind::kSha256;
  for (const auto& kn : kKindNames) {
    if (kn.name == lower) return kn.kind;
  }
  return InvalidArgument("unknown signal type '" + std::string(name) +
                         "' (expected pdq, md5, sha256, url, vpdq, tmk_pdqf or photodna)");
}

std::string_view SignalKindName(SignalKind kind) {
  for (const auto& kn : kKindNames) {
    if (kn.kind == kind) return kn.name;
  }
  return "unspecified";
}

Result<std::string> CanonicalSignalValue(SignalKind kind, std::string_view value) {
  switch (kind) {
    case SignalKind::kPdq: return CanonicalHex(value, 64, "pdq");
    case SignalKind::kMd5: return CanonicalHex(value, 32, "md5");
    case SignalKind::kSha256: return CanonicalHex(value, 64, "sha256");
    case SignalKind::kUrl: return NormaliseUrl(value);
    case SignalKind::kVpdq:
    case SignalKind::kTmkPdqf:
    case SignalKind::kPhotoDna:
      if (value.empty()) return InvalidArgument("empty signal value");
      if (value.size() > kMaxOpaqueSignalBytes) return InvalidArgument("signal value over 64 KiB");
      return std::string(value);
    case SignalKind::kUnspecified: break;
  }
  return InvalidArgument("signal type not set");
}

Result<std::string> NormaliseUrl(std::string_view url) {
  url = Trim(url);
  if (url.empty()) return InvalidArgument("empty URL");
  if (url.size() > 8192) return InvalidArgument("URL longer than 8192 characters");
  for (char c : url) {
    if (static_cast<unsigned char>(c) < 0x20 || c == ' ') {
      return InvalidArgument("URL contains white space or control characters");
    }
  }
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) {
    return InvalidArgument("URL must start with a scheme, e.g. https://");
  }
  std::string scheme = Lower(url.substr(0, scheme_end));
  std::string_view rest = url.substr(scheme_end + 3);
  if (size_t hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  size_t path_start = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_start);
  std::string_view path = path_start == std::string_view::npos ? "" : rest.substr(path_start);
  if (authority.empty()) return InvalidArgument("URL has no host");
  std::string host = Lower(authority);
  if ((scheme == "http" && host.ends_with(":80")) || (scheme == "https" && host.ends_with(":443"))) {
    host.resize(host.rfind(':'));
  }
  std::string out = scheme + "://" + host;
  if (path.empty() || path.front() == '?') out += '/';
  out += path;
  return out;
}

}  // namespace hashmesh
