// ShardStore: the flush marker (FLUSHALL, docs/replication.md "Flush"). Entries older than the
// marker are removed; afterwards nothing older than it is accepted, and every key not held reads
// as a tombstone of the marker, so a replica that missed the flush loses to one that had it.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "node/store/shard_store.h"
#include "node/store/shard_store_test_util.h"
#include "node/store/store_observer.h"

namespace shoal::node {
namespace {

class FlushTest : public ShardStoreTest {};

TEST_F(FlushTest, RemovesEveryEntryOlderThanTheMarkerAndKeepsNewerOnes) {
  ASSERT_EQ(Set("a", "1", V(100)).status, ApplyStatus::kApplied);
  ASSERT_EQ(Set("b", "2", V(101), Now() + 60'000).status, ApplyStatus::kApplied);
  ASSERT_EQ(Del("c", V(102)).status, ApplyStatus::kApplied);
  ASSERT_EQ(Set("d", "4", V(300)).status, ApplyStatus::kApplied);  // newer than the marker
  const FlushResult flushed = store_.Flush(V(200, 7));
  EXPECT_TRUE(flushed.raised);
  EXPECT_EQ(flushed.removed, 3u);
  EXPECT_EQ(Load(store_.stats().keys), 1u);
  EXPECT_EQ(Load(store_.stats().tombstones), 0u);
  EXPECT_EQ(Load(store_.stats().flushed), 3u);
  EXPECT_EQ(Load(store_.stats().memory_used), Charge("d", "4"));
  EXPECT_EQ(Read("d"), "4");
  EXPECT_EQ(store_.flush_marker(), V(200, 7));
}

TEST_F(FlushTest, KeysNotHeldReadAsTombstonesOfTheMarker) {
  ASSERT_EQ(Set("a", "1", V(100)).status, ApplyStatus::kApplied);
  store_.Flush(V(200, 7));
  for (const char* key : {"a", "never-written"}) {
    const GetResult got = store_.Get(key);
    EXPECT_TRUE(got.found) << key;
    EXPECT_TRUE(got.tombstone) << key;
    EXPECT_EQ(got.version, V(200, 7)) << key;
    EXPECT_EQ(got.expiry_version, V(200, 7)) << key;
    const TouchResult touched = store_.Touch(key, V(400), 0, false);
    EXPECT_FALSE(touched.found) << key;
    EXPECT_FALSE(touched.applied) << key;
    EXPECT_TRUE(touched.tombstone) << key;
    EXPECT_EQ(touched.version, V(200, 7)) << key;
    EXPECT_EQ(touched.previous_expiry_version, V(200, 7)) << key;
  }
  // Nothing was created by reading.
  EXPECT_EQ(Load(store_.stats().keys), 0u);
}

// What a hint, a repair, an anti-entropy push or a late client write older than the flush does:
// refused as stale, and the reply names the marker so that a writer re-stamps above it.
TEST_F(FlushTest, WritesAtOrBelowTheMarkerAreRefusedAndNewerOnesApply) {
  store_.Flush(V(200, 7));
  for (Version old : {V(100), V(200, 7), V(200, 6)}) {
    const PutResult late = Set("a", "old", old);
    EXPECT_EQ(late.status, ApplyStatus::kStale);
    EXPECT_EQ(late.current, V(200, 7));
    EXPECT_EQ(late.current_expiry_version, V(200, 7));
    EXPECT_EQ(Del("a", old).status, ApplyStatus::kStale);
  }
  // A whole-state write whose expiry version is newer than the marker, but whose value version is
  // older, is older than the marker (pairs compare lexicographically).
  PutRequest touched;
  touched.key = "a";
  touched.value = "old";
  touched.version = V(100);
  touched.expiry_version = V(300);
  EXPECT_EQ(store_.Put(touched).status, ApplyStatus::kStale);
  EXPECT_EQ(Read("a"), "<tombstone>");
  EXPECT_EQ(Set("a", "new", V(200, 8)).status, ApplyStatus::kApplied);
  EXPECT_EQ(Read("a"), "new");
}

TEST_F(FlushTest, AnOlderOrEqualMarkerChangesNothing) {
  store_.Flush(V(200, 7));
  ASSERT_EQ(Set("a", "1", V(250)).status, ApplyStatus::kApplied);
  for (Version older : {V(200, 7), V(150)}) {
    const FlushResult again = store_.Flush(older);
    EXPECT_FALSE(again.raised);
    EXPECT_EQ(again.removed, 0u);
  }
  EXPECT_EQ(Read("a"), "1");
  EXPECT_EQ(store_.flush_marker(), V(200, 7));
  // A newer one removes what is older than it.
  EXPECT_EQ(store_.Flush(V(260)).removed, 1u);
  EXPECT_EQ(Read("a"), "<tombstone>");
}

// Anti-entropy digests follow every removal.
class RecordingObserver : public StoreObserver {
 public:
  void OnChange(uint64_t, std::string_view key, const KeyState& before, const KeyState& after,
                ChangeCause cause) override {
    if (cause == ChangeCause::kFlush && before.present && !after.present) {
      removed.emplace_back(key);
    }
  }
  std::vector<std::string> removed;
};

TEST_F(FlushTest, ReportsEachRemovalToTheObserver) {
  RecordingObserver observer;
  store_.SetObserver(&observer);
  ASSERT_EQ(Set("a", "1", V(100)).status, ApplyStatus::kApplied);
  ASSERT_EQ(Del("b", V(101)).status, ApplyStatus::kApplied);
  ASSERT_EQ(Set("c", "3", V(300)).status, ApplyStatus::kApplied);
  store_.Flush(V(200));
  std::sort(observer.removed.begin(), observer.removed.end());
  EXPECT_EQ(observer.removed, (std::vector<std::string>{"a", "b"}));
  store_.SetObserver(nullptr);
}

// An expired value older than the marker goes too (it is a tombstone of its pair).
TEST_F(FlushTest, ExpiredValuesOlderThanTheMarkerAreRemoved) {
  ASSERT_EQ(Set("a", "1", V(100), Now() + 1000).status, ApplyStatus::kApplied);
  clock_.Advance(2000);
  EXPECT_EQ(store_.Flush(V(200)).removed, 1u);
  EXPECT_EQ(Load(store_.stats().keys), 0u);
}

}  // namespace
}  // namespace shoal::node

namespace shoal::node {
namespace {

// Put.if_version_at_most (optimistic read-modify-write): refused when a newer value version is
// held than the one the writer read.
TEST_F(FlushTest, IfVersionAtMostRefusesWhenANewerVersionIsHeld) {
  auto put = [&](std::string_view value, Version v, Version at_most) {
    PutRequest r;
    r.key = "k";
    r.value = value;
    r.version = v;
    r.has_if_version_at_most = true;
    r.if_version_at_most = at_most;
    return store_.Put(r).status;
  };
  EXPECT_EQ(put("a", V(100), Version{}), ApplyStatus::kApplied);       // nothing held: zero
  EXPECT_EQ(put("b", V(110), V(100)), ApplyStatus::kApplied);          // read 100, holds 100
  EXPECT_EQ(put("c", V(120), V(100)), ApplyStatus::kConditionFailed);  // holds 110 > 100
  EXPECT_EQ(Read("k"), "b");
  ASSERT_EQ(Del("k", V(130)).status, ApplyStatus::kApplied);
  EXPECT_EQ(put("d", V(140), V(120)), ApplyStatus::kConditionFailed);  // tombstone 130 > 120
  EXPECT_EQ(put("e", V(150), V(130)), ApplyStatus::kApplied);
  EXPECT_EQ(Read("k"), "e");
}

}  // namespace
}  // namespace shoal::node
