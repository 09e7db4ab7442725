// The read-only routes of the query socket (also answered on the admin socket): status, match,
// records, feeds, fork proofs, peers, the record stream. Thread-safety: Handle runs on the HTTP
// server's threads, any number at once.
#pragma once

#include <string_view>

#include "daemon/api/api_services.h"
#include "daemon/api/http_server.h"
#include "daemon/match/matcher.h"
#include "daemon/storage/compromise_points.h"
#include "daemon/storage/store.h"
#include "keys/trust_store.h"

namespace hashmesh {

class QueryRoutes {
 public:
  // `compromise` may be null: nothing is void.
  QueryRoutes(const Store* store, const Matcher* matcher, const CompromisePoints* compromise,
              const QueryService* node)
      : store_(store), matcher_(matcher), compromise_(compromise), node_(node) {}

  void Handle(HttpRequest&& request, Responder respond) const;

 private:
  HttpResponse GetStatus() const;
  // Sets *queries to the number of queries in the request (0 if it does not parse).
  HttpResponse Match(const HttpRequest& request, size_t* queries) const;
  HttpResponse Record(std::string_view id_hex) const;
  HttpResponse Feeds() const;
  HttpResponse Feed(std::string_view author, std::string_view query) const;
  HttpResponse Equivocations() const;
  // The API's view of a stored record, `voided` included.
  api::RecordView View(const ParsedRecord& record, const TrustStore& trust) const;

  const Store* store_;
  const Matcher* matcher_;
  const CompromisePoints* compromise_;
  const QueryService* node_;
};

}  // namespace hashmesh
