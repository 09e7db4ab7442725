// The kinds of record in a feed (the `kind` oneof of RecordBody), by name. Pure; thread-safe.
#pragma once

#include <string_view>

#include "common/status.h"

namespace hashmesh {

enum class RecordKind { kSignal, kNotice, kOpinion, kRetraction, kManifest };

// "signal", "notice", "opinion", "retraction", "manifest" (the api RecordView.kind strings).
std::string_view RecordKindName(RecordKind kind);
Result<RecordKind> ParseRecordKind(std::string_view text);

}  // namespace hashmesh
