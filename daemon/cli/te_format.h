// python-threatexchange's exchange formats (see ../shared/PDQ.md "Exchange formats"): its signal
// type names mapped to ours, `<type> <value>` lines, and CSV dataset rows. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace hashmesh::cli {

// The header line of a python-threatexchange CSV dataset.
inline constexpr std::string_view kTeCsvHeader = "signal_type,signal_str,collab,category,tags";

// Our signal type for a python-threatexchange type name, and the content type it implies:
//   pdq -> pdq (photo), video_md5 -> md5 (video), video_sha256 -> sha256 (video), url -> url,
//   vpdq -> vpdq (video), video_tmkpdqf -> tmk_pdqf (video);
// our own names (md5, sha256, tmk_pdqf, photodna) are accepted as they are. Anything else
// (url_md5, raw_text, ...) is InvalidArgument saying hashmesh has no such type.
struct TeType {
  std::string type;
  std::string content_type;  // "" when the type does not say
};
Result<TeType> FromTeType(std::string_view te_type);
// The python-threatexchange name for one of our types; "" when it has none (photodna).
std::string_view ToTeType(std::string_view our_type);

// One data row of a CSV dataset. `tags` are space-separated.
struct TeRow {
  std::string signal_type;
  std::string signal_str;
  std::string collab;
  std::string category;
  std::string tags;
};
// True for the header line (surrounding white space and case ignored).
bool IsTeCsvHeader(std::string_view line);
// The words of a `<type> <value>` line (python-threatexchange's text form): runs of characters
// between white space.
std::vector<std::string_view> SplitWhitespace(std::string_view line);
// Fields of one CSV line, RFC 4180 quoting ("a ""b""",c); a quoted field may not span lines.
Result<std::vector<std::string>> SplitCsvLine(std::string_view line);
// A data row: exactly five fields.
Result<TeRow> ParseTeCsvRow(std::string_view line);
// The row as a CSV line ending in '\n', quoting only fields that need it (as Python's csv does).
std::string FormatTeCsvRow(const TeRow& row);

// Labels carried over from a CSV row: "category/<category in lower case>" (NEGATIVE_CLASS,
// INVESTIGATION_SEED or POSITIVE_CLASS; empty: none) and "tag/<tag>" for each tag.
Result<std::vector<std::string>> LabelsFromTe(std::string_view category, std::string_view tags);
// The reverse, for export: the category from a "category/..." label (POSITIVE_CLASS when there is
// none: a shared signal is something to find), the tags from the other labels ("tag/" removed,
// white space replaced by '_').
void TeCategoryAndTags(const std::vector<std::string>& labels, std::string* category,
                       std::string* tags);

}  // namespace hashmesh::cli
