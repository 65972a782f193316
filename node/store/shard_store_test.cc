#include "node/store/shard_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "common/clock/clock.h"
#include "common/clock/hlc.h"
#include "node/store/shard_store_test_util.h"

namespace shoal::node {
namespace {

TEST_F(ShardStoreTest, GetOfMissingKeyFindsNothing) {
  GetResult got = store_.Get("nope");
  EXPECT_FALSE(got.found);
  EXPECT_FALSE(got.tombstone);
  EXPECT_TRUE(got.value.empty());
  EXPECT_EQ(Load(store_.stats().keys), 0u);
}

TEST_F(ShardStoreTest, PutThenGetReturnsValueVersionAndExpiry) {
  PutResult put = Set("k", "hello", V(10, 3), Now() + 5000);
  EXPECT_EQ(put.status, ApplyStatus::kApplied);
  EXPECT_EQ(put.current, V(10, 3));
  EXPECT_FALSE(put.previous_found);
  EXPECT_TRUE(put.previous_version.IsZero());

  GetResult got = store_.Get("k");
  ASSERT_TRUE(got.found);
  EXPECT_FALSE(got.tombstone);
  EXPECT_EQ(got.value, "hello");
  EXPECT_EQ(got.version, V(10, 3));
  EXPECT_EQ(got.expire_at_ms, Now() + 5000);

  EXPECT_EQ(Load(store_.stats().keys), 1u);
  EXPECT_EQ(Load(store_.stats().memory_used), Charge("k", "hello"));
  EXPECT_EQ(Load(store_.stats().max_hlc), 10u);
}

TEST_F(ShardStoreTest, EmptyKeyAndEmptyValueAreOrdinary) {
  EXPECT_EQ(Set("", "", V(1)).status, ApplyStatus::kApplied);
  GetResult got = store_.Get("");
  ASSERT_TRUE(got.found);
  EXPECT_EQ(got.value, "");
  EXPECT_EQ(Load(store_.stats().memory_used), ShardStore::kEntryOverhead);
}

TEST_F(ShardStoreTest, NewerVersionOverwritesOlderOrEqualIsStale) {
  ASSERT_EQ(Set("k", "v5", V(5)).status, ApplyStatus::kApplied);

  PutResult older = Set("k", "v4", V(4));
  EXPECT_EQ(older.status, ApplyStatus::kStale);
  EXPECT_EQ(older.current, V(5));
  EXPECT_TRUE(older.previous_found);
  EXPECT_EQ(older.previous_version, V(5));

  EXPECT_EQ(Set("k", "same", V(5)).status, ApplyStatus::kStale);
  EXPECT_EQ(Read("k"), "v5");
  EXPECT_EQ(Load(store_.stats().stale_writes), 2u);
  // Offered versions count for max_hlc even when refused; applied ones of course.
  EXPECT_EQ(Load(store_.stats().max_hlc), 5u);

  // Same HLC, higher writer id wins; lower loses.
  EXPECT_EQ(Set("k", "w2", V(5, 2)).status, ApplyStatus::kApplied);
  EXPECT_EQ(Set("k", "w0", V(5, 0)).status, ApplyStatus::kStale);
  EXPECT_EQ(Read("k"), "w2");

  PutResult newer = Set("k", "v9", V(9));
  EXPECT_EQ(newer.status, ApplyStatus::kApplied);
  EXPECT_EQ(newer.current, V(9));
  EXPECT_EQ(newer.previous_version, V(5, 2));
  EXPECT_EQ(Read("k"), "v9");
  EXPECT_EQ(Load(store_.stats().keys), 1u);
  EXPECT_EQ(Load(store_.stats().memory_used), Charge("k", "v9"));
}

TEST_F(ShardStoreTest, MaxHlcCountsRefusedVersionsToo) {
  Set("k", "a", V(100));
  Set("k", "b", V(50));
  store_.Touch("other", V(700), 0, false);  // nothing held: offered all the same
  EXPECT_EQ(Load(store_.stats().max_hlc), 700u);
}

// ---- tombstones ---------------------------------------------------------------------------------

TEST_F(ShardStoreTest, DeleteLeavesTombstoneThatRefusesOlderValues) {
  Set("k", "v", V(5));
  PutResult del = Del("k", V(6));
  EXPECT_EQ(del.status, ApplyStatus::kApplied);
  EXPECT_TRUE(del.previous_found);
  EXPECT_EQ(del.previous_version, V(5));

  GetResult got = store_.Get("k");
  EXPECT_TRUE(got.found);
  EXPECT_TRUE(got.tombstone);
  EXPECT_TRUE(got.value.empty());
  EXPECT_EQ(got.version, V(6));
  EXPECT_EQ(Load(store_.stats().tombstones), 1u);
  EXPECT_EQ(Load(store_.stats().keys), 1u);
  EXPECT_EQ(Load(store_.stats().memory_used), Charge("k", ""));

  // A repair bringing back the old value is refused.
  PutResult late = Set("k", "v", V(5));
  EXPECT_EQ(late.status, ApplyStatus::kStale);
  EXPECT_FALSE(late.previous_found);  // a tombstone is not a live value
  EXPECT_EQ(late.previous_version, V(6));
  EXPECT_EQ(late.current, V(6));
  EXPECT_EQ(Read("k"), "<tombstone>");

  // A newer value replaces the tombstone.
  EXPECT_EQ(Set("k", "again", V(7)).status, ApplyStatus::kApplied);
  EXPECT_EQ(Read("k"), "again");
  EXPECT_EQ(Load(store_.stats().tombstones), 0u);
}

TEST_F(ShardStoreTest, DeleteOfAbsentKeyStillRecordsTombstone) {
  EXPECT_EQ(Del("k", V(3)).status, ApplyStatus::kApplied);
  EXPECT_EQ(Set("k", "old", V(2)).status, ApplyStatus::kStale);
  EXPECT_EQ(Read("k"), "<tombstone>");
}

TEST_F(ShardStoreTest, TombstonesArePurgedByExpireSomeAfterGrace) {
  Del("a", V(3));
  clock_.Advance(1000);
  Del("b", V(3));
  Set("live", "x", V(1));

  clock_.Advance(kGraceMs - 1001);
  EXPECT_EQ(store_.ExpireSome(1000), 0u);
  EXPECT_EQ(Load(store_.stats().tombstones), 2u);

  clock_.Advance(1);  // "a" is now exactly grace old
  EXPECT_EQ(store_.ExpireSome(1000), 1u);
  EXPECT_EQ(Load(store_.stats().tombstones), 1u);
  EXPECT_EQ(store_.Get("a").found, false);
  EXPECT_EQ(Read("b"), "<tombstone>");

  clock_.Advance(1000);
  EXPECT_EQ(store_.ExpireSome(1000), 1u);
  EXPECT_EQ(Load(store_.stats().tombstones), 0u);
  EXPECT_EQ(Load(store_.stats().tombstones_purged), 2u);
  EXPECT_EQ(Load(store_.stats().keys), 1u);
  EXPECT_EQ(Load(store_.stats().memory_used), Charge("live", "x"));
  EXPECT_EQ(Read("live"), "x");

  // After the grace period the tombstone is gone, but its pair lives on in the evicted-version
  // floor: an older value is still refused, a newer one applies.
  EXPECT_EQ(Set("a", "old", V(2)).status, ApplyStatus::kStale);
  EXPECT_EQ(Set("a", "new", V(4)).status, ApplyStatus::kApplied);
}

TEST_F(ShardStoreTest, TombstonePastGraceIsPurgedLazilyOnAccess) {
  Del("k", V(3));
  clock_.Advance(kGraceMs);
  EXPECT_FALSE(store_.Get("k").found);
  EXPECT_EQ(Load(store_.stats().tombstones_purged), 1u);
  EXPECT_EQ(Load(store_.stats().keys), 0u);
  EXPECT_EQ(Load(store_.stats().memory_used), 0u);
}

TEST_F(ShardStoreTest, RewrittenTombstoneRestartsItsGrace) {
  Del("k", V(3));
  clock_.Advance(kGraceMs / 2);
  Del("k", V(4));
  clock_.Advance(kGraceMs / 2);
  EXPECT_EQ(store_.ExpireSome(100), 0u);
  EXPECT_EQ(Read("k"), "<tombstone>");
  clock_.Advance(kGraceMs / 2);
  EXPECT_EQ(store_.ExpireSome(100), 1u);
}

TEST(ShardStoreGraceTest, GraceTooLongForTheClockKeepsTombstonesInsteadOfOverflowing) {
  FakeClock clock;
  ShardStore store(clock, kBigLimit, std::numeric_limits<int64_t>::max());
  PutRequest del;
  del.key = "k";
  del.version = V(3);
  del.tombstone = true;
  ASSERT_EQ(store.Put(del).status, ApplyStatus::kApplied);
  clock.Advance(365ll * 24 * 3600 * 1000);
  EXPECT_EQ(store.ExpireSome(100), 0u);
  GetResult got = store.Get("k");
  EXPECT_TRUE(got.found);
  EXPECT_TRUE(got.tombstone);
  PutRequest old;
  old.key = "k";
  old.value = "old";
  old.version = V(2);
  EXPECT_EQ(store.Put(old).status, ApplyStatus::kStale);
  EXPECT_EQ(Load(store.stats().tombstones_purged), 0u);
}

// ---- TTL --------------------------------------------------------------------------------------

// An expired value reads as absent but leaves a tombstone of its version (lazily, on access), so
// that an older value cannot come back; the tombstone is purged after the grace period.
TEST_F(ShardStoreTest, ExpiredValueBecomesATombstoneOfItsVersion) {
  Set("k", "v", V(1), Now() + 1000);
  clock_.Advance(999);
  EXPECT_EQ(Read("k"), "v");
  clock_.Advance(1);
  GetResult got = store_.Get("k");
  EXPECT_TRUE(got.found);
  EXPECT_TRUE(got.tombstone);
  EXPECT_EQ(got.version, V(1));
  EXPECT_EQ(Load(store_.stats().expirations), 1u);
  EXPECT_EQ(Load(store_.stats().keys), 1u);
  EXPECT_EQ(Load(store_.stats().tombstones), 1u);
  EXPECT_EQ(Load(store_.stats().memory_used), Charge("k", ""));

  // An older write (a stale replica's value brought by a repair or a hint) stays refused.
  EXPECT_EQ(Set("k", "overwritten", V(0, 9)).status, ApplyStatus::kStale);

  clock_.Advance(kGraceMs);
  store_.ExpireSome(100);
  EXPECT_FALSE(store_.Get("k").found);
  EXPECT_EQ(Load(store_.stats().keys), 0u);
  EXPECT_EQ(Load(store_.stats().memory_used), 0u);
}

TEST_F(ShardStoreTest, ExpiredEntryIsAbsentForConditionsAndVersions) {
  Set("k", "v", V(10), Now() + 100);
  clock_.Advance(100);

  PutRequest xx;
  xx.key = "k";
  xx.value = "xx";
  xx.version = V(11);
  xx.condition = PutCondition::kIfPresent;
  PutResult failed = store_.Put(xx);
  EXPECT_EQ(failed.status, ApplyStatus::kConditionFailed);
  EXPECT_FALSE(failed.previous_found);
  EXPECT_EQ(Read("k"), "<tombstone>") << "the expired value left a tombstone of its version";
  EXPECT_EQ(Load(store_.stats().keys), 1u);

  Set("k", "v", V(12), Now() + 100);
  clock_.Advance(100);
  // Older than the expired value's version: refused, as over a tombstone of that version.
  PutResult older = Set("k", "older", V(5));
  EXPECT_EQ(older.status, ApplyStatus::kStale);
  EXPECT_FALSE(older.previous_found);
  EXPECT_EQ(older.previous_version, V(12)) << "the expired value's version still counts";
  EXPECT_EQ(Read("k"), "<tombstone>");
  EXPECT_EQ(Load(store_.stats().expirations), 2u);
  EXPECT_EQ(Load(store_.stats().keys), 1u);

  Set("k", "v", V(20), Now() + 100);
  clock_.Advance(100);
  PutRequest nx;
  nx.key = "k";
  nx.value = "nx";
  nx.version = V(21);
  nx.condition = PutCondition::kIfAbsent;
  EXPECT_EQ(store_.Put(nx).status, ApplyStatus::kApplied);
  EXPECT_EQ(Read("k"), "nx");
  EXPECT_EQ(Load(store_.stats().memory_used), Charge("k", "nx"));
}

TEST_F(ShardStoreTest, PutAlreadyExpiredOnArrivalLeavesATombstoneOfItsVersion) {
  Set("k", "v", V(1));
  PutResult put = Set("k", "dead", V(2), Now() - 1);
  EXPECT_EQ(put.status, ApplyStatus::kApplied);
  EXPECT_EQ(put.current, V(2));
  GetResult got = store_.Get("k");
  EXPECT_TRUE(got.found);
  EXPECT_TRUE(got.tombstone);
  EXPECT_EQ(got.version, V(2));
  EXPECT_EQ(Load(store_.stats().keys), 1u);
  EXPECT_EQ(Load(store_.stats().memory_used), Charge("k", ""));
  EXPECT_EQ(Set("k", "v", V(1, 7)).status, ApplyStatus::kStale);

  // A held tombstone is kept (it still protects against older values).
  Del("t", V(5));
  EXPECT_EQ(Set("t", "dead", V(6), Now()).status, ApplyStatus::kApplied);
  EXPECT_EQ(Read("t"), "<tombstone>");
}

TEST_F(ShardStoreTest, ExpireSomeRemovesExpiredEntriesWithinBudgetAndCoversEverything) {
  constexpr int kKeys = 4000;
  for (int i = 0; i < kKeys; ++i) {
    // Even keys expire in 1 s, odd keys never.
    Set("key" + std::to_string(i), "value", V(1), i % 2 == 0 ? Now() + 1000 : 0);
  }
  EXPECT_EQ(store_.ExpireSome(1000), 0u);
  clock_.Advance(1000);

  constexpr size_t kBudget = 64;
  size_t removed = 0;
  int calls = 0;
  while (removed < kKeys / 2) {
    const size_t now_removed = store_.ExpireSome(kBudget);
    // Work per call is bounded: never more removals than entries examined (a bucket chain that
    // is started is finished, so allow a few over).
    EXPECT_LE(now_removed, kBudget + 8);
    removed += now_removed;
    ASSERT_LT(++calls, 10 * kKeys / static_cast<int>(kBudget)) << "the sweep does not progress";
  }
  EXPECT_GT(calls, 10) << "one call must not sweep the whole table";
  EXPECT_EQ(removed, size_t{kKeys / 2});
  EXPECT_EQ(Load(store_.stats().expirations), uint64_t{kKeys / 2});
  // Expired values stay as tombstones of their versions until the grace period passes.
  EXPECT_EQ(Load(store_.stats().keys), uint64_t{kKeys});
  EXPECT_EQ(Load(store_.stats().tombstones), uint64_t{kKeys / 2});
  uint64_t charged = 0;
  for (int i = 0; i < kKeys; ++i) {
    const std::string key = "key" + std::to_string(i);
    ASSERT_EQ(Read(key), i % 2 == 0 ? "<tombstone>" : "value");
    charged += Charge(key, i % 2 == 0 ? "" : "value");
  }
  EXPECT_EQ(Load(store_.stats().memory_used), charged);
}

TEST_F(ShardStoreTest, ExpireSomeCoversEntriesAddedWhileTheTableGrows) {
  // Keys written between sweeps (the table doubles several times) are still all reached.
  size_t removed = 0;
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 200; ++i) {
      Set("r" + std::to_string(round) + "k" + std::to_string(i), "v", V(1), Now() + 10);
    }
    clock_.Advance(10);
    removed += store_.ExpireSome(50);
  }
  for (int i = 0; i < 1000 && Load(store_.stats().tombstones) < 50u * 200u; ++i) {
    removed += store_.ExpireSome(50);
  }
  EXPECT_EQ(removed, 50u * 200u);
  EXPECT_EQ(Load(store_.stats().expirations), 50u * 200u);
  EXPECT_EQ(Load(store_.stats().tombstones), 50u * 200u);
  // Past the grace period the tombstones go too.
  clock_.Advance(kGraceMs);
  for (int i = 0; i < 1000 && Load(store_.stats().keys) > 0; ++i) store_.ExpireSome(50);
  EXPECT_EQ(Load(store_.stats().keys), 0u);
  EXPECT_EQ(Load(store_.stats().memory_used), 0u);
}

