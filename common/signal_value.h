// Signal types and canonical values: "pdq" <-> SIGNAL_TYPE_PDQ, and the one text form each value is
// stored, signed and looked up in (lowercase hex for hashes, a normalised URL). Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace hashmesh {

// Mirrors pb::SignalType numerically (records.proto) without including generated code.
enum class SignalKind : int {
  kUnspecified = 0,
  kPdq = 1,
  kMd5 = 2,
  kSha256 = 3,
  kUrl = 4,
  kVpdq = 5,
  kTmkPdqf = 6,
  kPhotoDna = 7,
};
inline constexpr int kMaxSignalKind = 7;
inline constexpr size_t kMaxOpaqueSignalBytes = 64 * 1024;

// "pdq", "md5", "sha256", "url", "vpdq", "tmk_pdqf", "photodna"; also the python-threatexchange
// names "video_md5" (md5), "video_sha256" (sha256).
Result<SignalKind> ParseSignalKind(std::string_view name);
std::string_view SignalKindName(SignalKind kind);

// Checks and canonicalises a value of the given type: hex lower-cased and length-checked; URLs
// normalised (see NormaliseUrl); opaque types must be non-empty and at most 64 KiB.
Result<std::string> CanonicalSignalValue(SignalKind kind, std::string_view value);

// Lower-cases scheme and host, drops a default port (80/443), the fragment and surrounding
// white space, and gives an empty path "/". "HTTP://Example.COM:80/a?b#c" -> "http://example.com/a?b".
Result<std::string> NormaliseUrl(std::string_view url);

}  // namespace hashmesh
