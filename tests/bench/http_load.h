// Load generator for the local API: a minimal keep-alive HTTP/1.1 client over a unix socket, and
// closed-loop (max throughput) and open-loop (fixed rate, latency from the scheduled send time,
// so a slow answer is not hidden by the requests it delays) runs from several client threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace hashmesh::bench {

// One connection, kept alive across requests; reconnects when the server closes it. Blocking;
// one thread at a time.
class KeepAliveClient {
 public:
  explicit KeepAliveClient(std::string socket_path) : path_(std::move(socket_path)) {}
  ~KeepAliveClient();
  KeepAliveClient(const KeepAliveClient&) = delete;
  KeepAliveClient& operator=(const KeepAliveClient&) = delete;

  // Sends `request` (a complete HTTP/1.1 request: header and body) and reads the answer's status
  // and body. Errors: kUnavailable (cannot connect), kIoError (broken connection, bad answer).
  Status Call(std::string_view request, int* status, std::string* body);
  uint64_t connects() const { return connects_; }

 private:
  Status Connect();
  void Disconnect();

  const std::string path_;
  int fd_ = -1;
  uint64_t connects_ = 0;
  std::string buffer_;  // bytes read past the current answer (none with one request in flight)
};

// `POST target` with a JSON body, keep-alive, as raw bytes.
std::string BuildPost(std::string_view target, std::string_view json_body);

// What a request should produce: the exact number of matches (-1: do not check).
struct LoadRequest {
  std::string http;  // complete request bytes, for the keep-alive client
  std::string body;  // its JSON body, for HttpCall
  int expected_matches = -1;
};

enum class ClientKind {
  kKeepAlive,  // KeepAliveClient: one connection per client thread
  kHttpCall,   // daemon/cli/api_client.h HttpCall: a new connection per request, as the CLI does
};

struct LoadResult {
  uint64_t requests = 0;  // answered 200 with the expected matches
  uint64_t errors = 0;    // transport errors, non-200 answers, wrong match counts
  std::string first_error;
  double seconds = 0;                // wall time of the measured phase
  std::vector<double> latencies_us;  // one per request (errors included), unsorted
  // Open loop only: requests sent more than 1 ms after their scheduled time (the generator or the
  // server fell behind; their latency includes that wait).
  uint64_t late_sends = 0;

  double rate() const { return seconds > 0 ? requests / seconds : 0; }
};

// `clients` threads, each sending requests back to back for `duration`, walking `requests` from
// a different offset. Latency is the time of one call.
LoadResult RunClosedLoop(const std::string& socket_path, const std::vector<LoadRequest>& requests,
                         int clients, ClientKind kind, std::chrono::duration<double> duration);

// `connections` threads with one keep-alive connection each, together sending `rate` requests a
// second on a fixed schedule (request i at start + i / rate, by thread i % connections) for
// `duration`. Latency is measured from the scheduled time, not from the actual send.
LoadResult RunOpenLoop(const std::string& socket_path, const std::vector<LoadRequest>& requests,
                       double rate, int connections, std::chrono::duration<double> duration);

// The q-quantile (0..1) of `values` (sorted in place); 0 if empty.
double Quantile(std::vector<double>& values, double q);

// Matches in a /v1/match answer: each match prints a "distance" field, nothing else does.
int CountMatches(std::string_view json);

}  // namespace hashmesh::bench