// ---- conditions, KEEPTTL, previous values -------------------------------------------------------

TEST_F(ShardStoreTest, IfAbsentAppliesOnlyWithoutLiveValue) {
  PutRequest nx;
  nx.key = "k";
  nx.value = "first";
  nx.version = V(1);
  nx.condition = PutCondition::kIfAbsent;
  EXPECT_EQ(store_.Put(nx).status, ApplyStatus::kApplied);

  nx.value = "second";
  nx.version = V(2);
  PutResult failed = store_.Put(nx);
  EXPECT_EQ(failed.status, ApplyStatus::kConditionFailed);
  EXPECT_TRUE(failed.previous_found);
  EXPECT_EQ(failed.current, V(1));
  EXPECT_EQ(Read("k"), "first");
  EXPECT_EQ(Load(store_.stats().stale_writes), 0u);

  Del("k", V(3));
  nx.version = V(4);
  EXPECT_EQ(store_.Put(nx).status, ApplyStatus::kApplied) << "a tombstone is absent";
  EXPECT_EQ(Read("k"), "second");
}

TEST_F(ShardStoreTest, IfPresentAppliesOnlyOverLiveValue) {
  PutRequest xx;
  xx.key = "k";
  xx.value = "x";
  xx.version = V(1);
  xx.condition = PutCondition::kIfPresent;
  EXPECT_EQ(store_.Put(xx).status, ApplyStatus::kConditionFailed);
  EXPECT_EQ(Load(store_.stats().keys), 0u);

  Del("k", V(2));
  xx.version = V(3);
  EXPECT_EQ(store_.Put(xx).status, ApplyStatus::kConditionFailed);
  EXPECT_EQ(Read("k"), "<tombstone>");

  Set("k", "v", V(4));
  xx.version = V(5);
  EXPECT_EQ(store_.Put(xx).status, ApplyStatus::kApplied);
  EXPECT_EQ(Read("k"), "x");
}

