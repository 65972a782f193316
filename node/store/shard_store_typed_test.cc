// ShardStore with typed values (docs/data-model.md): a typed Put of the held version merges into
// the held value; a greater pair still wins whole; floors do not refuse fresh typed creations.

#include <gtest/gtest.h>

#include <algorithm>

#include "common/typed/counter.h"
#include "common/typed/elements.h"
#include "node/store/shard_store.h"
#include "node/store/shard_store_test_util.h"

namespace shoal::node {
namespace {

using typed::Counter;
using typed::CounterComponent;
using typed::ValueType;

Version V(uint64_t hlc, uint64_t writer = 1) { return Version{hlc, writer}; }

std::string Delta(uint64_t writer, uint64_t p, uint64_t hlc, std::string base = "") {
  Counter c;
  c.base = std::move(base);
  CounterComponent x;
  x.writer = writer;
  x.p = p;
  x.version = V(hlc, writer);
  c.SetComponent(x);
  return c.Encode();
}

class ShardStoreTypedTest : public ShardStoreTest {
 protected:
  PutResult Incr(std::string_view key, Version version, const std::string& body,
                 Version expiry = {}, int64_t expire_at = 0) {
    PutRequest r;
    r.key = key;
    r.value = body;
    r.value_type = ValueType::kCounter;
    r.version = version;
    r.expiry_version = expiry;
    r.expire_at_ms = expire_at;
    return store_.Put(r);
  }
  std::string Value(std::string_view key) {
    GetResult got = store_.Get(key);
    if (!got.found || got.tombstone) return "<none>";
    if (got.value_type != ValueType::kCounter) return "string:" + std::string(got.value);
    Counter c;
    if (!Counter::Decode(got.value, &c)) return "<bad>";
    return c.Render();
  }
};

TEST_F(ShardStoreTypedTest, DeltasOfOneVersionMergeInAnyOrderAndAreIdempotent) {
  const Version v = typed::DerivedVersion({}, {});
  EXPECT_EQ(Incr("k", v, Delta(1, 1, 10)).status, ApplyStatus::kApplied);
  EXPECT_EQ(Incr("k", v, Delta(2, 5, 11)).status, ApplyStatus::kApplied);
  EXPECT_EQ(Incr("k", v, Delta(1, 3, 12)).status, ApplyStatus::kApplied);
  EXPECT_EQ(Value("k"), "8");
  // An older delta of writer 1 (a late hint) and a repeat change nothing, and are not stale.
  const uint64_t keys = Load(store_.stats().keys);
  EXPECT_EQ(Incr("k", v, Delta(1, 1, 10)).status, ApplyStatus::kApplied);
  EXPECT_EQ(Incr("k", v, Delta(2, 5, 11)).status, ApplyStatus::kApplied);
  EXPECT_EQ(Value("k"), "8");
  EXPECT_EQ(Load(store_.stats().keys), keys);
  EXPECT_EQ(Load(store_.stats().stale_writes), 0u);
}

TEST_F(ShardStoreTypedTest, CounterBuiltOnAStringMergesIntoIt) {
  Set("k", "10", V(5));
  EXPECT_EQ(Incr("k", V(5), Delta(1, 2, 20, "10")).status, ApplyStatus::kApplied);
  EXPECT_EQ(Value("k"), "12");
  // The string again (a repair from a replica that missed the counter) is already included: the
  // held state contains it (applied, nothing changes).
  EXPECT_EQ(Set("k", "10", V(5)).status, ApplyStatus::kApplied);
  EXPECT_EQ(Value("k"), "12");
}

TEST_F(ShardStoreTypedTest, WholeKeyWritesSupersedeByVersion) {
  const Version v = typed::DerivedVersion({}, {});
  Incr("k", v, Delta(1, 4, 10));
  EXPECT_EQ(Del("k", V(30)).status, ApplyStatus::kApplied);
  EXPECT_EQ(Value("k"), "<none>");
  // A late delta of the old version is refused (the DEL is newer).
  EXPECT_EQ(Incr("k", v, Delta(1, 5, 11)).status, ApplyStatus::kStale);
  // A counter built on the tombstone: derived above it.
  const Version after = typed::DerivedVersion(V(30), V(30));
  EXPECT_EQ(Incr("k", after, Delta(1, 1, 31)).status, ApplyStatus::kApplied);
  EXPECT_EQ(Value("k"), "1");
  EXPECT_EQ(Set("k", "x", V(40)).status, ApplyStatus::kApplied);
  EXPECT_EQ(Value("k"), "string:x");
}

TEST_F(ShardStoreTypedTest, SameVersionKeepsTheGreaterExpiry) {
  const Version v = typed::DerivedVersion({}, {});
  const int64_t later = Now() + 100000;
  Incr("k", v, Delta(1, 1, 10));
  // Another replica's state, touched (expiry_version 50) and with writer 2's component.
  EXPECT_EQ(Incr("k", v, Delta(2, 1, 11), V(50), later).status, ApplyStatus::kApplied);
  GetResult got = store_.Get("k");
  EXPECT_EQ(got.expiry_version, V(50));
  EXPECT_EQ(got.expire_at_ms, later);
  EXPECT_EQ(Value("k"), "2");
  // An older expiry's delta merges its body but keeps the touch.
  Incr("k", v, Delta(3, 1, 12));
  got = store_.Get("k");
  EXPECT_EQ(got.expiry_version, V(50));
  EXPECT_EQ(Value("k"), "3");
}

TEST_F(ShardStoreTypedTest, FreshTypedCreationPassesAFloorAnOldOneDoesNot) {
  const Version v = typed::DerivedVersion({}, {});
  // Raise the key's floor: a tombstone purged after its grace.
  Del("k", V(100));
  clock_.Advance(kGraceMs + 1);
  store_.ExpireSome(1000);
  ASSERT_FALSE(store_.Get("k").found);
  // A delta whose newest element is older than the floor: a stale state, refused.
  EXPECT_EQ(Incr("k", v, Delta(1, 1, 50)).status, ApplyStatus::kStale);
  // One written after: applied.
  EXPECT_EQ(Incr("k", v, Delta(1, 1, 150)).status, ApplyStatus::kApplied);
  EXPECT_EQ(Value("k"), "1");
}

TEST_F(ShardStoreTypedTest, DigestsSeeBodies) {
  const Version v = typed::DerivedVersion({}, {});
  Incr("k", v, Delta(1, 1, 10));
  uint64_t a = 0;
  store_.Scan(0, 100, [&](const EntryView& e) { a = typed::BodyDigest(e.value_type, e.value); });
  Incr("k", v, Delta(2, 1, 11));
  uint64_t b = 0;
  store_.Scan(0, 100, [&](const EntryView& e) { b = typed::BodyDigest(e.value_type, e.value); });
  EXPECT_NE(a, 0u);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace shoal::node

namespace shoal::node {
namespace {

std::string Fields(std::vector<std::pair<std::string, std::string>> fields, uint64_t hlc) {
  std::sort(fields.begin(), fields.end());
  std::vector<typed::ElementView> views;
  for (const auto& [f, v] : fields) {
    views.push_back({f, Version{hlc, 1}, typed::ElementKind::kValue, v});
  }
  return typed::EncodeElements(views);
}

class ShardStoreHashTest : public ShardStoreTest {
 protected:
  PutResult HSet(std::string_view key, Version version, const std::string& body) {
    PutRequest r;
    r.key = key;
    r.value = body;
    r.value_type = typed::ValueType::kHash;
    r.version = version;
    return store_.Put(r);
  }
};

TEST_F(ShardStoreHashTest, FieldDeltasMergeAndTheHashIsChargedForWhatItHolds) {
  const Version v = typed::DerivedVersion({}, {});
  const uint64_t before = Load(store_.stats().memory_used);
  ASSERT_EQ(HSet("h", v, Fields({{"a", std::string(100, 'x')}}, 10)).status, ApplyStatus::kApplied);
  const uint64_t one = Load(store_.stats().memory_used);
  EXPECT_EQ(one - before, 1 + ShardStore::kEntryOverhead + typed::kElementsHeader +
                              typed::kElementOverhead + 1 + 100);
  // Another field through another writer: merged, charged for both.
  ASSERT_EQ(HSet("h", v, Fields({{"b", std::string(1000, 'y')}}, 11)).status,
            ApplyStatus::kApplied);
  const uint64_t two = Load(store_.stats().memory_used);
  EXPECT_EQ(two - one, typed::kElementOverhead + 1 + 1000);
  GetResult got = store_.Get("h");
  ASSERT_TRUE(got.found && !got.tombstone);
  EXPECT_EQ(got.value_type, typed::ValueType::kHash);
  typed::ElementsView body;
  ASSERT_TRUE(typed::DecodeElements(got.value, &body));
  EXPECT_EQ(body.LiveCount(), 2u);
  EXPECT_TRUE(typed::ValidateElements(got.value, false));
  // A repeat changes nothing; a DEL (a newer version) drops the fields and their charge.
  ASSERT_EQ(HSet("h", v, Fields({{"a", std::string(100, 'x')}}, 10)).status, ApplyStatus::kApplied);
  EXPECT_EQ(Load(store_.stats().memory_used), two);
  Del("h", Version{100, 9});
  EXPECT_LT(Load(store_.stats().memory_used), one);
}

TEST_F(ShardStoreHashTest, AnEmptiedHashIsHeldButIsNoKey) {
  const Version v = typed::DerivedVersion({}, {});
  ASSERT_EQ(HSet("h", v, Fields({{"a", "1"}, {"b", "2"}}, 10)).status, ApplyStatus::kApplied);
  const auto listed = [&] {
    int keys = 0, empty = 0;
    store_.Scan(0, 100, [&](const EntryView& e) {
      ++keys;
      empty += e.empty_aggregate ? 1 : 0;
    });
    return std::make_pair(keys, empty);
  };
  EXPECT_EQ(listed(), std::make_pair(1, 0));
  EXPECT_EQ(Load(store_.stats().empty_aggregates), 0u);
  // HDEL of both fields (tombstones at element version 20): held, merged, but empty.
  std::vector<typed::ElementView> gone = {{"a", V(20), typed::ElementKind::kTombstone, ""},
                                          {"b", V(20), typed::ElementKind::kTombstone, ""}};
  ASSERT_EQ(HSet("h", v, typed::EncodeElements(gone)).status, ApplyStatus::kApplied);
  GetResult got = store_.Get("h");
  ASSERT_TRUE(got.found && !got.tombstone);  // a reader still merges its body
  EXPECT_EQ(listed(), std::make_pair(1, 1));
  EXPECT_EQ(Load(store_.stats().empty_aggregates), 1u);
  EXPECT_EQ(Load(store_.stats().keys), 1u);
  // No key to expire; no previous live value for a DEL (Redis's DEL answers 0).
  const TouchResult touch = store_.Touch("h", V(30), Now() + 1000, false);
  EXPECT_FALSE(touch.found);
  EXPECT_FALSE(touch.applied);
  PutRequest nx;
  nx.key = "h";
  nx.value = "s";
  nx.version = V(40);
  nx.condition = PutCondition::kIfAbsent;
  nx.want_previous = true;
  const PutResult set = store_.Put(nx);
  EXPECT_EQ(set.status, ApplyStatus::kApplied);  // SET NX: the key is absent
  EXPECT_FALSE(set.previous_found);
  EXPECT_EQ(Load(store_.stats().empty_aggregates), 0u);
  // Emptied again by a field write at the string's derived version, then refilled by a field.
  const Version after = typed::DerivedVersion(V(40), V(40));
  ASSERT_EQ(HSet("h", after, typed::EncodeElements(gone)).status, ApplyStatus::kApplied);
  EXPECT_EQ(Load(store_.stats().empty_aggregates), 1u);
  EXPECT_FALSE(Del("h", V(50)).previous_found);
  EXPECT_EQ(Load(store_.stats().empty_aggregates), 0u);
  const Version third = typed::DerivedVersion(V(50), V(50));
  ASSERT_EQ(HSet("h", third, typed::EncodeElements(gone)).status, ApplyStatus::kApplied);
  ASSERT_EQ(HSet("h", third, Fields({{"c", "3"}}, 60)).status, ApplyStatus::kApplied);
  EXPECT_EQ(listed(), std::make_pair(1, 0));
  EXPECT_EQ(Load(store_.stats().empty_aggregates), 0u);
  EXPECT_TRUE(Del("h", V(70)).previous_found);
}

// Element tombstones are purged after the element grace (on the injected clock), and the purged
// body's floor keeps a late stale state (a replica that missed the HDEL past the grace, repaired
// in) from bringing the field back.
TEST_F(ShardStoreHashTest, ElementTombstonesArePurgedAfterTheGraceWithoutResurrection) {
  store_.SetElementGrace(10'000);
  const auto at = [&](int64_t wall_ms) {
    return Version{HlcFromParts(static_cast<uint64_t>(wall_ms), 0), 3};
  };
  const auto body = [&] {
    GetResult got = store_.Get("h");
    EXPECT_TRUE(got.found && !got.tombstone);
    return std::string(got.value);
  };
  const Version v = typed::DerivedVersion({}, {});
  const int64_t t0 = Now();
  const std::string stale = typed::EncodeElements(
      std::vector<typed::ElementView>{{"a", at(t0), typed::ElementKind::kValue, "1"},
                                      {"b", at(t0), typed::ElementKind::kValue, "2"}});
  ASSERT_EQ(HSet("h", v, stale).status, ApplyStatus::kApplied);
  const std::string hdel = typed::EncodeElements(
      std::vector<typed::ElementView>{{"a", at(t0 + 1000), typed::ElementKind::kTombstone, ""}});
  ASSERT_EQ(HSet("h", v, hdel).status, ApplyStatus::kApplied);
  const uint64_t with_tombstone = Load(store_.stats().memory_used);
  // Within the grace: the sweep keeps it.
  clock_.Advance(9'000);
  store_.ExpireSome(1000);
  typed::ElementsView held;
  std::string before = body();
  ASSERT_TRUE(typed::DecodeElements(before, &held));
  ASSERT_NE(held.Find("a"), nullptr);
  EXPECT_EQ(Load(store_.stats().element_purges), 0u);
  // Past it (its version's wall time + 10 s): purged by the sweep, the floor raised to it.
  clock_.Advance(3'000);
  store_.ExpireSome(1000);
  EXPECT_EQ(Load(store_.stats().element_purges), 1u);
  std::string after = body();
  ASSERT_TRUE(typed::DecodeElements(after, &held));
  EXPECT_EQ(held.Find("a"), nullptr);
  EXPECT_EQ(held.floor, at(t0 + 1000));
  EXPECT_TRUE(typed::ValidateElements(after, false));
  EXPECT_LT(Load(store_.stats().memory_used), with_tombstone);
  // The stale replica's state merged in (repair, anti-entropy, a late hint): "a" stays removed.
  ASSERT_EQ(HSet("h", v, stale).status, ApplyStatus::kApplied);
  ASSERT_TRUE(typed::DecodeElements(body(), &held));
  EXPECT_EQ(held.Find("a"), nullptr);
  ASSERT_NE(held.Find("b"), nullptr);
  // A fresh HSET of "a" (above the floor) is a new field.
  const std::string again = typed::EncodeElements(
      std::vector<typed::ElementView>{{"a", at(Now()), typed::ElementKind::kValue, "3"}});
  ASSERT_EQ(HSet("h", v, again).status, ApplyStatus::kApplied);
  ASSERT_TRUE(typed::DecodeElements(body(), &held));
  ASSERT_NE(held.Find("a"), nullptr);
  EXPECT_EQ(held.Find("a")->value, "3");
  // A merge purges too: a tombstone arriving already past the grace is dropped on arrival.
  const std::string old_hdel = typed::EncodeElements(
      std::vector<typed::ElementView>{{"b", at(t0 + 500), typed::ElementKind::kTombstone, ""}});
  ASSERT_EQ(HSet("h", v, old_hdel).status, ApplyStatus::kApplied);
  ASSERT_TRUE(typed::DecodeElements(body(), &held));
  EXPECT_EQ(held.Find("b"), nullptr);
  EXPECT_EQ(held.floor, at(t0 + 1000));
  EXPECT_EQ(held.elements.size(), 1u);
}

}  // namespace
}  // namespace shoal::node
