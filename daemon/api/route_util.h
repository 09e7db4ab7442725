// Small pieces every route uses: JSON answers, the standard 404/405 answers, target splitting and
// body parsing. Pure; thread-safe.
#pragma once

#include <string_view>
#include <utility>

#include <google/protobuf/message.h>

#include "common/json.h"
#include "common/status.h"
#include "daemon/api/http_server.h"

namespace hashmesh {

HttpResponse Json(const google::protobuf::Message& message, int status = 200);
HttpResponse NotFoundRoute(const HttpRequest& request);
HttpResponse MethodNotAllowed(const HttpRequest& request);
// Splits "/v1/feeds/x?from=1" into path and query.
std::pair<std::string_view, std::string_view> SplitTarget(std::string_view target);

template <typename T>
Result<T> ParseBody(const HttpRequest& request) {
  T message;
  if (request.body.empty()) return InvalidArgument("request body is empty; expected JSON");
  HM_RETURN_IF_ERROR(FromJson(request.body, &message));
  return message;
}

}  // namespace hashmesh
