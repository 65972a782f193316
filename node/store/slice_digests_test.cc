// SliceDigests (incremental per-peer slice digests) and the Merkle summary comparison.

#include "node/store/slice_digests.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/hash/key_hash.h"
#include "node/store/shard_store.h"
#include "node/store/shard_store_test_util.h"

namespace shoal::node {
namespace {

constexpr int kReplicas = 3;

RingPtr TestRing(int members = 5) {
  std::vector<RingMember> m;
  for (int i = 0; i < members; ++i) {
    m.push_back({"node" + std::to_string(i), "127.0.0.1:" + std::to_string(7000 + i)});
  }
  StatusOr<RingPtr> ring = Ring::Build(m, 64);
  EXPECT_TRUE(ring.ok());
  return *ring;
}

// digest[peer][slice] recomputed from a full scan of `store` (what the incremental one must be).
std::vector<std::vector<uint64_t>> Recompute(const ShardStore& store, const SliceDigests& d) {
  const size_t members = d.ring().members().size();
  std::vector<std::vector<uint64_t>> out(members, std::vector<uint64_t>(kSlices, 0));
  std::set<std::string> seen;  // Scan may show an entry twice
  uint64_t cursor = 0;
  do {
    cursor = store.Scan(cursor, 1000, [&](const EntryView& e) {
      if (!seen.insert(std::string(e.key)).second) return;
      for (size_t p = 0; p < members; ++p) {
        if (!d.Shared(e.key_hash, static_cast<int>(p))) continue;
        out[p][SliceOf(e.key_hash)] ^=
            EntryDigest(e.key, e.version, e.expiry_version,
                        e.tombstone ? 0 : typed::BodyDigest(e.value_type, e.value));
      }
    });
  } while (cursor != 0);
  return out;
}

std::vector<std::vector<uint64_t>> Incremental(const SliceDigests& d) {
  const size_t members = d.ring().members().size();
  std::vector<std::vector<uint64_t>> out(members, std::vector<uint64_t>(kSlices, 0));
  for (size_t p = 0; p < members; ++p) {
    for (uint32_t s = 0; s < kSlices; ++s) out[p][s] = d.Get(static_cast<int>(p), s);
  }
  return out;
}

bool AllZero(const std::vector<std::vector<uint64_t>>& digests) {
  for (const auto& peer : digests) {
    for (uint64_t v : peer) {
      if (v != 0) return false;
    }
  }
  return true;
}

TEST(EntryDigestTest, DependsOnKeyVersionAndExpiryVersionOnly) {
  const uint64_t base = EntryDigest("k", V(10, 1), V(10, 1));
  EXPECT_EQ(base, EntryDigest("k", V(10, 1), V(10, 1)));
  EXPECT_NE(base, EntryDigest("k2", V(10, 1), V(10, 1)));
  EXPECT_NE(base, EntryDigest("k", V(11, 1), V(11, 1)));
  EXPECT_NE(base, EntryDigest("k", V(10, 2), V(10, 2)));
  EXPECT_NE(base, EntryDigest("k", V(10, 1), V(12, 1)));
  EXPECT_NE(base, EntryDigest("k", V(10, 1), V(10, 3)));
  // Swapping the two versions is another state.
  EXPECT_NE(EntryDigest("k", V(10, 1), V(12, 1)), EntryDigest("k", V(12, 1), V(10, 1)));
}

TEST(SliceDigestsTest, CountsOnlyKeysSharedWithEachPeer) {
  RingPtr ring = TestRing();
  SliceDigests d(ring, 0, kReplicas);
  int shared_keys = 0, foreign_keys = 0;
  for (int i = 0; i < 400; ++i) {
    const std::string key = "key" + std::to_string(i);
    const uint64_t h = KeyHash(key);
    KeyState after{.present = true, .tombstone = false, .version = V(5), .expiry_version = V(5)};
    d.OnChange(h, key, KeyState{}, after, ChangeCause::kPut);
    const std::vector<int> owners = ring->OwnersOfKey(key, kReplicas);
    const bool mine = std::find(owners.begin(), owners.end(), 0) != owners.end();
    (mine ? shared_keys : foreign_keys) += 1;
    for (int p = 1; p < 5; ++p) {
      const bool shared = mine && std::find(owners.begin(), owners.end(), p) != owners.end();
      EXPECT_EQ(d.Shared(h, p), shared) << key << " peer " << p;
    }
    EXPECT_FALSE(d.Shared(h, 0));
  }
  ASSERT_GT(shared_keys, 50);
  ASSERT_GT(foreign_keys, 50);  // keys this node does not own count for no one
  // Removing every key again (as a purge would) brings every digest back to zero.
  for (int i = 0; i < 400; ++i) {
    const std::string key = "key" + std::to_string(i);
    KeyState before{.present = true, .tombstone = false, .version = V(5), .expiry_version = V(5)};
    d.OnChange(KeyHash(key), key, before, KeyState{}, ChangeCause::kEviction);
  }
  EXPECT_TRUE(AllZero(Incremental(d)));
}

TEST(SliceDigestsTest, ExpiryDoesNotChangeTheDigest) {
  RingPtr ring = TestRing();
  FakeClock clock;
  ShardStore store(clock, kBigLimit, kGraceMs);
  SliceDigests d(ring, 0, kReplicas);
  store.SetObserver(&d);
  for (int i = 0; i < 200; ++i) {
    PutRequest put;
    const std::string key = "ttl" + std::to_string(i);
    put.key = key;
    put.value = "v";
    put.version = V(100 + i);
    put.expire_at_ms = clock.NowMs() + 1000;
    ASSERT_EQ(store.Put(put).status, ApplyStatus::kApplied);
  }
  const auto before = Incremental(d);
  ASSERT_FALSE(AllZero(before));
  clock.Advance(2000);
  while (store.ExpireSome(1000) > 0) {
  }
  ASSERT_EQ(Load(store.stats().expirations), 200u);
  EXPECT_EQ(Incremental(d), before);  // tombstones of their pairs: no difference
  EXPECT_EQ(Recompute(store, d), before);
  store.SetObserver(nullptr);
}

// The incremental digests equal the ones recomputed from a full scan after a seeded random mix of
// puts (fresh, stale, with TTL, tombstones), touches, expiries, purges and evictions.
TEST(SliceDigestsTest, IncrementalEqualsRecomputedAfterRandomOperations) {
  const uint64_t seed = TestSeed(8);
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  RingPtr ring = TestRing();
  FakeClock clock;
  // Small enough that eviction happens often (values up to 600 bytes, 500 keys).
  ShardStore store(clock, 64 * 1024, kGraceMs);
  SliceDigests d(ring, 1, kReplicas);
  store.SetObserver(&d);
  uint64_t hlc = 1000;
  const std::string filler(600, 'x');
  for (int round = 0; round < 40; ++round) {
    for (int op = 0; op < 500; ++op) {
      const std::string key = "k" + std::to_string(rng() % 500);
      const int kind = static_cast<int>(rng() % 10);
      if (kind <= 5) {
        PutRequest put;
        put.key = key;
        put.value = std::string_view(filler).substr(0, rng() % filler.size());
        // Mostly fresh, sometimes stale (refused by the held pair or the floor).
        put.version = V(rng() % 8 == 0 ? hlc - rng() % 500 : ++hlc, 1 + rng() % 3);
        if (rng() % 4 == 0) put.expiry_version = V(put.version.hlc + rng() % 5, put.version.writer);
        if (rng() % 3 == 0) put.expire_at_ms = clock.NowMs() + static_cast<int64_t>(rng() % 5000);
        put.tombstone = kind == 5;
        store.Put(put);
      } else if (kind <= 7) {
        store.Touch(key, V(++hlc), rng() % 2 ? 0 : clock.NowMs() + 3000, false);
      } else if (kind == 8) {
        store.Get(key);  // lazily expires or purges
      } else {
        clock.Advance(static_cast<int64_t>(rng() % 4000));
        store.ExpireSome(rng() % 200);
      }
    }
    if (round % 10 == 9) clock.Advance(kGraceMs + 1);  // tombstones past their grace
    // Scan skips tombstones past their grace that were not purged yet: purge them first.
    while (store.ExpireSome(100'000) > 0) {
    }
    ASSERT_EQ(Incremental(d), Recompute(store, d)) << "round " << round;
  }
  EXPECT_GT(Load(store.stats().evictions), 100u);
  EXPECT_GT(Load(store.stats().expirations), 100u);
  EXPECT_GT(Load(store.stats().tombstones_purged), 10u);
  EXPECT_GT(Load(store.stats().stale_writes), 100u);
  store.SetObserver(nullptr);
}

// Forwards every change to two observers (a store has one).
struct Tee : StoreObserver {
  StoreObserver* first = nullptr;
  StoreObserver* second = nullptr;
  void OnChange(uint64_t key_hash, std::string_view key, const KeyState& before,
                const KeyState& after, ChangeCause cause) override {
    first->OnChange(key_hash, key, before, after, cause);
    second->OnChange(key_hash, key, before, after, cause);
  }
};

// A node whose members change rebuilds its digests for the new ring from what its store holds
// (ShardStore::ReportHeld): they must equal digests kept for that ring from the start, whatever
// the store holds at that moment (expired values not yet found, tombstones past their grace not
// yet purged, a table being resized), and stay equal as writes go on.
TEST(SliceDigestsTest, RebuiltForANewRingEqualsMaintainedFromTheStart) {
  const uint64_t seed = TestSeed(11);
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  RingPtr before = TestRing(4);
  RingPtr after = TestRing(6);  // two members joined; node1 is in both
  FakeClock clock;
  ShardStore store(clock, kBigLimit, kGraceMs);
  SliceDigests old_digests(before, 1, kReplicas);
  SliceDigests reference(after, 1, kReplicas);  // kept for the new ring from the start
  Tee tee;
  tee.first = &old_digests;
  tee.second = &reference;
  store.SetObserver(&tee);
  std::unique_ptr<SliceDigests> rebuilt;
  uint64_t hlc = 1000;
  size_t keys = 50;
  for (int round = 0; round < 12; ++round) {
    keys *= 2;  // the table grows: rebuilds happen at various points of its resizes
    for (int op = 0; op < 800; ++op) {
      const std::string key = "k" + std::to_string(rng() % keys);
      const int kind = static_cast<int>(rng() % 8);
      if (kind <= 5) {
        PutRequest put;
        put.key = key;
        put.value = "v";
        put.version = V(++hlc, 1 + rng() % 3);
        if (rng() % 3 == 0) put.expire_at_ms = clock.NowMs() + static_cast<int64_t>(rng() % 5000);
        put.tombstone = kind == 5;
        store.Put(put);
      } else if (kind == 6) {
        store.Get(key);
      } else {
        clock.Advance(static_cast<int64_t>(rng() % 3000));
        store.ExpireSome(rng() % 50);
      }
    }
    if (round % 4 == 3) clock.Advance(kGraceMs + 1);
    rebuilt = std::make_unique<SliceDigests>(after, 1, kReplicas);
    store.ReportHeld(*rebuilt);
    ASSERT_EQ(Incremental(*rebuilt), Incremental(reference)) << "round " << round;
    EXPECT_FALSE(AllZero(Incremental(*rebuilt)));
    tee.first = rebuilt.get();  // from now on the rebuilt digests follow the store
  }
  while (store.ExpireSome(100'000) > 0) {
  }
  EXPECT_EQ(Incremental(*rebuilt), Incremental(reference));
  EXPECT_EQ(Incremental(reference), Recompute(store, reference));
  store.SetObserver(nullptr);
}

// Two stores that end up holding the same states agree, whatever order the writes came in.
TEST(SliceDigestsTest, InsensitiveToInsertionOrder) {
  const uint64_t seed = TestSeed(3);
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  RingPtr ring = TestRing();
  std::vector<PutRequest> writes;
  std::vector<std::string> keys;
  for (int i = 0; i < 300; ++i) keys.push_back("key:" + std::to_string(i));
  for (int i = 0; i < 2000; ++i) {
    PutRequest put;
    put.key = keys[rng() % keys.size()];
    put.value = "v";
    put.version = V(1 + rng() % 100000, 1 + rng() % 4);
    put.tombstone = rng() % 5 == 0;
    writes.push_back(put);
  }
  FakeClock clock;
  ShardStore a(clock, kBigLimit, kGraceMs), b(clock, kBigLimit, kGraceMs);
  SliceDigests da(ring, 2, kReplicas), db(ring, 2, kReplicas);
  a.SetObserver(&da);
  b.SetObserver(&db);
  for (const PutRequest& w : writes) a.Put(w);
  std::shuffle(writes.begin(), writes.end(), rng);
  for (const PutRequest& w : writes) b.Put(w);
  EXPECT_EQ(Incremental(da), Incremental(db));
  EXPECT_FALSE(AllZero(Incremental(da)));
  // One more write on one side changes exactly one slice of the peers sharing the key.
  PutRequest extra;
  std::string key;
  for (int i = 0; key.empty(); ++i) {
    const std::string k = "extra" + std::to_string(i);
    if (da.Shared(KeyHash(k), 3)) key = k;
  }
  extra.key = key;
  extra.value = "new";
  extra.version = V(200000);
  ASSERT_EQ(b.Put(extra).status, ApplyStatus::kApplied);
  int differing = 0;
  for (uint32_t s = 0; s < kSlices; ++s) differing += da.Get(3, s) != db.Get(3, s) ? 1 : 0;
  EXPECT_EQ(differing, 1);
  EXPECT_NE(da.Get(3, SliceOf(KeyHash(key))), db.Get(3, SliceOf(KeyHash(key))));
  a.SetObserver(nullptr);
  b.SetObserver(nullptr);
}

// Eviction removes the evicted entry's contribution: the digest describes what is held.
TEST(SliceDigestsTest, EvictedEntriesNoLongerCount) {
  RingPtr ring = TestRing();
  FakeClock clock;
  ShardStore store(clock, 64 * 1024, kGraceMs);
  SliceDigests d(ring, 0, kReplicas);
  store.SetObserver(&d);
  const std::string value(1000, 'v');
  for (int i = 0; i < 200; ++i) {
    PutRequest put;
    const std::string key = "e" + std::to_string(i);
    put.key = key;
    put.value = value;
    put.version = V(10 + i);
    ASSERT_EQ(store.Put(put).status, ApplyStatus::kApplied);
  }
  ASSERT_GT(Load(store.stats().evictions), 100u);
  // Only the keys still held count.
  std::vector<std::vector<uint64_t>> expected(5, std::vector<uint64_t>(kSlices, 0));
  for (int i = 0; i < 200; ++i) {
    const std::string key = "e" + std::to_string(i);
    const GetResult got = store.Get(key);
    if (!got.found) continue;
    for (int p = 1; p < 5; ++p) {
      if (d.Shared(KeyHash(key), p)) {
        expected[p][SliceOf(KeyHash(key))] ^= EntryDigest(key, V(10 + i), V(10 + i));
      }
    }
  }
  EXPECT_EQ(Incremental(d), expected);
  store.SetObserver(nullptr);
}

// ---- Merkle summaries ------------------------------------------------------------------------

SummaryFetch FetchFrom(const MerkleSummary& other) {
  return [&other](int level, uint32_t first, uint32_t count) -> StatusOr<std::vector<uint64_t>> {
    const std::vector<uint64_t>& nodes = other.level(level);
    if (first >= nodes.size()) return std::vector<uint64_t>{};
    const uint32_t end = std::min<uint32_t>(first + count, static_cast<uint32_t>(nodes.size()));
    return std::vector<uint64_t>(nodes.begin() + first, nodes.begin() + end);
  };
}

TEST(RingFingerprintTest, SameMembersInAnyOrderSameFingerprint) {
  std::vector<RingMember> m = {{"a", "h:1"}, {"b", "h:2", "z1"}, {"c", "h:3"}};
  auto fingerprint = [](std::vector<RingMember> members, int tokens = 64, int replicas = 3) {
    StatusOr<RingPtr> ring = Ring::Build(std::move(members), tokens);
    EXPECT_TRUE(ring.ok());
    return RingFingerprint(**ring, replicas);
  };
  const uint64_t base = fingerprint(m);
  EXPECT_NE(base, 0u);  // 0 means "any ring" on the wire
  std::vector<RingMember> reversed(m.rbegin(), m.rend());
  EXPECT_EQ(fingerprint(reversed), base);
  // Everything that changes how keys are cut into pairs changes it.
  EXPECT_NE(fingerprint(m, 65), base);
  EXPECT_NE(fingerprint(m, 64, 2), base);
  auto changed = m;
  changed[1].zone = "z2";
  EXPECT_NE(fingerprint(changed), base);
  changed = m;
  changed[2].address = "h:4";
  EXPECT_NE(fingerprint(changed), base);
  changed = m;
  changed.push_back({"d", "h:4"});
  EXPECT_NE(fingerprint(changed), base);
  changed = m;
  changed[0].id = "a2";
  EXPECT_NE(fingerprint(changed), base);
  // The digests carry the fingerprint of the ring they were built for.
  StatusOr<RingPtr> ring = Ring::Build(m, 64);
  ASSERT_TRUE(ring.ok());
  SliceDigests digests(*ring, 0, 3);
  EXPECT_EQ(digests.fingerprint(), base);
}

TEST(MerkleSummaryTest, LevelsHaveFanout16) {
  MerkleSummary s(std::vector<uint64_t>(kSlices, 7));
  EXPECT_EQ(s.level(0).size(), 1u);
  EXPECT_EQ(s.level(1).size(), 16u);
  EXPECT_EQ(s.level(2).size(), 256u);
  EXPECT_EQ(s.level(3).size(), 4096u);
  EXPECT_EQ(SummaryLevelSize(4), 0u);
}

TEST(MerkleSummaryTest, EqualSummariesCostOneNode) {
  std::mt19937_64 rng(1);
  std::vector<uint64_t> leaves(kSlices);
  for (uint64_t& l : leaves) l = rng();
  MerkleSummary a(leaves), b(leaves);
  uint64_t fetched = 0;
  StatusOr<std::vector<uint32_t>> diff = DifferingSlices(a, FetchFrom(b), &fetched);
  ASSERT_TRUE(diff.ok());
  EXPECT_TRUE(diff->empty());
  EXPECT_EQ(fetched, 1u);
}

// The comparison finds exactly the differing slices, fetching only the children of differing
// nodes.
TEST(MerkleSummaryTest, FindsExactlyTheDifferingSlices) {
  const uint64_t seed = TestSeed(5);
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<uint64_t> leaves(kSlices);
    for (uint64_t& l : leaves) l = rng() % 3 == 0 ? 0 : rng();  // empty slices too
    std::vector<uint64_t> other = leaves;
    std::set<uint32_t> changed;
    const int n = trial == 0 ? static_cast<int>(kSlices) : static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) {
      const uint32_t s = trial == 0 ? static_cast<uint32_t>(i) : rng() % kSlices;
      other[s] ^= 1 + rng() % 1000;
      changed.insert(s);
    }
    MerkleSummary a(leaves), b(other);
    uint64_t fetched = 0;
    StatusOr<std::vector<uint32_t>> diff = DifferingSlices(a, FetchFrom(b), &fetched);
    ASSERT_TRUE(diff.ok());
    EXPECT_EQ(std::set<uint32_t>(diff->begin(), diff->end()), changed);
    EXPECT_TRUE(std::is_sorted(diff->begin(), diff->end()));
    // 1 root, then 16 children per differing node of levels 0..2.
    std::set<uint32_t> l1, l2;
    for (uint32_t s : changed) {
      l2.insert(s / 16);
      l1.insert(s / 256);
    }
    const uint64_t expected_fetch = changed.empty() ? 1 : 1 + 16 * (1 + l1.size() + l2.size());
    EXPECT_EQ(fetched, expected_fetch) << "trial " << trial;
  }
}

TEST(MerkleSummaryTest, FetchErrorsAndShortAnswersAreErrors) {
  MerkleSummary a(std::vector<uint64_t>(kSlices, 1)), b(std::vector<uint64_t>(kSlices, 2));
  auto failing = [](int, uint32_t, uint32_t) -> StatusOr<std::vector<uint64_t>> {
    return Status::Unavailable("peer down");
  };
  EXPECT_FALSE(DifferingSlices(a, failing).ok());
  auto short_answer = [&b](int level, uint32_t first, uint32_t) -> StatusOr<std::vector<uint64_t>> {
    if (level == 0) return std::vector<uint64_t>{b.root()};
    return std::vector<uint64_t>{b.level(level)[first]};
  };
  EXPECT_FALSE(DifferingSlices(a, short_answer).ok());
}

}  // namespace
}  // namespace shoal::node