TEST_F(ShardStoreTest, StaleIsReportedBeforeConditions) {
  Set("k", "v", V(5));
  PutRequest nx;
  nx.key = "k";
  nx.value = "nx";
  nx.version = V(4);
  nx.condition = PutCondition::kIfAbsent;
  EXPECT_EQ(store_.Put(nx).status, ApplyStatus::kStale);
}

TEST_F(ShardStoreTest, KeepTtlKeepsLiveExpiryOnly) {
  const int64_t expiry = Now() + 5000;
  Set("k", "v1", V(1), expiry);
  PutRequest keep;
  keep.key = "k";
  keep.value = "v2";
  keep.version = V(2);
  keep.expire_at_ms = 0;
  keep.keep_ttl = true;
  PutResult put = store_.Put(keep);
  EXPECT_EQ(put.status, ApplyStatus::kApplied);
  EXPECT_EQ(put.previous_expire_at_ms, expiry);
  EXPECT_EQ(store_.Get("k").expire_at_ms, expiry);
  EXPECT_EQ(Read("k"), "v2");

  // Without a live value there is nothing to keep: the request's expiry applies.
  clock_.Advance(5000);
  keep.version = V(3);
  keep.expire_at_ms = Now() + 777;
  EXPECT_EQ(store_.Put(keep).status, ApplyStatus::kApplied);
  EXPECT_EQ(store_.Get("k").expire_at_ms, Now() + 777);

  // Without keep_ttl a put replaces the expiry (here: persists).
  EXPECT_EQ(Set("k", "v4", V(4)).previous_expire_at_ms, Now() + 777);
  EXPECT_EQ(store_.Get("k").expire_at_ms, 0);
}

