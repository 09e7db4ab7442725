// Shared route helpers.
#include "daemon/api/route_util.h"

namespace hashmesh {

HttpResponse Json(const google::protobuf::Message& message, int status) {
  HttpResponse r;
  r.status = status;
  r.body = ToJson(message);
  return r;
}

HttpResponse NotFoundRoute(const HttpRequest& request) {
  return JsonErrorResponse(404, "not_found", "no route " + request.method + " " + request.target);
}

HttpResponse MethodNotAllowed(const HttpRequest& request) {
  return JsonErrorResponse(405, "method_not_allowed",
                           request.method + " is not allowed on " + request.target);
}

std::pair<std::string_view, std::string_view> SplitTarget(std::string_view target) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return {target, {}};
  return {target.substr(0, q), target.substr(q + 1)};
}

}  // namespace hashmesh
