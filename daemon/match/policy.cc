// The verdict rules; see policy.h and PolicyConfig for the knobs.
#include "daemon/match/policy.h"

#include <algorithm>

namespace hashmesh {
namespace {

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

bool LabelMayAct(const PolicyConfig& policy, const std::vector<std::string>& labels) {
  if (policy.act_labels.empty()) return true;
  for (const auto& label : labels) {
    for (const auto& prefix : policy.act_labels) {
      if (label.starts_with(prefix)) return true;
    }
  }
  return false;
}

Action FromName(const std::string& name) {
  if (name == "act") return Action::kAct;
  if (name == "review") return Action::kReview;
  return Action::kNone;
}

// One signal's verdict and the reason for it.
std::pair<Action, std::string> DecideOne(const PolicyConfig& policy, const MatchFacts& m) {
  if (m.ignored) return {Action::kNone, m.signal + ": author ignored by local policy"};
  if (m.forked) return {Action::kNone, m.signal + ": author equivocated (forked its feed)"};
  switch (m.state) {
    case SignalState::kVoid:
      return {Action::kNone, m.signal + ": void (its author's compromise point is before it)"};
    case SignalState::kRetracted: return {Action::kNone, m.signal + ": retracted by its author"};
    case SignalState::kExpired: return {Action::kNone, m.signal + ": expired"};
    case SignalState::kCurrent: break;
  }
  const size_t supporters = m.platform_supporters.size();
  const size_t disputers = m.platform_disputers.size();
  if (disputers > static_cast<size_t>(policy.max_disputes)) {
    Action a = supporters > 0 || !m.authority_notices.empty() || m.author_authority
                   ? Action::kReview
                   : Action::kNone;
    return {a, m.signal + ": disputed by " + JoinNames(m.platform_disputers)};
  }
  if (supporters >= static_cast<size_t>(policy.min_platforms)) {
    if (LabelMayAct(policy, m.labels)) {
      return {Action::kAct, m.signal + ": supported by " + std::to_string(supporters) +
                                " platform members (" + JoinNames(m.platform_supporters) + ")"};
    }
    return {Action::kReview, m.signal + ": supported by " + std::to_string(supporters) +
                                 " platform members, but no label is in policy.act_labels"};
  }
  if (!m.authority_notices.empty()) {
    Action a = FromName(policy.authority_notice);
    return {a, m.signal + ": " + m.authority_notices.front()};
  }
  if (supporters > 0) {
    return {Action::kReview, m.signal + ": supported by " + std::to_string(supporters) + " of " +
                                 std::to_string(policy.min_platforms) +
                                 " platform members needed to act (" +
                                 JoinNames(m.platform_supporters) + ")"};
  }
  if (m.author_authority) {
    return {FromName(policy.authority_notice), m.signal + ": submitted by an authority alone"};
  }
  return {Action::kNone, m.signal + ": no platform support"};
}

}  // namespace

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kAct: return "act";
    case Action::kReview: return "review";
    case Action::kNone: break;
  }
  return "none";
}

Decision Decide(const PolicyConfig& policy, const std::vector<MatchFacts>& matches) {
  Decision d;
  if (matches.empty()) {
    d.reasons.push_back("no matching signal");
    return d;
  }
  for (const auto& m : matches) {
    auto [action, reason] = DecideOne(policy, m);
    d.action = std::max(d.action, action);
    d.reasons.push_back(std::string(ActionName(action)) + ": " + reason);
  }
  // The reasons that gave the verdict first.
  std::stable_partition(d.reasons.begin(), d.reasons.end(), [&](const std::string& r) {
    return r.starts_with(std::string(ActionName(d.action)) + ":");
  });
  return d;
}

}  // namespace hashmesh