TEST_F(ShardStoreTest, WantPreviousCopiesPreviousLiveValue) {
  PutRequest request;
  request.key = "k";
  request.value = "one";
  request.version = V(1);
  request.want_previous = true;
  PutResult first = store_.Put(request);
  EXPECT_FALSE(first.previous_found);
  EXPECT_TRUE(first.previous_value.empty());

  request.value = "two";
  request.version = V(2);
  request.expire_at_ms = Now() + 100;
  PutResult second = store_.Put(request);
  EXPECT_TRUE(second.previous_found);
  EXPECT_EQ(second.previous_value, "one");
  EXPECT_EQ(second.previous_version, V(1));
  EXPECT_EQ(second.previous_expire_at_ms, 0);

  // Reported on a refused write too (SET NX GET answers the current value).
  request.value = "three";
  request.version = V(3);
  request.condition = PutCondition::kIfAbsent;
  PutResult refused = store_.Put(request);
  EXPECT_EQ(refused.status, ApplyStatus::kConditionFailed);
  EXPECT_EQ(refused.previous_value, "two");
  EXPECT_EQ(refused.previous_expire_at_ms, Now() + 100);

  // Not copied unless asked.
  EXPECT_TRUE(Set("k", "four", V(4)).previous_value.empty());

  // A tombstone or an expired value is no previous value.
  Del("k", V(5));
  request.condition = PutCondition::kAlways;
  request.version = V(6);
  PutResult after_delete = store_.Put(request);
  EXPECT_FALSE(after_delete.previous_found);
  EXPECT_TRUE(after_delete.previous_value.empty());
  EXPECT_EQ(after_delete.previous_version, V(5));
  clock_.Advance(100);
  request.version = V(7);
  EXPECT_FALSE(store_.Put(request).previous_found);
}

