// Shared helpers of the `hashmesh` CLI: sockets, daemon calls, validation, JSON text.
#include "daemon/cli/cli_common.h"

#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/json_util.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>

#include "common/clock.h"
#include "common/hex.h"
#include "common/signal_value.h"
#include "daemon/cli/api_client.h"
#include "proto/api.pb.h"

namespace hashmesh::cli {

int ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return kExitOk;
    case StatusCode::kUnavailable:
      return kExitUnreachable;
    case StatusCode::kInvalidArgument:
      return kExitUsage;
    default:
      return kExitError;
  }
}

int Fail(const Status& status) {
  std::fprintf(stderr, "hashmesh: %s\n", status.message().c_str());
  return ExitCodeFor(status);
}

Status FileError(const std::string& path, const Status& status) {
  if (status.message().rfind(path, 0) == 0) return status;
  return status.WithContext(path);
}

Status DaemonError(int http_status, std::string_view body) {
  api::ErrorResponse error;
  if (ParseAnswer(body, &error).ok() && !error.error().message().empty()) {
    return FailedPrecondition(error.error().message());
  }
  std::string text(body.substr(0, 200));
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return FailedPrecondition("hashmeshd answered HTTP " + std::to_string(http_status) +
                            (text.empty() ? "" : ": " + text));
}

std::string ResolveSocket(const std::string& flag, const char* env_var,
                          const std::string& local_default, const std::string& system_default) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv(env_var);
  if (env != nullptr && *env != '\0') return env;
  struct stat st {};
  if (stat(local_default.c_str(), &st) == 0) return local_default;
  return system_default;
}

std::string Context::QuerySocket() const {
  return ResolveSocket(socket_flag, "HASHMESH_SOCKET", "./hashmesh-data/query.sock",
                       "/run/hashmesh/query.sock");
}

std::string Context::AdminSocket() const {
  return ResolveSocket(admin_socket_flag, "HASHMESH_ADMIN_SOCKET", "./hashmesh-data/admin.sock",
                       "/run/hashmesh/admin.sock");
}

std::chrono::milliseconds Context::Timeout() const {
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(timeout_seconds * 1000)));
}

namespace {

Result<std::string> Call(const Context& ctx, const std::string& socket, std::string_view hint,
                         std::string_view method, std::string_view target, std::string_view body) {
  auto response = HttpCall(socket, method, target, body, ctx.Timeout(), hint);
  if (!response.ok()) return response.status();
  if (response->status < 200 || response->status > 299) {
    return DaemonError(response->status, response->body);
  }
  return std::move(response->body);
}

}  // namespace

Result<std::string> Get(const Context& ctx, std::string_view target) {
  return Call(ctx, ctx.QuerySocket(), kQuerySocketHint, "GET", target, "");
}

Result<std::string> PostQuery(const Context& ctx, std::string_view target, std::string_view body) {
  return Call(ctx, ctx.QuerySocket(), kQuerySocketHint, "POST", target, body);
}

Result<std::string> PostAdmin(const Context& ctx, std::string_view target, std::string_view body) {
  return Call(ctx, ctx.AdminSocket(), kAdminSocketHint, "POST", target, body);
}

Status ParseAnswer(std::string_view json, google::protobuf::Message* message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), message, options);
  if (!status.ok()) {
    return Internal("cannot read the daemon's answer: " + std::string(status.message()));
  }
  return Status::Ok();
}

std::string PrettyJson(std::string_view json) {
  std::string out;
  out.reserve(json.size() * 2);
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  auto newline = [&] {
    out += '\n';
    out.append(static_cast<size_t>(std::max(depth, 0)) * 2, ' ');
  };
  for (size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (in_string) {
      out += c;
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        out += c;
        break;
      case '{':
      case '[': {
        out += c;
        // Keep "{}" and "[]" together.
        size_t j = json.find_first_not_of(" \t\r\n", i + 1);
        if (j != std::string_view::npos && (json[j] == '}' || json[j] == ']')) {
          out += json[j];
          i = j;
        } else {
          ++depth;
          newline();
        }
        break;
      }
      case '}':
      case ']':
        --depth;
        newline();
        out += c;
        break;
      case ',':
        out += c;
        newline();
        break;
      case ':':
        out += ": ";
        break;
      case ' ':
      case '\t':
      case '\r':
      case '\n':
        break;
      default:
        out += c;
    }
  }
  return out;
}

