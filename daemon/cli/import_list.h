// An import file for `hashmesh import`, parsed: python-threatexchange `<type> <value>` lines or a
// CSV dataset (see te_format.h), each signal line made a SignalRequest with its labels, or
// refused with the reason. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "proto/api.pb.h"

namespace hashmesh::cli {

struct ImportItem {
  uint32_t line = 0;           // 1-based
  std::string te_type;         // as written
  std::string te_value;        // as written
  api::SignalRequest request;  // canonical type and value, labels; set when `error` is empty
  std::string error;           // why the line is refused
};

struct ImportList {
  std::string format;             // "lines" or "te-csv"
  std::vector<ImportItem> items;  // one per signal line, in file order
};

// A label given with --label: 1 to 128 characters, no white space or control characters.
Status ValidateImportLabel(std::string_view label);

// `format`: "auto" (te-csv when the first line that is not blank or a '#' comment is the CSV
// header, else lines), "lines" or "te-csv". `labels` go on every signal; CSV rows add
// "category/<category>" and "tag/<tag>" labels. Blank lines and '#' comments are skipped.
// InvalidArgument for the file as a whole: an unknown format, a list of lines without labels.
Result<ImportList> ParseImportList(std::string_view text, std::string_view format,
                                   const std::vector<std::string>& labels);

}  // namespace hashmesh::cli
