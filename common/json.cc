// protobuf JSON mapping.
#include "common/json.h"

#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>

namespace hashmesh {

std::string ToJson(const google::protobuf::Message& message, bool pretty) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = pretty;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  auto status = google::protobuf::util::MessageToJsonString(message, &out, options);
  if (!status.ok()) return "{}";
  if (pretty && !out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

Status FromJson(std::string_view json, google::protobuf::Message* message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), message, options);
  if (!status.ok()) return InvalidArgument("bad JSON: " + std::string(status.message()));
  return Status::Ok();
}

}  // namespace hashmesh
