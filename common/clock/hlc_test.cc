#include "common/clock/hlc.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <thread>
#include <vector>

#include "common/clock/clock.h"

namespace shoal {
namespace {

constexpr int64_t kStartMs = 1'700'000'000'000;
constexpr int64_t kMaxOffsetMs = 500;

class HlcTest : public ::testing::Test {
 protected:
  FakeClock clock_{kStartMs};
  HybridLogicalClock hlc_{clock_, kMaxOffsetMs};
};

TEST(HlcPartsTest, PackAndUnpack) {
  const uint64_t hlc = HlcFromParts(kStartMs, 42);
  EXPECT_EQ(HlcWallMs(hlc), static_cast<uint64_t>(kStartMs));
  EXPECT_EQ(HlcLogical(hlc), 42u);
  EXPECT_EQ(hlc, (static_cast<uint64_t>(kStartMs) << 16) | 42);
  // Ordering of timestamps is wall time first, then the logical counter.
  EXPECT_LT(HlcFromParts(kStartMs, 0xFFFF), HlcFromParts(kStartMs + 1, 0));
}

TEST(HlcPartsTest, VersionsOrderByHlcThenWriter) {
  const Version a{HlcFromParts(kStartMs, 1), 9};
  const Version b{HlcFromParts(kStartMs, 2), 1};
  const Version c{HlcFromParts(kStartMs, 2), 3};
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_EQ(std::max({c, a, b}), c);
  EXPECT_TRUE(Version{}.IsZero());
  EXPECT_FALSE(a.IsZero());
  EXPECT_FALSE((Version{0, 1}.IsZero()));
}

TEST_F(HlcTest, FollowsTheWallClock) {
  EXPECT_EQ(hlc_.Last(), 0u);
  const uint64_t t = hlc_.Now();
  EXPECT_EQ(t, HlcFromParts(kStartMs, 0));
  EXPECT_EQ(hlc_.Last(), t);
  clock_.Advance(25);
  EXPECT_EQ(hlc_.Now(), HlcFromParts(kStartMs + 25, 0));
}

TEST_F(HlcTest, StrictlyIncreasingWhileTheWallClockStands) {
  uint64_t prev = hlc_.Now();
  for (int i = 1; i < 1000; ++i) {
    const uint64_t t = hlc_.Now();
    ASSERT_GT(t, prev);
    EXPECT_EQ(HlcWallMs(t), static_cast<uint64_t>(kStartMs));
    EXPECT_EQ(HlcLogical(t), static_cast<uint64_t>(i));
    prev = t;
  }
}

TEST_F(HlcTest, NeverGoesBackwardsWhenTheWallClockStepsBack) {
  clock_.Advance(10'000);
  const uint64_t before = hlc_.Now();
  clock_.Set(kStartMs);  // an NTP step of 10 s backwards
  uint64_t prev = before;
  for (int i = 0; i < 100; ++i) {
    const uint64_t t = hlc_.Now();
    ASSERT_GT(t, prev);
    EXPECT_EQ(HlcWallMs(t), static_cast<uint64_t>(kStartMs + 10'000));
    prev = t;
    clock_.Advance(1);  // still behind the high-water mark
  }
  // Once the wall clock passes the high-water mark, the HLC follows it again.
  clock_.Set(kStartMs + 20'000);
  EXPECT_EQ(hlc_.Now(), HlcFromParts(kStartMs + 20'000, 0));
}

TEST_F(HlcTest, UpdateMergesARemoteTimestamp) {
  const uint64_t local = hlc_.Now();
  const uint64_t remote = HlcFromParts(kStartMs + 200, 7);  // ahead, within the offset
  ASSERT_TRUE(hlc_.Update(remote).ok());
  EXPECT_EQ(hlc_.Last(), remote);
  const uint64_t next = hlc_.Now();
  EXPECT_GT(next, remote);
  EXPECT_GT(next, local);
  EXPECT_EQ(next, HlcFromParts(kStartMs + 200, 8));
}

TEST_F(HlcTest, UpdateOneTickAheadIsMerged) {
  const uint64_t local = hlc_.Now();
  ASSERT_TRUE(hlc_.Update(local + 1).ok());
  EXPECT_EQ(hlc_.Last(), local + 1);
  EXPECT_EQ(hlc_.Now(), local + 2);  // never hands out the merged timestamp itself
}

TEST_F(HlcTest, UpdateWithAnOlderTimestampKeepsTheClock) {
  clock_.Advance(1000);
  const uint64_t local = hlc_.Now();
  ASSERT_TRUE(hlc_.Update(HlcFromParts(kStartMs, 3)).ok());
  EXPECT_EQ(hlc_.Last(), local);
  EXPECT_GT(hlc_.Now(), local);
}

TEST_F(HlcTest, UpdateRefusesTimestampsTooFarInTheFuture) {
  const uint64_t local = hlc_.Now();
  const uint64_t too_far = HlcFromParts(kStartMs + kMaxOffsetMs + 1, 0);
  const Status s = hlc_.Update(too_far);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("501ms"), std::string::npos) << s.ToString();
  // The clock is unchanged: the next timestamp follows the local one, not the refused one.
  EXPECT_EQ(hlc_.Last(), local);
  EXPECT_EQ(hlc_.Now(), local + 1);
  EXPECT_FALSE(hlc_.Update(HlcFromParts(uint64_t{1} << 47, 0)).ok());
  EXPECT_LT(hlc_.Last(), too_far);
}

TEST_F(HlcTest, UpdateAcceptsExactlyTheMaxOffset) {
  const uint64_t edge = HlcFromParts(kStartMs + kMaxOffsetMs, 0xFFFF);
  ASSERT_TRUE(hlc_.Update(edge).ok());
  EXPECT_GT(hlc_.Now(), edge);
}

TEST_F(HlcTest, OffsetIsMeasuredAgainstTheCurrentWallClock) {
  const uint64_t remote = HlcFromParts(kStartMs + 2 * kMaxOffsetMs, 0);
  EXPECT_FALSE(hlc_.Update(remote).ok());
  clock_.Advance(kMaxOffsetMs);
  EXPECT_TRUE(hlc_.Update(remote).ok());
  EXPECT_EQ(hlc_.Last(), remote);
}

TEST_F(HlcTest, ObserveSkipsTheOffsetCheckButNeverLowers) {
  const uint64_t persisted = HlcFromParts(kStartMs + 60'000, 5);
  hlc_.Observe(persisted);
  EXPECT_EQ(hlc_.Last(), persisted);
  hlc_.Observe(HlcFromParts(kStartMs, 0));
  EXPECT_EQ(hlc_.Last(), persisted);
  EXPECT_EQ(hlc_.Now(), persisted + 1);
}

TEST_F(HlcTest, FullLogicalCounterCarriesIntoWallPart) {
  hlc_.Observe(HlcFromParts(kStartMs, 0xFFFE));
  EXPECT_EQ(hlc_.Now(), HlcFromParts(kStartMs, 0xFFFF));
  const uint64_t carried = hlc_.Now();
  EXPECT_EQ(carried, HlcFromParts(kStartMs + 1, 0));
  EXPECT_EQ(hlc_.Now(), HlcFromParts(kStartMs + 1, 1));
}

TEST_F(HlcTest, SixtyFiveThousandEventsInOneMillisecondCarry) {
  uint64_t prev = 0;
  for (int i = 0; i < 0x10000; ++i) {
    const uint64_t t = hlc_.Now();
    ASSERT_GT(t, prev);
    prev = t;
  }
  EXPECT_EQ(prev, HlcFromParts(kStartMs, 0xFFFF));
  EXPECT_EQ(hlc_.Now(), HlcFromParts(kStartMs + 1, 0));
  // When the wall clock catches up with the carried value, ticks continue from it.
  clock_.Advance(1);
  EXPECT_EQ(hlc_.Now(), HlcFromParts(kStartMs + 1, 1));
}

TEST_F(HlcTest, ConcurrentNowCallsAreUnique) {
  constexpr int kPerThread = 100'000;
  std::vector<uint64_t> a(kPerThread), b(kPerThread);
  auto run = [this](std::vector<uint64_t>* out) {
    for (auto& t : *out) t = hlc_.Now();
  };
  std::thread ta(run, &a);
  std::thread tb(run, &b);
  // The wall clock moves meanwhile, backwards too.
  for (int i = 0; i < 1000; ++i) clock_.Advance(i % 3 == 0 ? -2 : 1);
  ta.join();
  tb.join();
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end(), std::less_equal<uint64_t>()))
      << "one thread saw the clock go backwards";
  EXPECT_TRUE(std::is_sorted(b.begin(), b.end(), std::less_equal<uint64_t>()));
  std::vector<uint64_t> all = a;
  all.insert(all.end(), b.begin(), b.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "duplicate timestamp";
  EXPECT_EQ(hlc_.Last(), all.back());
}

}  // namespace
}  // namespace shoal
