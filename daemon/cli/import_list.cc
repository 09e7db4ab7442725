// Parsing import files line by line into signal requests.
#include "daemon/cli/import_list.h"

#include <algorithm>
#include <cctype>

#include "daemon/cli/cli_common.h"
#include "daemon/cli/te_format.h"

namespace hashmesh::cli {
namespace {

constexpr size_t kMaxLabels = 32;  // as the daemon allows

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Fills item->request from a type and value as written, or sets item->error.
void MakeRequest(std::string_view te_type, std::string_view value,
                 const std::vector<std::string>& labels, ImportItem* item) {
  item->te_type = std::string(te_type);
  item->te_value = std::string(value);
  Status s = [&]() -> Status {
    HM_ASSIGN_OR_RETURN(TeType type, FromTeType(te_type));
    HM_ASSIGN_OR_RETURN(SignalInput signal, ValidateSignal(type.type, value, false));
    if (labels.empty()) {
      return InvalidArgument("no label: the row has no category or tags; give --label");
    }
    if (labels.size() > kMaxLabels) return InvalidArgument("more than 32 labels");
    item->request.set_type(signal.type);
    item->request.set_value(signal.value);
    item->request.set_content_type(type.content_type);
    for (const auto& l : labels) item->request.add_labels(l);
    return Status::Ok();
  }();
  if (!s.ok()) item->error = s.message();
}

}  // namespace

Status ValidateImportLabel(std::string_view label) {
  if (label.empty()) return InvalidArgument("--label must not be empty");
  if (label.size() > 128) {
    return InvalidArgument("label longer than 128 characters: " + std::string(label));
  }
  for (unsigned char c : label) {
    if (std::isspace(c) || std::iscntrl(c)) {
      return InvalidArgument("label '" + std::string(label) +
                             "' contains white space; use a taxonomy string such as "
                             "terrorism/glorification");
    }
  }
  return Status::Ok();
}

Result<ImportList> ParseImportList(std::string_view text, std::string_view format,
                                   const std::vector<std::string>& labels) {
  if (format != "auto" && format != "lines" && format != "te-csv") {
    return InvalidArgument("--format must be auto, lines or te-csv, got '" + std::string(format) +
                           "'");
  }
  for (const auto& l : labels) HM_RETURN_IF_ERROR(ValidateImportLabel(l));
  ImportList list;
  list.format = std::string(format);
  bool header_seen = false;
  uint32_t number = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++number;
    std::string_view trimmed = Trim(line);
    if (trimmed.empty() || trimmed.front() == '#') continue;
    if (list.format == "auto") list.format = IsTeCsvHeader(trimmed) ? "te-csv" : "lines";
    if (list.format == "lines" && labels.empty()) {
      return InvalidArgument(
          "give at least one --label: a '<type> <value>' list carries no labels, and every "
          "signal needs one");
    }
    if (list.format == "te-csv" && !header_seen && IsTeCsvHeader(trimmed)) {
      header_seen = true;
      continue;
    }
    ImportItem item;
    item.line = number;
    if (list.format == "lines") {
      std::vector<std::string_view> f = SplitWhitespace(trimmed);
      if (f.size() != 2) {
        item.te_value = std::string(trimmed);
        item.error =
            "expected '<signal_type> <value>', got " + std::to_string(f.size()) + " fields";
      } else {
        MakeRequest(f[0], f[1], labels, &item);
      }
    } else {
      auto row = ParseTeCsvRow(trimmed);
      auto row_labels = row.ok() ? LabelsFromTe(row->category, row->tags)
                                 : Result<std::vector<std::string>>(row.status());
      if (!row_labels.ok()) {
        if (row.ok()) {
          item.te_type = row->signal_type;
          item.te_value = row->signal_str;
        }
        item.error = row_labels.status().message();
      } else {
        std::vector<std::string> all = labels;
        for (auto& l : *row_labels) {
          if (std::find(all.begin(), all.end(), l) == all.end()) all.push_back(std::move(l));
        }
        MakeRequest(row->signal_type, row->signal_str, all, &item);
      }
    }
    list.items.push_back(std::move(item));
  }
  if (list.format == "auto") list.format = "lines";  // nothing but blanks and comments
  return list;
}

}  // namespace hashmesh::cli
