// Fuzzes the local API from the bytes a client sends: Beast's request parser with the server's
// limits (16 KiB of header, 1 MiB of body), then the real route handlers of both sockets against
// a real Store in a temporary directory holding two seed feeds (opened once, never written after).
// This node's member is trusted as a replica, which may publish nothing, so every publishing
// route parses and validates its JSON body and is then refused before the writer; the
// signal batch is the exception (it is refused before its items are validated; /v1/signals
// validates the same items). Input: one HTTP/1.1 request.
#include <stdio.h>
#include <stdlib.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>

#include "common/log.h"
#include "daemon/api/admin_routes.h"
#include "daemon/api/query_routes.h"
#include "daemon/match/matcher.h"
#include "daemon/match/pdq_signal_index.h"
#include "daemon/storage/store.h"
#include "proto/api.pb.h"
#include "tests/fuzz/seed_feed.h"
#include "tests/support/fixed_node.h"

namespace {

using namespace hashmesh;
namespace http = boost::beast::http;

using hashmesh::testing::FixedNode;

struct Fixture {
  std::string dir;
  std::unique_ptr<Store> store;
  PdqSignalIndex index;
  std::unique_ptr<Matcher> matcher;
  std::unique_ptr<FixedNode> node;
  std::unique_ptr<QueryRoutes> query;
  std::unique_ptr<AdminRoutes> admin;
};

Fixture* MakeFixture() {
  if (!InitCrypto()) __builtin_trap();
  SetLogLevel(LogLevel::kError);  // rejected requests log warnings; keep the fuzzer's output
  auto* f = new Fixture;
  char pattern[] = "/tmp/fuzz_http_request.XXXXXX";
  if (mkdtemp(pattern) == nullptr) __builtin_trap();
  f->dir = pattern;
  auto store = Store::Open({.dir = f->dir});
  if (!store.ok()) __builtin_trap();
  f->store = std::move(*store);
  fuzz::SeedFeeds feeds = fuzz::BuildSeedFeeds();
  Status written = f->store->Write([&](StoreBatch& batch) -> Status {
    for (const auto* feed : {&feeds.alice, &feeds.bob}) {
      for (const auto& r : feed->feed()) HM_RETURN_IF_ERROR(batch.PutRecord(r));
    }
    return Status::Ok();
  });
  if (!written.ok() || !f->index.Load(*f->store).ok()) __builtin_trap();
  // Nothing writes after this and LMDB keeps its files open: remove them now, so that no
  // directory is left behind however the fuzzer ends.
  std::filesystem::remove_all(f->dir);
  f->matcher = std::make_unique<Matcher>(f->store.get(), &f->index);

  auto trust = std::make_shared<TrustStore>();
  const PublicKey alice = feeds.alice.feed()[0].author;
  const PublicKey bob = feeds.bob.feed()[0].author;
  if (!trust->Add({.name = "alice", .member_key = alice, .roles = {Role::kReplica}, .address = ""})
           .ok() ||
      !trust->Add({.name = "bob", .member_key = bob, .roles = {Role::kPlatform}, .address = ""})
           .ok()) {
    __builtin_trap();
  }
  std::shared_ptr<const TrustStore> trust_ptr = trust;
  auto config = std::make_shared<const QuerySettings>();

  f->node = std::make_unique<FixedNode>(trust_ptr, config);
  f->query = std::make_unique<QueryRoutes>(f->store.get(), f->matcher.get(), nullptr, f->node.get());
  // The writer is null: unreachable, see the file comment.
  f->admin = std::make_unique<AdminRoutes>(f->store.get(), nullptr, alice, f->node.get(),
                                           f->query.get());
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* const fixture = MakeFixture();  // deliberate: one store for every input
  // FUZZ_VERBOSE=1 prints each answer, to see how far an input (a seed, a crash) gets.
  static const bool verbose = getenv("FUZZ_VERBOSE") != nullptr;

  const HttpServerOptions limits;
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<uint32_t>(limits.max_header_bytes));
  parser.body_limit(limits.max_body_bytes);
  parser.eager(true);
  boost::asio::const_buffer rest(data, size);
  boost::beast::error_code ec;
  while (!parser.is_done() && rest.size() > 0) {
    const size_t used = parser.put(rest, ec);
    rest += used;
    if (ec || used == 0) break;
  }
  if (!parser.is_done()) return 0;  // the server answers 400, 413 or 431, or waits for more

  auto& message = parser.get();
  for (bool admin : {false, true}) {
    HttpRequest request{std::string(message.method_string()), std::string(message.target()),
                        message.body(), PeerCredentials{}};
    int answers = 0;
    Responder respond = [&answers, admin](HttpResponse response) {
      ++answers;
      if (verbose) {
        fprintf(stderr, "%s: %d %s\n", admin ? "admin" : "query", response.status,
                response.body.substr(0, 200).c_str());
      }
      if (response.status < 200 || response.status > 599) __builtin_trap();
    };
    if (admin) {
      fixture->admin->Handle(std::move(request), respond);
    } else {
      fixture->query->Handle(std::move(request), respond);
    }
    if (answers != 1) __builtin_trap();  // nothing here answers later: no writer is reached
  }
  return 0;
}