TEST_F(ShardStoreTest, PutMayCopyFromValuesHandedOutByTheStore) {
  std::string big(300, 'b');
  Set("a", big, V(1));
  // Overwrite a key with its own value, grown and shrunk: the source is the block being replaced.
  GetResult got = store_.Get("a");
  PutRequest request;
  request.key = got.value.substr(0, 1);  // "b"
  request.value = got.value;
  request.version = V(2);
  EXPECT_EQ(store_.Put(request).status, ApplyStatus::kApplied);
  got = store_.Get("b");
  request.key = "a";
  request.value = got.value.substr(0, 10);
  request.version = V(3);
  EXPECT_EQ(store_.Put(request).status, ApplyStatus::kApplied);
  EXPECT_EQ(Read("a"), std::string(10, 'b'));
  got = store_.Get("a");
  request.value = got.value.substr(5);
  request.version = V(4);
  EXPECT_EQ(store_.Put(request).status, ApplyStatus::kApplied);
  EXPECT_EQ(Read("a"), std::string(5, 'b'));
}

TEST_F(ShardStoreTest, PutMayCopyFromTheExpiredEntryItReplaces) {
  // (Under ASan this catches freeing the dead entry before its bytes are copied.)
  const std::string value(500, 'e');
  Set("k", value, V(1), Now() + 10);
  GetResult got = store_.Get("k");
  clock_.Advance(10);
  PutRequest request;
  request.key = "k";
  request.value = got.value;
  request.version = V(2);
  EXPECT_EQ(store_.Put(request).status, ApplyStatus::kApplied);
  EXPECT_EQ(Read("k"), value);
  EXPECT_EQ(Load(store_.stats().expirations), 1u);
}