void PrintJsonDocument(std::string_view json) {
  std::string text = json.find_first_not_of(" \t\r\n") == std::string_view::npos ? std::string("{}")
                                                                                 : PrettyJson(json);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
}

std::string JsonQuote(std::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

namespace {

Status CheckMatchable(SignalKind kind) {
  if (kind != SignalKind::kPdq && kind != SignalKind::kMd5 && kind != SignalKind::kSha256 &&
      kind != SignalKind::kUrl) {
    return InvalidArgument("cannot match signals of type " + std::string(SignalKindName(kind)) +
                           "; use pdq, md5, sha256 or url");
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> ValidateMatchType(std::string_view type) {
  HM_ASSIGN_OR_RETURN(SignalKind kind, ParseSignalKind(type));
  HM_RETURN_IF_ERROR(CheckMatchable(kind));
  return std::string(SignalKindName(kind));
}

Result<SignalInput> ValidateSignal(std::string_view type, std::string_view value, bool match_only) {
  HM_ASSIGN_OR_RETURN(SignalKind kind, ParseSignalKind(type));
  if (match_only) HM_RETURN_IF_ERROR(CheckMatchable(kind));
  auto canonical = CanonicalSignalValue(kind, value);
  if (!canonical.ok()) {
    return InvalidArgument("invalid " + std::string(SignalKindName(kind)) +
                           " value: " + canonical.status().message());
  }
  return SignalInput{std::string(SignalKindName(kind)), std::move(canonical).value()};
}

Result<std::string> ValidateRecordId(std::string_view id) {
  auto bytes = FromHexFixed<32>(id, "record id");
  if (!bytes.ok()) return InvalidArgument(bytes.status().message());
  return ToHex(*bytes);
}

Result<std::string> ValidateMemberId(std::string_view id) {
  auto key = KeyFromText(id);
  if (!key.ok()) {
    return InvalidArgument("invalid member id '" + std::string(id) +
                           "': expected ed25519:<64 hex> (" + key.status().message() + ")");
  }
  return KeyToText(*key);
}

Status ParseExpiry(std::string_view text, google::protobuf::Timestamp* out) {
  auto ms = ParseTimeOrDuration(text, NowMs());
  if (!ms.ok()) return InvalidArgument("invalid --expires: " + ms.status().message());
  out->set_seconds(static_cast<int64_t>(*ms / 1000));
  out->set_nanos(static_cast<int32_t>(*ms % 1000) * 1000000);
  return Status::Ok();
}

std::string ShortId(std::string_view id) {
  constexpr std::string_view kPrefix = "ed25519:";
  size_t keep = id.substr(0, kPrefix.size()) == kPrefix ? kPrefix.size() + 8 : 8;
  if (id.size() <= keep + 2) return std::string(id);
  return std::string(id.substr(0, keep)) + "..";
}

std::string FormatTimestamp(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() <= 0 && ts.nanos() <= 0) return "";
  return FormatRfc3339(static_cast<uint64_t>(ts.seconds()) * 1000 +
                       static_cast<uint64_t>(ts.nanos()) / 1000000);
}

ProgressBar::ProgressBar(std::string label, size_t total)
    : label_(std::move(label)),
      total_(total),
      enabled_(total >= kMinItems && isatty(STDERR_FILENO) == 1) {}

ProgressBar::~ProgressBar() {
  MutexLock lock(mu_);
  if (drawn_) std::fputs("\r\033[K", stderr);
}

void ProgressBar::Update(size_t done) {
  if (!enabled_) return;
  MutexLock lock(mu_);
  auto now = std::chrono::steady_clock::now();
  // Redrawing on every file would cost more than hashing small ones.
  if (drawn_ && done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  drawn_ = true;
  std::fprintf(stderr, "\r\033[K%s %zu/%zu (%zu%%)", label_.c_str(), done, total_,
               total_ == 0 ? size_t{100} : done * 100 / total_);
  std::fflush(stderr);
}

Status ForEachInputLine(
    const std::string& path,
    const std::function<void(const std::string& name, uint32_t number, const std::string& line)>&
        each) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) return InvalidArgument(path + ": " + std::strerror(errno));
    in = &file;
  }
  const std::string name = path == "-" ? "stdin" : path;
  std::string line;
  uint32_t number = 0;
  while (std::getline(*in, line)) each(name, ++number, line);
  if (in->bad()) return IoError(name + ": read error");
  return Status::Ok();
}

}  // namespace hashmesh::cli
