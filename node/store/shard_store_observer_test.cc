// ShardStore: the StoreObserver hook (one call per state change, on every path) and ScanRange.

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/clock/clock.h"
#include "common/hash/key_hash.h"
#include "node/store/shard_store.h"
#include "node/store/shard_store_test_util.h"
#include "node/store/store_observer.h"

namespace shoal::node {
namespace {

struct Change {
  uint64_t key_hash;
  std::string key;
  KeyState before;
  KeyState after;
  ChangeCause cause;
};

class RecordingObserver : public StoreObserver {
 public:
  void OnChange(uint64_t key_hash, std::string_view key, const KeyState& before,
                const KeyState& after, ChangeCause cause) override {
    changes.push_back({key_hash, std::string(key), before, after, cause});
  }
  int Count(ChangeCause cause) const {
    int n = 0;
    for (const Change& c : changes) n += c.cause == cause ? 1 : 0;
    return n;
  }
  std::vector<Change> changes;
};

class ShardStoreObserverTest : public ShardStoreTest {
 protected:
  ShardStoreObserverTest() : ShardStoreTest(64 * 1024) { store_.SetObserver(&observer_); }
  ~ShardStoreObserverTest() override { store_.SetObserver(nullptr); }
  RecordingObserver observer_;
};

TEST_F(ShardStoreObserverTest, PutAndTouchReportTheStateBeforeAndAfter) {
  Set("k", "v", V(1));
  ASSERT_EQ(observer_.changes.size(), 1u);
  const Change& put = observer_.changes[0];
  EXPECT_EQ(put.cause, ChangeCause::kPut);
  EXPECT_EQ(put.key, "k");
  EXPECT_EQ(put.key_hash, KeyHash("k"));
  EXPECT_FALSE(put.before.present);
  EXPECT_TRUE(put.after.present);
  EXPECT_FALSE(put.after.tombstone);
  EXPECT_EQ(put.after.version, V(1));
  EXPECT_EQ(put.after.expiry_version, V(1));

  EXPECT_TRUE(store_.Touch("k", V(2), Now() + 1000, false).applied);
  ASSERT_EQ(observer_.changes.size(), 2u);
  const Change& touch = observer_.changes[1];
  EXPECT_EQ(touch.cause, ChangeCause::kTouch);
  EXPECT_EQ(touch.before.expiry_version, V(1));
  EXPECT_EQ(touch.after.version, V(1));
  EXPECT_EQ(touch.after.expiry_version, V(2));

  // Refused writes and touches change nothing and report nothing.
  Set("k", "old", V(0, 5));
  store_.Touch("k", V(2), 0, false);
  store_.Touch("absent", V(9), 0, false);
  EXPECT_EQ(observer_.changes.size(), 2u);

  Del("k", V(3));
  ASSERT_EQ(observer_.changes.size(), 3u);
  EXPECT_EQ(observer_.changes[2].cause, ChangeCause::kPut);
  EXPECT_TRUE(observer_.changes[2].after.tombstone);
  EXPECT_EQ(observer_.changes[2].before.version, V(1));
}

TEST_F(ShardStoreObserverTest, ExpiryPurgeAndEvictionAreReported) {
  // Expiry (lazily on access and by ExpireSome): the pair does not change.
  Set("lazy", "v", V(1), Now() + 10);
  Set("active", "v", V(2), Now() + 10);
  clock_.Advance(10);
  EXPECT_EQ(Read("lazy"), "<tombstone>");
  store_.ExpireSome(1000);
  ASSERT_EQ(observer_.Count(ChangeCause::kExpiry), 2);
  for (const Change& c : observer_.changes) {
    if (c.cause != ChangeCause::kExpiry) continue;
    EXPECT_FALSE(c.before.tombstone);
    EXPECT_TRUE(c.after.tombstone);
    EXPECT_EQ(c.before.version, c.after.version);
    EXPECT_EQ(c.before.expiry_version, c.after.expiry_version);
  }
  // Purge of both tombstones after the grace.
  clock_.Advance(kGraceMs);
  store_.ExpireSome(1000);
  EXPECT_EQ(observer_.Count(ChangeCause::kPurge), 2);
  EXPECT_FALSE(observer_.changes.back().after.present);

  // Eviction: fill past the limit.
  const std::string value(500, 'x');
  for (int i = 0; i < 300; ++i) Set("fill" + std::to_string(i), value, V(100 + i));
  EXPECT_EQ(observer_.Count(ChangeCause::kEviction),
            static_cast<int>(Load(store_.stats().evictions)));
  EXPECT_GT(observer_.Count(ChangeCause::kEviction), 100);

  // Every change reported adds up to what is held: replaying them gives the store's keys.
  std::map<std::string, KeyState> replay;
  for (const Change& c : observer_.changes) {
    if (c.before.present) {
      ASSERT_TRUE(replay.count(c.key)) << c.key;
      EXPECT_EQ(replay[c.key].version, c.before.version);
    }
    if (c.after.present) {
      replay[c.key] = c.after;
    } else {
      replay.erase(c.key);
    }
  }
  EXPECT_EQ(replay.size(), Load(store_.stats().keys));
}

TEST_F(ShardStoreObserverTest, APutOverADeadEntryIsOneChange) {
  Set("k", "v", V(1), Now() + 10);
  clock_.Advance(10);
  Set("k", "w", V(2));  // replaces the expired value directly
  ASSERT_EQ(observer_.changes.size(), 2u);
  EXPECT_EQ(observer_.changes[1].cause, ChangeCause::kPut);
  EXPECT_EQ(observer_.changes[1].before.version, V(1));
  EXPECT_EQ(observer_.changes[1].after.version, V(2));
}

// ---- ScanRange ----------------------------------------------------------------------------------

TEST_F(ShardStoreTest, ScanRangeSelectsByTheRingHashAndReportsPairs) {
  std::map<std::string, uint64_t> hashes;
  for (int i = 0; i < 500; ++i) {
    const std::string key = "k" + std::to_string(i);
    Set(key, "v", V(1 + i));
    hashes[key] = KeyHash(key);
  }
  // Keys of one hash tag share the ring hash.
  Set("{tag}a", "v", V(1000));
  Set("{tag}b", "v", V(1001));
  hashes["{tag}a"] = hashes["{tag}b"] = KeyHash("tag");
  const uint64_t lo = uint64_t{1} << 62;
  const uint64_t hi = (uint64_t{1} << 63) + 12345;
  std::set<std::string> expected;
  for (const auto& [key, hash] : hashes) {
    if (hash >= lo && hash <= hi) expected.insert(key);
  }
  ASSERT_GT(expected.size(), 50u);

  std::set<std::string> seen;
  uint64_t cursor = 0;
  int calls = 0;
  do {
    size_t in_call = 0;
    cursor = store_.ScanRange(lo, hi, cursor, 16, [&](const EntryView& e) {
      EXPECT_EQ(e.key_hash, hashes[std::string(e.key)]);
      EXPECT_EQ(e.expiry_version, e.version);
      EXPECT_TRUE(seen.insert(std::string(e.key)).second);
      ++in_call;
    });
    EXPECT_LE(in_call, 16u + 8u);  // `count` bounds the entries examined (a bucket is finished)
    ++calls;
  } while (cursor != 0);
  EXPECT_EQ(seen, expected);
  EXPECT_GT(calls, 10);

  // The whole ring; and an empty range.
  size_t all = 0;
  cursor = 0;
  do {
    cursor = store_.ScanRange(0, UINT64_MAX, cursor, 100, [&](const EntryView&) { ++all; });
  } while (cursor != 0);
  EXPECT_EQ(all, hashes.size());
  size_t none = 0;
  cursor = 0;
  do {
    cursor = store_.ScanRange(5, 4, cursor, 100, [&](const EntryView&) { ++none; });
  } while (cursor != 0);
  EXPECT_EQ(none, 0u);
}

// Issue 7, item 3: an expired value is a tombstone of its pair in Scan too (it read as absent).
TEST_F(ShardStoreTest, ScanReportsAnExpiredValueAsATombstoneOfItsPair) {
  Set("e", "v", V(5), Now() + 10);
  EXPECT_TRUE(store_.Touch("e", V(7), Now() + 20, false).applied);
  clock_.Advance(20);
  int visits = 0;
  uint64_t cursor = 0;
  do {
    cursor = store_.Scan(cursor, 100, [&](const EntryView& e) {
      ++visits;
      EXPECT_EQ(e.key, "e");
      EXPECT_TRUE(e.tombstone);
      EXPECT_TRUE(e.value.empty());
      EXPECT_EQ(e.expire_at_ms, 0);
      EXPECT_EQ(e.version, V(5));
      EXPECT_EQ(e.expiry_version, V(7));
    });
  } while (cursor != 0);
  EXPECT_EQ(visits, 1);
  // What a Get reports for it is the same state.
  const GetResult got = store_.Get("e");
  EXPECT_TRUE(got.tombstone);
  EXPECT_EQ(got.version, V(5));
  EXPECT_EQ(got.expiry_version, V(7));
}

}  // namespace
}  // namespace shoal::node
