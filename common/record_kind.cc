// Record kind names.
#include "common/record_kind.h"

#include <string>

namespace hashmesh {
namespace {

constexpr std::string_view kNames[] = {"signal", "notice", "opinion", "retraction", "manifest"};

}  // namespace

std::string_view RecordKindName(RecordKind kind) { return kNames[static_cast<int>(kind)]; }

Result<RecordKind> ParseRecordKind(std::string_view text) {
  for (int i = 0; i < 5; ++i) {
    if (kNames[i] == text) return static_cast<RecordKind>(i);
  }
  return InvalidArgument("unknown record kind '" + std::string(text) +
                         "' (expected signal, notice, opinion, retraction or manifest)");
}

}  // namespace hashmesh
