// Load generator over the local API's unix socket. The keep-alive client is plain POSIX sockets
// with just enough HTTP/1.1 for hashmeshd's answers (Content-Length bodies), so that the client
// costs little CPU next to the daemon on a small machine.
#include "tests/bench/http_load.h"

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <latch>
#include <mutex>
#include <thread>

#include "daemon/cli/api_client.h"

namespace hashmesh::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxAnswerBytes = 16 << 20;

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

// Checks one answer against what its request should produce; fills `result` accordingly.
void Account(const Status& s, int status, const std::string& body, const LoadRequest& request,
             LoadResult* result) {
  std::string error;
  if (!s.ok()) {
    error = s.ToString();
  } else if (status != 200) {
    error = "HTTP " + std::to_string(status) + ": " + body.substr(0, 200);
  } else if (request.expected_matches >= 0 && CountMatches(body) != request.expected_matches) {
    error = "expected " + std::to_string(request.expected_matches) + " matches, got " +
            std::to_string(CountMatches(body)) + ": " + body.substr(0, 200);
  }
  if (error.empty()) {
    ++result->requests;
  } else {
    if (result->errors++ == 0) result->first_error = error;
  }
}

void Merge(LoadResult&& part, LoadResult* total) {
  total->requests += part.requests;
  if (total->errors == 0 && part.errors > 0) total->first_error = part.first_error;
  total->errors += part.errors;
  total->late_sends += part.late_sends;
  total->latencies_us.insert(total->latencies_us.end(), part.latencies_us.begin(),
                             part.latencies_us.end());
}

}  // namespace

// ---- KeepAliveClient ------------------------------------------------------------------------

KeepAliveClient::~KeepAliveClient() { Disconnect(); }

Status KeepAliveClient::Connect() {
  sockaddr_un addr{};
  if (path_.size() >= sizeof(addr.sun_path)) return InvalidArgument("socket path too long");
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path_.data(), path_.size());
  fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return IoError(std::string("socket: ") + std::strerror(errno));
  // A daemon that stops answering fails the run instead of hanging it.
  timeval tv{.tv_sec = 10, .tv_usec = 0};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    Disconnect();
    return Unavailable("cannot connect to " + path_ + ": " + std::strerror(err));
  }
  ++connects_;
  buffer_.clear();
  return Status::Ok();
}

void KeepAliveClient::Disconnect() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

Status KeepAliveClient::Call(std::string_view request, int* status, std::string* body) {
  // A kept-alive connection may have been closed by the server meanwhile (idle timeout): then the
  // write or the first read fails at once, and one retry on a fresh connection is right.
  for (int attempt = 0;; ++attempt) {
    const bool reused = fd_ >= 0;
    if (!reused) HM_RETURN_IF_ERROR(Connect());
    std::string_view left = request;
    bool broken = false;
    while (!left.empty()) {
      ssize_t n = send(fd_, left.data(), left.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        broken = true;
        break;
      }
      left.remove_prefix(static_cast<size_t>(n));
    }
    // Read the header.
    size_t header_end = std::string::npos;
    while (!broken && (header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      char chunk[16384];
      ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || buffer_.size() > kMaxAnswerBytes) {
        broken = true;
        break;
      }
      buffer_.append(chunk, static_cast<size_t>(n));
    }
    if (broken) {
      Disconnect();
      if (reused && attempt == 0 && buffer_.empty()) continue;
      return IoError("connection to " + path_ + " broke");
    }
    std::string_view header(buffer_.data(), header_end);
    // "HTTP/1.1 200 OK"
    if (header.size() < 12 || !header.starts_with("HTTP/1.")) {
      Disconnect();
      return IoError("not an HTTP answer: " + std::string(header.substr(0, 40)));
    }
    *status = std::atoi(std::string(header.substr(9, 3)).c_str());
    size_t content_length = 0;
    bool have_length = false, close_after = false;
    size_t pos = header.find("\r\n");
    while (pos != std::string_view::npos && pos < header.size()) {
      size_t next = header.find("\r\n", pos + 2);
      std::string_view line =
          header.substr(pos + 2, (next == std::string_view::npos ? header.size() : next) - pos - 2);
      pos = next;
      size_t colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string_view name = Trim(line.substr(0, colon)), value = Trim(line.substr(colon + 1));
      if (IEquals(name, "content-length")) {
        content_length = std::strtoull(std::string(value).c_str(), nullptr, 10);
        have_length = true;
      } else if (IEquals(name, "connection") && IEquals(value, "close")) {
        close_after = true;
      }
    }
    if (!have_length || content_length > kMaxAnswerBytes) {
      Disconnect();
      return IoError("answer without a usable Content-Length");
    }
    const size_t body_start = header_end + 4;
    while (buffer_.size() < body_start + content_length) {
      char chunk[16384];
      ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        Disconnect();
        return IoError("connection to " + path_ + " broke in the body");
      }
      buffer_.append(chunk, static_cast<size_t>(n));
    }
    body->assign(buffer_, body_start, content_length);
    buffer_.erase(0, body_start + content_length);
    if (close_after) Disconnect();
    return Status::Ok();
  }
}

