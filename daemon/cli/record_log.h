// The record log of `hashmesh export`: JSON lines, one api::RecordView per line with the body and
// signature exactly as signed (base64); reading such lines, and paging every record out of a node.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "daemon/cli/cli_common.h"
#include "proto/api.pb.h"

namespace hashmesh::cli {

// One compact JSON line for `record`, without the newline.
std::string RecordLine(const api::RecordView& record);
// Parses one line; fields this program does not know are ignored (a newer exporter).
// InvalidArgument when the line is not a RecordView JSON object.
Result<api::RecordView> ParseRecordLine(std::string_view line);

// Calls `on_record` for each record of `author`'s feed on the node, in seq order, in pages of
// 1000 (GET /v1/feeds/{author}?from=&limit=). Stops at the first error, `on_record`'s included.
Status ForEachFeedRecord(const Context& ctx, const std::string& author,
                         const std::function<Status(api::RecordView)>& on_record);
// The node's feeds (GET /v1/feeds), then every record of each, feed after feed.
Status ForEachNodeRecord(const Context& ctx, api::FeedsResponse* feeds,
                         const std::function<Status(api::RecordView)>& on_record);
Result<std::vector<api::RecordView>> FetchNodeRecords(const Context& ctx,
                                                      api::FeedsResponse* feeds);

}  // namespace hashmesh::cli
