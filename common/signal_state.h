// The state of a signal (or of a notice's inline fingerprints) at a moment: current, retracted by
// its author, expired, or void after its author's compromise point. The one derivation, shared by
// the matcher (from stored records) and the CLI (from exported RecordViews). Pure; thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

namespace hashmesh {

// Ordered by precedence: a void record counts for nothing, whatever else is true of it; a
// retraction is its author's word and outranks the clock.
enum class SignalState { kCurrent, kExpired, kRetracted, kVoid };

// "current", "expired", "retracted", "void".
std::string_view SignalStateName(SignalState state);

// What the state is derived from. Expiry times are ms since the epoch; 0 means unset.
struct SignalStateFacts {
  bool voided = false;     // its record is void (author's compromise point before it)
  bool retracted = false;  // a retraction that Withdraws() it exists
  uint64_t expires_at_ms = 0;
  uint64_t notice_expires_at_ms = 0;  // for a fingerprint inline in a notice: the notice's expiry
};

// An expiry that is set and at or before `now_ms`.
bool ExpiryPassed(uint64_t expires_at_ms, uint64_t now_ms);
// Whether the fingerprint's expiry (or its notice's) has passed.
bool Expired(const SignalStateFacts& facts, uint64_t now_ms);
SignalState DeriveSignalState(const SignalStateFacts& facts, uint64_t now_ms);

// Whether a retraction withdraws its target: only its author may withdraw a record, and a void
// retraction withdraws nothing.
bool Withdraws(bool retraction_voided, bool same_author);

}  // namespace hashmesh