std::string BuildPost(std::string_view target, std::string_view json_body) {
  std::string r;
  r.reserve(json_body.size() + 128);
  r.append("POST ").append(target).append(" HTTP/1.1\r\nHost: hashmeshd\r\n");
  r.append("Content-Type: application/json\r\nContent-Length: ");
  r.append(std::to_string(json_body.size())).append("\r\n\r\n").append(json_body);
  return r;
}

// ---- load runs ----------------------------------------------------------------------------------

LoadResult RunClosedLoop(const std::string& socket_path, const std::vector<LoadRequest>& requests,
                         int clients, ClientKind kind, std::chrono::duration<double> duration) {
  std::vector<LoadResult> parts(clients);
  std::latch ready(clients + 1);
  std::atomic<bool> go{false};
  Clock::time_point end;
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      LoadResult& part = parts[c];
      KeepAliveClient client(socket_path);
      int status = 0;
      std::string body;
      size_t i = requests.size() * c / clients;
      ready.count_down();
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      while (Clock::now() < end) {
        const LoadRequest& request = requests[i++ % requests.size()];
        const auto t0 = Clock::now();
        Status s;
        if (kind == ClientKind::kKeepAlive) {
          s = client.Call(request.http, &status, &body);
        } else {
          auto r =
              HttpCall(socket_path, "POST", "/v1/match", request.body, std::chrono::seconds(10));
          s = r.status();
          if (r.ok()) {
            status = r->status;
            body = std::move(r->body);
          }
        }
        part.latencies_us.push_back(Micros(Clock::now() - t0));
        Account(s, status, body, request, &part);
      }
    });
  }
  ready.arrive_and_wait();
  const auto start = Clock::now();
  end = start + std::chrono::duration_cast<Clock::duration>(duration);
  go.store(true, std::memory_order_release);
  for (auto& t : threads) t.join();
  LoadResult total;
  total.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (auto& p : parts) Merge(std::move(p), &total);
  return total;
}

LoadResult RunOpenLoop(const std::string& socket_path, const std::vector<LoadRequest>& requests,
                       double rate, int connections, std::chrono::duration<double> duration) {
  const uint64_t total_requests = static_cast<uint64_t>(rate * duration.count());
  std::vector<LoadResult> parts(connections);
  // Connections are opened before the clock starts; the schedule begins a little later.
  std::latch ready(connections + 1);
  Clock::time_point start;
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int c = 0; c < connections; ++c) {
    threads.emplace_back([&, c] {
      // The default 50 us timer slack would add itself to every measured latency.
      prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
      LoadResult& part = parts[c];
      KeepAliveClient client(socket_path);
      int status = 0;
      std::string body;
      // Warm the connection (and check the daemon) outside the schedule.
      Status warm = client.Call(requests[c % requests.size()].http, &status, &body);
      if (!warm.ok() && part.errors++ == 0) part.first_error = warm.ToString();
      ready.count_down();
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      for (uint64_t i = c; i < total_requests; i += connections) {
        const auto scheduled = start + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(i / rate));
        std::this_thread::sleep_until(scheduled);
        if (Clock::now() - scheduled > std::chrono::milliseconds(1)) ++part.late_sends;
        const LoadRequest& request = requests[i % requests.size()];
        Status s = client.Call(request.http, &status, &body);
        part.latencies_us.push_back(Micros(Clock::now() - scheduled));
        Account(s, status, body, request, &part);
      }
    });
  }
  ready.arrive_and_wait();
  start = Clock::now() + std::chrono::milliseconds(20);
  go.store(true, std::memory_order_release);
  for (auto& t : threads) t.join();
  LoadResult total;
  total.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (auto& p : parts) Merge(std::move(p), &total);
  return total;
}

double Quantile(std::vector<double>& values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
  return values[std::clamp<size_t>(rank, 1, values.size()) - 1];
}

int CountMatches(std::string_view json) {
  int n = 0;
  for (size_t pos = json.find("\"distance\":"); pos != std::string_view::npos;
       pos = json.find("\"distance\":", pos + 1)) {
    ++n;
  }
  return n;
}

}  // namespace hashmesh::bench
