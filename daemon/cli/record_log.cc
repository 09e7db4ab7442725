// Reading and writing record-log lines; paging records out of a node through its query socket.
#include "daemon/cli/record_log.h"

#include <google/protobuf/util/json_util.h>

#include "common/json.h"

namespace hashmesh::cli {
namespace {

constexpr uint32_t kPage = 1000;  // the API's largest feed page

}  // namespace

std::string RecordLine(const api::RecordView& record) { return ToJson(record); }

Result<api::RecordView> ParseRecordLine(std::string_view line) {
  api::RecordView record;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(line.data(), line.size()), &record, options);
  if (!status.ok()) {
    return InvalidArgument("not a record (JSON RecordView): " + std::string(status.message()));
  }
  return record;
}

Status ForEachFeedRecord(const Context& ctx, const std::string& author,
                         const std::function<Status(api::RecordView)>& on_record) {
  uint64_t from = 1;
  while (true) {
    HM_ASSIGN_OR_RETURN(std::string body,
                        Get(ctx, "/v1/feeds/" + author + "?from=" + std::to_string(from) +
                                     "&limit=" + std::to_string(kPage)));
    api::FeedResponse page;
    HM_RETURN_IF_ERROR(ParseAnswer(body, &page));
    for (auto& record : *page.mutable_records()) {
      if (record.seq() < from) return Internal("hashmeshd answered a feed page out of order");
      from = uint64_t{record.seq()} + 1;
      HM_RETURN_IF_ERROR(on_record(std::move(record)));
    }
    if (static_cast<uint32_t>(page.records_size()) < kPage) return Status::Ok();
  }
}

Status ForEachNodeRecord(const Context& ctx, api::FeedsResponse* feeds,
                         const std::function<Status(api::RecordView)>& on_record) {
  HM_ASSIGN_OR_RETURN(std::string body, Get(ctx, "/v1/feeds"));
  HM_RETURN_IF_ERROR(ParseAnswer(body, feeds));
  for (const api::FeedHead& feed : feeds->feeds()) {
    HM_RETURN_IF_ERROR(ForEachFeedRecord(ctx, feed.author(), on_record));
  }
  return Status::Ok();
}

Result<std::vector<api::RecordView>> FetchNodeRecords(const Context& ctx,
                                                      api::FeedsResponse* feeds) {
  std::vector<api::RecordView> records;
  HM_RETURN_IF_ERROR(ForEachNodeRecord(ctx, feeds, [&](api::RecordView r) {
    records.push_back(std::move(r));
    return Status::Ok();
  }));
  return records;
}

}  // namespace hashmesh::cli
