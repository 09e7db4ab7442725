// Status and Result<T>: errors as values. Expected failures (bad input, I/O, peers) are returned,
// never thrown; `assert` guards internal invariants only. Both types are cheap to move.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace hashmesh {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,    // the caller's input is malformed
  kNotFound,
  kAlreadyExists,
  kPermissionDenied,   // e.g. author not trusted, role may not publish
  kFailedPrecondition, // the system is not in a state to do it (e.g. schema version)
  kCorruption,         // stored or signed data does not verify
  kIoError,
  kResourceExhausted,  // a limit was reached
  kUnavailable,        // try again later (shutting down, peer gone)
  kInternal,
};

std::string_view StatusCodeName(StatusCode code);  // "invalid_argument", ...

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid_argument: pdq value must be 64 hex characters"
  std::string ToString() const;
  // Returns a copy with "context: " put before the message.
  Status WithContext(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status PermissionDenied(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }
inline Status FailedPrecondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
inline Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
inline Status ResourceExhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// Either a value or a non-ok Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).ok()); }  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace hashmesh

// Returns early from the enclosing function when `expr` (a Status) is not ok.
#define HM_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::hashmesh::Status hm_status_ = (expr);  \
    if (!hm_status_.ok()) return hm_status_; \
  } while (0)

#define HM_CONCAT_INNER(a, b) a##b
#define HM_CONCAT(a, b) HM_CONCAT_INNER(a, b)
// `HM_ASSIGN_OR_RETURN(auto x, F());` declares x from F()'s value or returns F()'s error.
#define HM_ASSIGN_OR_RETURN(decl, expr) \
  HM_ASSIGN_OR_RETURN_IMPL(HM_CONCAT(hm_result_, __LINE__), decl, expr)
#define HM_ASSIGN_OR_RETURN_IMPL(tmp, decl, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  decl = std::move(tmp).value()
