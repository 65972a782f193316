// ShardStore: what eviction remembers (issue 7, items 1 and 2). The evicted-version floor refuses
// an older write to a key whose newer state was evicted or purged; one entry cannot take the
// whole shard; deletes' tombstones outlive expired values' tombstones.

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <utility>

#include "common/clock/clock.h"
#include "node/store/shard_store.h"
#include "node/store/shard_store_test_util.h"

namespace shoal::node {
namespace {

class ShardStoreFloorTest : public ShardStoreTest {
 protected:
  static constexpr uint64_t kLimit = 64 * 1024;
  ShardStoreFloorTest() : ShardStoreTest(kLimit) {}
  static std::string Key(int i) {
    char key[16];
    std::snprintf(key, sizeof(key), "fill%06d", i);
    return key;
  }
  // Writes twice the limit of fresh keys (newer versions than anything in the tests), without
  // reading `key` (a read would refresh it, or entomb it if expired), then checks it is gone.
  void FillUntilEvicted(std::string_view key) {
    const std::string value(500, 'f');
    for (uint64_t i = 0; i < 2 * kLimit / value.size(); ++i, ++fill_) {
      ASSERT_EQ(Set(Key(fill_), value, V(1'000'000 + fill_)).status, ApplyStatus::kApplied);
    }
    ASSERT_FALSE(store_.Get(key).found) << key << " was never evicted";
  }
  int fill_ = 0;
};

// Issue 7, item 1, as reported: put V0, put V1, evict by filling, put V0: the old value came back.
TEST_F(ShardStoreFloorTest, OlderWriteOfAnEvictedKeyIsRefused) {
  ASSERT_EQ(Set("live", "v0", V(100)).status, ApplyStatus::kApplied);
  ASSERT_EQ(Set("live", "v1", V(101)).status, ApplyStatus::kApplied);
  FillUntilEvicted("live");
  ASSERT_GT(Load(store_.stats().evictions), 0u);
  const PutResult late = Set("live", "v0", V(100));
  EXPECT_EQ(late.status, ApplyStatus::kStale);
  EXPECT_EQ(Read("live"), "<absent>");
  // The reply names a pair at least as new as the one evicted, so a writer can re-stamp above it.
  EXPECT_GE(late.current, V(101));
  EXPECT_EQ(late.previous_found, false);
  // A newer write applies.
  EXPECT_EQ(Set("live", "v2", V(2'000'000)).status, ApplyStatus::kApplied);
  EXPECT_EQ(Read("live"), "v2");
}

// Anti-entropy asks a replica for a key it does not hold before offering it: the Get of an absent
// key reports the floor, so a state the replica evicted is never sent back to it.
TEST_F(ShardStoreFloorTest, GetOfAnAbsentKeyReportsItsFloor) {
  const GetResult never = store_.Get("never-written");
  EXPECT_FALSE(never.found);
  EXPECT_TRUE(never.floor_version.IsZero());
  EXPECT_TRUE(never.floor_expiry_version.IsZero());
  PutRequest put;
  put.key = "gone";
  put.value = "v";
  put.version = V(101);
  put.expiry_version = V(105);
  ASSERT_EQ(store_.Put(put).status, ApplyStatus::kApplied);
  FillUntilEvicted("gone");
  const GetResult got = store_.Get("gone");
  EXPECT_FALSE(got.found);
  const std::pair<Version, Version> floor{got.floor_version, got.floor_expiry_version};
  EXPECT_GE(floor, std::make_pair(V(101), V(105)));
  // Exactly what the store refuses: the evicted state again is stale.
  EXPECT_EQ(store_.Put(put).status, ApplyStatus::kStale);
  // A held key reports no floor.
  ASSERT_EQ(Set("held", "v", V(3'000'000)).status, ApplyStatus::kApplied);
  EXPECT_TRUE(store_.Get("held").floor_version.IsZero());
}

TEST_F(ShardStoreFloorTest, OlderWriteOfAnExpiredValueRemovedByEvictionIsRefused) {
  ASSERT_EQ(Set("exp", "v1", V(101), Now() + 10).status, ApplyStatus::kApplied);
  clock_.Advance(10);  // expired, not yet swept: eviction removes it without a tombstone
  FillUntilEvicted("exp");
  EXPECT_EQ(Set("exp", "v0", V(100)).status, ApplyStatus::kStale);
  EXPECT_EQ(Read("exp"), "<absent>");
}

TEST_F(ShardStoreFloorTest, OlderWriteAfterThePurgeOfATombstoneIsRefused) {
  Del("gone", V(101));
  clock_.Advance(kGraceMs);
  store_.ExpireSome(1000);
  ASSERT_EQ(Load(store_.stats().tombstones_purged), 1u);
  EXPECT_EQ(Set("gone", "v0", V(100)).status, ApplyStatus::kStale);
  EXPECT_EQ(Read("gone"), "<absent>");
}

TEST_F(ShardStoreFloorTest, TheFloorComparesWholePairs) {
  PutRequest touched;
  touched.key = "k";
  touched.value = "v";
  touched.version = V(100);
  touched.expiry_version = V(150);
  ASSERT_EQ(store_.Put(touched).status, ApplyStatus::kApplied);
  FillUntilEvicted("k");
  // (V100, V150) was removed: (V100, V100) and (V100, V150) are not greater; (V100, V151) is.
  EXPECT_EQ(Set("k", "v", V(100)).status, ApplyStatus::kStale);
  EXPECT_EQ(store_.Put(touched).status, ApplyStatus::kStale);
  touched.expiry_version = V(151);
  EXPECT_EQ(store_.Put(touched).status, ApplyStatus::kApplied);
  EXPECT_EQ(Load(store_.stats().floor_refusals), 2u);
}

// The price of a bucketed floor, as documented: an older write to another absent key of the same
// bucket is refused too (a miss, never a stale value), while fresh writes apply.
TEST_F(ShardStoreFloorTest, AnOlderWriteToAnotherKeyOfTheBucketIsRefusedFreshWritesApply) {
  ASSERT_EQ(Set("live", "v1", V(500)).status, ApplyStatus::kApplied);
  FillUntilEvicted("live");
  // Every fill key evicted so far raised its bucket; with 256 buckets, some absent key shares
  // "live"'s floor or a newer one. Any key, any bucket: versions older than the fill are refused
  // wherever something newer was removed, fresh ones always apply.
  int refused = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::string key = "other" + std::to_string(i);
    if (Set(key, "old", V(400)).status == ApplyStatus::kStale) ++refused;
    EXPECT_EQ(Set(key + "x", "fresh", V(3'000'000 + i)).status, ApplyStatus::kApplied);
  }
  EXPECT_GT(refused, 0);
}

TEST_F(ShardStoreFloorTest, FloorSizeFollowsTheLimitWithinBounds) {
  EXPECT_EQ(store_.floor_buckets(), 256u);  // 64 KiB: the minimum
  FakeClock clock;
  EXPECT_EQ(ShardStore(clock, 16ull << 20, kGraceMs).floor_buckets(), 4096u);
  EXPECT_EQ(ShardStore(clock, 1ull << 30, kGraceMs).floor_buckets(), 65536u);
  EXPECT_EQ(ShardStore(clock, 1ull << 40, kGraceMs).floor_buckets(), 65536u);
}

// ---- item 2: one entry cannot take the shard; deletes outlive TTL churn ------------------------

class ShardStoreOneMegabyteTest : public ShardStoreTest {
 protected:
  ShardStoreOneMegabyteTest() : ShardStoreTest(1 << 20) {}
};

// As reported (--max-memory 1mb --threads 1): DEL gone, a 1,048,400-byte value, then an older put
// of gone was applied, the value having evicted the tombstone.
TEST_F(ShardStoreOneMegabyteTest, ANearLimitValueIsRefusedAndCannotEvictTheTombstones) {
  ASSERT_EQ(Del("gone", V(10)).status, ApplyStatus::kApplied);
  EXPECT_EQ(Set("huge", std::string(1'048'400, 'h'), V(11)).status, ApplyStatus::kTooLarge);
  // The largest entry accepted (an eighth of the shard) fits beside the tombstone.
  const std::string largest(store_.max_entry_bytes() - Charge("big", ""), 'b');
  EXPECT_EQ(Set("big", largest, V(12)).status, ApplyStatus::kApplied);
  EXPECT_EQ(Set("big", largest + "b", V(13)).status, ApplyStatus::kTooLarge);
  EXPECT_EQ(Read("gone"), "<tombstone>");
  EXPECT_EQ(Set("gone", "old", V(5)).status, ApplyStatus::kStale);
  EXPECT_EQ(Read("gone"), "<tombstone>");
  EXPECT_EQ(Load(store_.stats().tombstones_evicted), 0u);
}

// As reported: under TTL churn, expired values' tombstones competed oldest-first with a real
// delete's and pushed it out within a fraction of its grace period.
TEST_F(ShardStoreOneMegabyteTest, TtlChurnDoesNotEvictADeletesTombstone) {
  ASSERT_EQ(Del("gone", V(10)).status, ApplyStatus::kApplied);
  const std::string value(100, 'v');
  // 30,000 writes with a 30 ms TTL, 1 ms apart (30 s of fake time, half the grace period): each
  // expires and becomes a tombstone kept for the grace, far more than the tombstone budget.
  for (int i = 0; i < 30'000; ++i) {
    ASSERT_EQ(Set("ttl" + std::to_string(i), value, V(100 + i), Now() + 30).status,
              ApplyStatus::kApplied);
    clock_.Advance(1);
    if (i % 10 == 0) store_.ExpireSome(200);
  }
  ASSERT_GT(Load(store_.stats().tombstones_evicted), 1'000u);  // the pressure was there
  EXPECT_EQ(Read("gone"), "<tombstone>");
  EXPECT_EQ(Set("gone", "old", V(5)).status, ApplyStatus::kStale);
}

TEST_F(ShardStoreOneMegabyteTest, DeletesTombstonesGoOldestFirstOnceOverTheirBudget) {
  // A full shard of values, then more deletes than the tombstone budget (a quarter of the limit)
  // holds: the oldest go first (each raising the floor), the newest stay.
  const std::string value(1000, 'v');
  for (int i = 0; i < 1100; ++i) Set("value" + std::to_string(i), value, V(10'000 + i));
  ASSERT_GT(Load(store_.stats().evictions), 0u);
  const uint64_t charge = Charge("del000000", "");
  const int deletes = static_cast<int>((1 << 20) / 4 / charge) + 100;
  for (int i = 0; i < deletes; ++i) {
    char key[16];
    std::snprintf(key, sizeof(key), "del%06d", i);
    ASSERT_EQ(Del(key, V(100'000 + i)).status, ApplyStatus::kApplied);
  }
  EXPECT_GE(Load(store_.stats().tombstones_evicted), 90u);
  EXPECT_EQ(Read("del000000"), "<absent>");
  EXPECT_EQ(Set("del000000", "old", V(99)).status, ApplyStatus::kStale);  // the floor
  char newest[16];
  std::snprintf(newest, sizeof(newest), "del%06d", deletes - 1);
  EXPECT_EQ(Read(newest), "<tombstone>");
}

}  // namespace
}  // namespace shoal::node