// ---- Touch --------------------------------------------------------------------------------------

TEST_F(ShardStoreTest, TouchSetsExpiryAndExpiryVersionOfLiveValueNotItsVersion) {
  Set("k", "v", V(1), Now() + 1000);
  TouchResult touch = store_.Touch("k", V(2), Now() + 9000, /*want_value=*/true);
  EXPECT_TRUE(touch.found);
  EXPECT_FALSE(touch.tombstone);
  EXPECT_TRUE(touch.applied);
  EXPECT_EQ(touch.value, "v");
  EXPECT_EQ(touch.version, V(1));
  EXPECT_EQ(touch.previous_expiry_version, V(1));
  EXPECT_EQ(touch.previous_expire_at_ms, Now() + 1000);

  GetResult got = store_.Get("k");
  EXPECT_EQ(got.version, V(1));
  EXPECT_EQ(got.expiry_version, V(2));
  EXPECT_EQ(got.expire_at_ms, Now() + 9000);
  EXPECT_EQ(got.value, "v");

  // The pair (V1, V2) now guards the entry: a put of the same value version with an older expiry
  // loses, one with a newer expiry version wins whole, and any newer value version wins.
  EXPECT_EQ(Set("k", "older", V(1, 0)).status, ApplyStatus::kStale);
  PutRequest same;
  same.key = "k";
  same.value = "v";
  same.version = V(1);
  same.expiry_version = V(2);
  EXPECT_EQ(store_.Put(same).status, ApplyStatus::kStale);  // equal pair

  // Persist, with a newer expiry version.
  touch = store_.Touch("k", V(3), 0, /*want_value=*/false);
  EXPECT_TRUE(touch.applied);
  EXPECT_TRUE(touch.value.empty());
  EXPECT_EQ(touch.previous_expire_at_ms, Now() + 9000);
  EXPECT_EQ(touch.previous_expiry_version, V(2));
  clock_.Advance(100'000);
  EXPECT_EQ(Read("k"), "v");
  EXPECT_EQ(store_.Get("k").expiry_version, V(3));
}

TEST_F(ShardStoreTest, StaleTouchChangesNothing) {
  Set("k", "v", V(5), Now() + 1000);
  TouchResult touch = store_.Touch("k", V(4), 0, true);
  EXPECT_TRUE(touch.found);
  EXPECT_FALSE(touch.applied);
  EXPECT_EQ(touch.value, "v");
  EXPECT_EQ(touch.version, V(5));
  EXPECT_EQ(store_.Get("k").expire_at_ms, Now() + 1000);
  EXPECT_EQ(store_.Touch("k", V(5), 0, false).applied, false);
  EXPECT_EQ(Load(store_.stats().stale_writes), 2u);
}

TEST_F(ShardStoreTest, TouchNeverCreatesOrRevives) {
  TouchResult absent = store_.Touch("k", V(1), Now() + 100, true);
  EXPECT_FALSE(absent.found);
  EXPECT_FALSE(absent.applied);
  EXPECT_EQ(Load(store_.stats().keys), 0u);

  Del("k", V(2));
  TouchResult on_tombstone = store_.Touch("k", V(3), 0, true);
  EXPECT_FALSE(on_tombstone.found);
  EXPECT_TRUE(on_tombstone.tombstone);
  EXPECT_FALSE(on_tombstone.applied);
  EXPECT_EQ(on_tombstone.version, V(2));
  EXPECT_EQ(on_tombstone.previous_expiry_version, V(2));
  EXPECT_EQ(Read("k"), "<tombstone>");
  EXPECT_EQ(store_.Get("k").expiry_version, V(2));  // the tombstone's pair is untouched

  Set("e", "v", V(1), Now() + 10);
  clock_.Advance(10);
  TouchResult on_expired = store_.Touch("e", V(2), 0, false);
  EXPECT_FALSE(on_expired.found);
  EXPECT_TRUE(on_expired.tombstone);
  EXPECT_FALSE(on_expired.applied);
  EXPECT_EQ(Read("e"), "<tombstone>");  // expired: a tombstone of its pair, not revived
  EXPECT_EQ(store_.Get("e").expiry_version, V(1));
}

TEST_F(ShardStoreTest, TouchIntoThePastKillsTheValue) {
  Set("k", "v", V(1));
  TouchResult touch = store_.Touch("k", V(2), Now(), true);
  EXPECT_TRUE(touch.applied);
  EXPECT_EQ(touch.value, "v");
  GetResult got = store_.Get("k");
  EXPECT_TRUE(got.tombstone);
  EXPECT_EQ(got.version, V(1));  // a tombstone of the touched pair
  EXPECT_EQ(got.expiry_version, V(2));
}

// ---- iteration ----------------------------------------------------------------------------------

TEST_F(ShardStoreTest, ScanVisitsEveryEntryOnceWhileTheTableGrows) {
  std::set<std::string> expected;
  for (int i = 0; i < 100; ++i) {
    Set("k" + std::to_string(i), "v", V(1));
    expected.insert("k" + std::to_string(i));
  }
  Del("gone", V(1));
  expected.insert("gone");
  Set("expired", "v", V(1), Now() + 1);
  expected.insert("expired");  // as a tombstone of its pair
  clock_.Advance(1);

  std::multiset<std::string> seen;
  uint64_t cursor = 0;
  int calls = 0;
  int added = 0;
  do {
    cursor = store_.Scan(cursor, 10, [&](const EntryView& e) {
      seen.insert(std::string(e.key));
      EXPECT_EQ(e.tombstone, e.key == "gone" || e.key == "expired");
      if (!e.tombstone) {
        EXPECT_EQ(e.value, "v");
      }
    });
    // Grow the table in the middle of the traversal.
    for (int i = 0; i < 300 && calls == 3; ++i, ++added) Set("new" + std::to_string(i), "v", V(1));
    ++calls;
  } while (cursor != 0);
  EXPECT_GT(calls, 3);
  for (const std::string& key : expected) EXPECT_EQ(seen.count(key), 1u) << key;
  EXPECT_EQ(seen.size() - expected.size(),
            static_cast<size_t>(std::count_if(seen.begin(), seen.end(), [](const std::string& k) {
              return k.starts_with("new");
            })));
}

}  // namespace
// EXPIRE NX | XX | GT | LT (no expiry counts as infinite, as in Redis).
TEST_F(ShardStoreTest, TouchConditionsJudgeTheHeldExpiry) {
  using C = TouchCondition;
  Set("none", "v", V(1), 0);
  Set("ttl", "v", V(1), Now() + 5000);
  struct Case {
    const char* key;
    C condition;
    int64_t new_expiry;
    bool applies;
  };
  const Case cases[] = {
      {"none", C::kIfNoExpiry, Now() + 100, true},
      {"ttl", C::kIfNoExpiry, Now() + 100, false},
      {"none", C::kIfHasExpiry, Now() + 100, false},
      {"ttl", C::kIfHasExpiry, Now() + 100, true},
      {"none", C::kIfGreater, Now() + 100, false},
      {"ttl", C::kIfGreater, Now() + 9000, true},
      {"ttl", C::kIfGreater, Now() + 100, false},
      {"none", C::kIfLess, Now() + 100, true},
      {"ttl", C::kIfLess, Now() + 100, true},
      {"ttl", C::kIfLess, Now() + 9000, false},
      {"none", C::kIfHasExpiryAndLess, Now() + 100, false},
      {"ttl", C::kIfHasExpiryAndLess, Now() + 100, true},
  };
  uint64_t hlc = 10;
  for (const Case& c : cases) {
    // Reset both keys to their starting expiry with a newer plain put.
    Set("none", "v", V(hlc++), 0);
    Set("ttl", "v", V(hlc++), Now() + 5000);
    const int64_t before = store_.Get(c.key).expire_at_ms;
    const TouchResult r = store_.Touch(c.key, V(hlc++), c.new_expiry, false, c.condition);
    SCOPED_TRACE(std::string(c.key) + " condition " +
                 std::to_string(static_cast<int>(c.condition)));
    EXPECT_TRUE(r.found);
    EXPECT_EQ(r.applied, c.applies);
    EXPECT_EQ(r.condition_failed, !c.applies);
    EXPECT_EQ(store_.Get(c.key).expire_at_ms, c.applies ? c.new_expiry : before);
  }
  // A missing key is neither found nor a failed condition.
  const TouchResult missing = store_.Touch("nope", V(hlc++), Now() + 100, false, C::kIfLess);
  EXPECT_FALSE(missing.found);
  EXPECT_FALSE(missing.condition_failed);
}

}  // namespace shoal::node
