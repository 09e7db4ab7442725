// python-threatexchange type names, CSV rows and the labels they carry.
#include "daemon/cli/te_format.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

namespace hashmesh::cli {
namespace {

struct TypeMapping {
  std::string_view te;
  std::string_view ours;
  std::string_view content_type;
};
constexpr std::array<TypeMapping, 6> kTypes = {{
    {"pdq", "pdq", "photo"},
    {"video_md5", "md5", "video"},
    {"video_sha256", "sha256", "video"},
    {"url", "url", ""},
    {"vpdq", "vpdq", "video"},
    {"video_tmkpdqf", "tmk_pdqf", "video"},
}};
constexpr std::array<std::string_view, 4> kOwnOnlyTypes = {"md5", "sha256", "tmk_pdqf", "photodna"};
constexpr std::array<std::string_view, 3> kCategories = {"NEGATIVE_CLASS", "INVESTIGATION_SEED",
                                                         "POSITIVE_CLASS"};
constexpr size_t kMaxLabelBytes = 128;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string CsvField(std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(field);
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

Result<TeType> FromTeType(std::string_view te_type) {
  std::string name = Lower(te_type);
  for (const auto& m : kTypes) {
    if (m.te == name) return TeType{std::string(m.ours), std::string(m.content_type)};
  }
  for (std::string_view own : kOwnOnlyTypes) {
    if (own == name) return TeType{name, ""};
  }
  return InvalidArgument("hashmesh has no signal type '" + std::string(te_type) +
                         "' (it takes pdq, video_md5, video_sha256, url, vpdq, video_tmkpdqf, "
                         "and its own md5, sha256, tmk_pdqf, photodna)");
}

std::string_view ToTeType(std::string_view our_type) {
  for (const auto& m : kTypes) {
    if (m.ours == our_type) return m.te;
  }
  return "";
}

bool IsTeCsvHeader(std::string_view line) { return Lower(Trim(line)) == kTeCsvHeader; }

std::vector<std::string_view> SplitWhitespace(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    size_t start = i;
    while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

Result<std::vector<std::string>> SplitCsvLine(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::vector<std::string> fields;
  std::string field;
  size_t i = 0;
  while (true) {
    field.clear();
    if (i < line.size() && line[i] == '"') {
      ++i;
      bool closed = false;
      while (i < line.size()) {
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          closed = true;
          ++i;
          break;
        }
        field += line[i++];
      }
      if (!closed) return InvalidArgument("unterminated quoted CSV field");
      if (i < line.size() && line[i] != ',') {
        return InvalidArgument("text after a quoted CSV field");
      }
    } else {
      size_t end = line.find(',', i);
      if (end == std::string_view::npos) end = line.size();
      field.assign(line.substr(i, end - i));
      if (field.find('"') != std::string::npos) {
        return InvalidArgument("a quote inside an unquoted CSV field");
      }
      i = end;
    }
    fields.push_back(field);
    if (i >= line.size()) break;
    ++i;  // the comma
  }
  return fields;
}

Result<TeRow> ParseTeCsvRow(std::string_view line) {
  HM_ASSIGN_OR_RETURN(std::vector<std::string> f, SplitCsvLine(line));
  if (f.size() != 5) {
    return InvalidArgument("expected 5 CSV fields (" + std::string(kTeCsvHeader) + "), got " +
                           std::to_string(f.size()));
  }
  TeRow row;
  row.signal_type = std::string(Trim(f[0]));
  row.signal_str = std::string(Trim(f[1]));
  row.collab = std::string(Trim(f[2]));
  row.category = std::string(Trim(f[3]));
  row.tags = std::string(Trim(f[4]));
  return row;
}

std::string FormatTeCsvRow(const TeRow& row) {
  return CsvField(row.signal_type) + "," + CsvField(row.signal_str) + "," + CsvField(row.collab) +
         "," + CsvField(row.category) + "," + CsvField(row.tags) + "\n";
}

Result<std::vector<std::string>> LabelsFromTe(std::string_view category, std::string_view tags) {
  std::vector<std::string> labels;
  if (!category.empty()) {
    std::string upper = Upper(category);
    if (std::find(kCategories.begin(), kCategories.end(), upper) == kCategories.end()) {
      return InvalidArgument("unknown category '" + std::string(category) +
                             "' (expected NEGATIVE_CLASS, INVESTIGATION_SEED or POSITIVE_CLASS)");
    }
    labels.push_back("category/" + Lower(category));
  }
  size_t i = 0;
  while (i < tags.size()) {
    while (i < tags.size() && std::isspace(static_cast<unsigned char>(tags[i]))) ++i;
    size_t start = i;
    while (i < tags.size() && !std::isspace(static_cast<unsigned char>(tags[i]))) ++i;
    if (i == start) break;
    std::string label = "tag/" + std::string(tags.substr(start, i - start));
    if (label.size() > kMaxLabelBytes) {
      return InvalidArgument("tag '" + std::string(tags.substr(start, i - start)) +
                             "' is too long for a label (at most 124 characters)");
    }
    if (std::find(labels.begin(), labels.end(), label) == labels.end()) labels.push_back(label);
  }
  return labels;
}

void TeCategoryAndTags(const std::vector<std::string>& labels, std::string* category,
                       std::string* tags) {
  constexpr std::string_view kCategoryPrefix = "category/";
  constexpr std::string_view kTagPrefix = "tag/";
  category->clear();
  std::vector<std::string> out;
  for (const auto& label : labels) {
    std::string_view l = label;
    if (l.starts_with(kCategoryPrefix)) {
      if (category->empty()) *category = Upper(l.substr(kCategoryPrefix.size()));
      continue;
    }
    if (l.starts_with(kTagPrefix)) l.remove_prefix(kTagPrefix.size());
    std::string tag(l);
    for (char& c : tag) {
      if (std::isspace(static_cast<unsigned char>(c))) c = '_';
    }
    if (!tag.empty() && std::find(out.begin(), out.end(), tag) == out.end()) out.push_back(tag);
  }
  if (category->empty()) *category = "POSITIVE_CLASS";
  tags->clear();
  for (const auto& t : out) *tags += (tags->empty() ? "" : " ") + t;
}

}  // namespace hashmesh::cli
