// Signal state: precedence void > retracted > expired > current.
#include "common/signal_state.h"

namespace hashmesh {

std::string_view SignalStateName(SignalState state) {
  switch (state) {
    case SignalState::kExpired: return "expired";
    case SignalState::kRetracted: return "retracted";
    case SignalState::kVoid: return "void";
    case SignalState::kCurrent: break;
  }
  return "current";
}

bool ExpiryPassed(uint64_t expires_at_ms, uint64_t now_ms) {
  return expires_at_ms != 0 && expires_at_ms <= now_ms;
}

bool Expired(const SignalStateFacts& facts, uint64_t now_ms) {
  return ExpiryPassed(facts.expires_at_ms, now_ms) ||
         ExpiryPassed(facts.notice_expires_at_ms, now_ms);
}

SignalState DeriveSignalState(const SignalStateFacts& facts, uint64_t now_ms) {
  if (facts.voided) return SignalState::kVoid;
  if (facts.retracted) return SignalState::kRetracted;
  if (Expired(facts, now_ms)) return SignalState::kExpired;
  return SignalState::kCurrent;
}

bool Withdraws(bool retraction_voided, bool same_author) {
  return same_author && !retraction_voided;
}

}  // namespace hashmesh
