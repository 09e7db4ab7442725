// The one derivation of a signal's state, and the timestamp conversion it is fed from.
#include <gtest/gtest.h>

#include <google/protobuf/timestamp.pb.h>

#include "common/proto_time.h"
#include "common/signal_state.h"

namespace hashmesh {
namespace {

TEST(SignalStateTest, Precedence) {
  struct Case {
    SignalStateFacts facts;
    uint64_t now_ms;
    SignalState state;
  };
  const Case cases[] = {
      {{}, 1000, SignalState::kCurrent},
      {{.expires_at_ms = 1000}, 999, SignalState::kCurrent},
      {{.expires_at_ms = 1000}, 1000, SignalState::kExpired},
      {{.notice_expires_at_ms = 1000}, 1000, SignalState::kExpired},
      {{.retracted = true, .expires_at_ms = 1000}, 1000, SignalState::kRetracted},
      {{.voided = true, .retracted = true, .expires_at_ms = 1}, 1000, SignalState::kVoid},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(SignalStateName(DeriveSignalState(c.facts, c.now_ms)), SignalStateName(c.state));
  }
}

TEST(SignalStateTest, ZeroExpiryIsUnset) {
  EXPECT_FALSE(ExpiryPassed(0, 1000));
  EXPECT_TRUE(ExpiryPassed(1, 1000));
}

TEST(SignalStateTest, OnlyTheAuthorsLiveRetractionWithdraws) {
  EXPECT_TRUE(Withdraws(/*retraction_voided=*/false, /*same_author=*/true));
  EXPECT_FALSE(Withdraws(false, false));
  EXPECT_FALSE(Withdraws(true, true));
}

TEST(ProtoTimeTest, SubSecondTimestampsAreNotTheEpoch) {
  google::protobuf::Timestamp ts;
  ts.set_nanos(500000000);
  EXPECT_EQ(TimestampMs(ts), 500u);
  SetTimestamp(1, &ts);
  EXPECT_EQ(TimestampMs(ts), 1u);
  ts.Clear();
  EXPECT_EQ(TimestampMs(ts), 0u);
  ts.set_seconds(-5);
  EXPECT_EQ(TimestampMs(ts), 0u);
}

}  // namespace
}  // namespace hashmesh
