// CompromisePoints answers as the rule it caches (IsVoid in common/record.h), over feeds with
// several compromise points in any order of their positions.
#include "daemon/storage/compromise_points.h"

#include <gtest/gtest.h>

#include "tests/support/test_member.h"

namespace hashmesh {
namespace {

using testing::RandomPdqHex;
using testing::TestMember;

TEST(CompromisePointsTest, AgreesWithTheRuleOverSeveralRotations) {
  ASSERT_TRUE(InitCrypto());
  TestMember alice, bob;
  alice.AppendManifest();
  bob.AppendManifest();
  uint32_t n = 0;
  auto signals = [&](int count) {
    for (int i = 0; i < count; ++i) alice.AppendSignal(RandomPdqHex(++n));
  };
  signals(5);                // #2..#6
  alice.Rotate(4);           // #7: voids #5, #6
  signals(3);                // #8..#10
  alice.Rotate(0);           // #11: a plain rotation
  signals(2);                // #12, #13
  alice.Rotate(9);           // #14: voids #10, #12, #13 (and not #5, #6 again: already void)
  signals(2);                // #15, #16
  alice.Rotate(2);           // #17: the earliest point, named last: voids #3..#16 but manifests
  signals(1);                // #18
  for (int i = 0; i < 4; ++i) bob.AppendSignal(RandomPdqHex(100 + i));

  CompromisePoints points;
  points.OnCommit(alice.feed());
  points.OnCommit(bob.feed());
  FeedState state;
  for (const auto& r : alice.feed()) AdvanceFeed(r, &state);
  size_t void_count = 0;
  for (const auto& r : alice.feed()) {
    EXPECT_EQ(points.IsVoid(r), IsVoid(r, state.manifests)) << r.DebugString();
    void_count += points.IsVoid(r) ? 1 : 0;
  }
  EXPECT_EQ(void_count, 11u);  // #3..#6, #8..#10, #12, #13, #15, #16
  for (const auto& r : bob.feed()) EXPECT_FALSE(points.IsVoid(r));
}

}  // namespace
}  // namespace hashmesh
