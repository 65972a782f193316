#include "node/server/clock_ceiling.h"

#include <gtest/gtest.h>

#include "common/clock/hlc.h"

namespace shoal::node {
namespace {

constexpr int64_t kWall = 1'700'000'000'000;

uint64_t Ms(uint64_t ms) { return HlcFromParts(ms, 0); }

TEST(ClockCeilingTest, StartsWithATargetAheadOfTheWallClock) {
  ClockCeiling c;
  EXPECT_EQ(c.durable(), 0u);
  EXPECT_EQ(c.Target(kWall, 0), Ms(kWall + ClockCeiling::kMarginMs));
}

TEST(ClockCeilingTest, NoWriteWhileFarEnoughAhead) {
  ClockCeiling c;
  c.SetDurable(c.Target(kWall, 0));
  EXPECT_EQ(c.Target(kWall, 0), 0u);
  EXPECT_EQ(c.Target(kWall + ClockCeiling::kMarginMs - ClockCeiling::kRefreshMs, 0), 0u);
  // Within kRefreshMs of the ceiling: refresh, a margin ahead of the wall clock.
  const int64_t later = kWall + ClockCeiling::kMarginMs - ClockCeiling::kRefreshMs + 1;
  EXPECT_EQ(c.Target(later, 0), Ms(later + ClockCeiling::kMarginMs));
}

TEST(ClockCeilingTest, FollowsTheHighestVersionHeld) {
  ClockCeiling c;
  c.SetDurable(c.Target(kWall, 0));
  const uint64_t ahead = Ms(kWall + 4000) + 7;  // a writer 4 s ahead
  EXPECT_EQ(c.Target(kWall, ahead), ahead + Ms(ClockCeiling::kMarginMs));
}

TEST(ClockCeilingTest, AWantedVersionIsCoveredAtOnce) {
  ClockCeiling c;
  c.SetDurable(c.Target(kWall, 0));
  const uint64_t far = Ms(kWall + 30'000);
  EXPECT_FALSE(c.Waiting());
  c.Want(far);
  c.Want(far - 5);  // a lower want never lowers the target
  EXPECT_TRUE(c.Waiting());
  const uint64_t target = c.Target(kWall, 0);
  EXPECT_EQ(target, far + Ms(ClockCeiling::kMarginMs));
  c.SetDurable(target);
  EXPECT_FALSE(c.Waiting());
  EXPECT_GE(c.durable(), far);
}

}  // namespace
}  // namespace shoal::node
