#include "common/typed/elements.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <vector>

#include "common/typed/counter.h"
#include "common/typed/typed_value.h"

namespace shoal::typed {
namespace {

Version V(uint64_t hlc, uint64_t writer = 7) { return Version{hlc, writer}; }

struct El {
  std::string name;
  Version version;
  ElementKind kind = ElementKind::kValue;
  std::string value;
};

std::string Body(std::vector<El> els) {
  std::sort(els.begin(), els.end(), [](const El& a, const El& b) { return a.name < b.name; });
  std::vector<ElementView> views;
  for (const El& e : els) views.push_back({e.name, e.version, e.kind, e.value});
  return EncodeElements(views);
}

std::string CounterValue(std::string base, std::vector<CounterComponent> comps) {
  Counter c;
  c.base = std::move(base);
  for (const auto& x : comps) c.SetComponent(x);
  return c.Encode();
}

CounterComponent Comp(uint64_t writer, uint64_t p, uint64_t n = 0, uint64_t hlc = 1) {
  CounterComponent c;
  c.writer = writer;
  c.version = V(hlc, writer);
  c.p = p;
  c.n = n;
  return c;
}

State Live(Version v, ValueType type, std::string value, Version e = {}) {
  State s;
  s.found = true;
  s.version = v;
  s.expiry_version = e.IsZero() ? v : e;
  s.type = type;
  s.value = std::move(value);
  return s;
}

State Tomb(Version v) {
  State s;
  s.found = true;
  s.tombstone = true;
  s.version = v;
  s.expiry_version = v;
  return s;
}

State FoldJoin(const std::vector<State>& states) {
  State acc;
  for (const State& s : states) acc = Join(acc, s);
  return acc;
}

// The elements of a body as (name -> rendered value), live ones only.
std::map<std::string, std::string> LiveOf(std::string_view body) {
  ElementsView v;
  EXPECT_TRUE(DecodeElements(body, &v));
  std::map<std::string, std::string> out;
  for (const ElementView& e : v.elements) {
    if (e.live()) out[std::string(e.name)] = RenderElement(e);
  }
  return out;
}

TEST(ElementsTest, EncodeDecodeRoundTripSortedAndValidated) {
  const std::string body =
      Body({{"b", V(2), ElementKind::kValue, "x"},
            {"a", V(1), ElementKind::kTombstone, ""},
            {"c", V(3), ElementKind::kCounter, CounterValue("5", {Comp(1, 2)})}});
  ElementsView v;
  ASSERT_TRUE(DecodeElements(body, &v));
  ASSERT_EQ(v.elements.size(), 3u);
  EXPECT_EQ(v.elements[0].name, "a");
  EXPECT_EQ(v.LiveCount(), 2u);
  EXPECT_EQ(RenderElement(*v.Find("c")), "7");
  EXPECT_EQ(v.Find("zz"), nullptr);
  EXPECT_TRUE(ValidateElements(body, false));
  EXPECT_FALSE(ValidateElements(body, true));  // a set holds no values or counters
  EXPECT_TRUE(ValidateBody(ValueType::kHash, body).ok());
  EXPECT_EQ(NewestElementVersion(body), V(3));
  EXPECT_EQ(ElementCount(ValueType::kHash, body), 3u);
  EXPECT_FALSE(EmptyTyped(ValueType::kHash, body));
  EXPECT_TRUE(EmptyTyped(ValueType::kSet, Body({{"a", V(1), ElementKind::kTombstone, ""}})));
  EXPECT_TRUE(ValidateElements(Body({}), true));
}

TEST(ElementsTest, RefusesMalformedBodies) {
  ElementsView v;
  EXPECT_FALSE(DecodeElements("", &v));
  EXPECT_FALSE(DecodeElements("garbage garbage", &v));
  std::string body = Body({{"a", V(1), ElementKind::kValue, "x"}});
  EXPECT_FALSE(DecodeElements(body.substr(0, body.size() - 1), &v));
  EXPECT_FALSE(DecodeElements(body + "x", &v));
  std::string wrong_digest = body;
  wrong_digest[1] ^= 1;
  EXPECT_TRUE(DecodeElements(wrong_digest, &v));
  EXPECT_FALSE(ValidateElements(wrong_digest, false));
  // Unsorted or duplicate names.
  std::vector<ElementView> dup = {{"a", V(1), ElementKind::kValue, "x"},
                                  {"a", V(2), ElementKind::kValue, "y"}};
  EXPECT_FALSE(DecodeElements(EncodeElements(dup), &v));
  // A count larger than the bytes could hold.
  std::string huge = body;
  huge[25] = huge[26] = huge[27] = huge[28] = '\xff';  // the count, after the floor
  EXPECT_FALSE(DecodeElements(huge, &v));
  // An unknown kind; a counter that does not decode.
  std::vector<ElementView> bad_counter = {{"a", V(1), ElementKind::kCounter, "nope"}};
  EXPECT_FALSE(ValidateElements(EncodeElements(bad_counter), false));
  std::string bad_kind = body;
  bad_kind[kElementsHeader + 4 + 1 + 16] = 9;
  EXPECT_FALSE(DecodeElements(bad_kind, &v));
}

TEST(ElementsTest, LastWriterWinsPerElementAndTombstonesRemove) {
  const std::string a =
      Body({{"f", V(1), ElementKind::kValue, "old"}, {"g", V(5), ElementKind::kValue, "g1"}});
  const std::string b = Body({{"f", V(2), ElementKind::kValue, "new"},
                              {"g", V(4), ElementKind::kTombstone, ""},
                              {"h", V(3), ElementKind::kValue, "h1"}});
  std::string m1, m2;
  ASSERT_TRUE(MergeElements(a, b, &m1));
  ASSERT_TRUE(MergeElements(b, a, &m2));
  EXPECT_EQ(m1, m2);
  EXPECT_TRUE(ValidateElements(m1, false));  // the incremental digest is the full one
  EXPECT_EQ(LiveOf(m1),
            (std::map<std::string, std::string>{{"f", "new"}, {"g", "g1"}, {"h", "h1"}}));
  const std::string del = Body({{"g", V(6), ElementKind::kTombstone, ""}});
  std::string m3;
  ASSERT_TRUE(MergeElements(m1, del, &m3));
  EXPECT_EQ(LiveOf(m3).count("g"), 0u);
  // A tombstone and a value of one version: the tombstone.
  std::string m4;
  ASSERT_TRUE(MergeElements(Body({{"x", V(9), ElementKind::kValue, "v"}}),
                            Body({{"x", V(9), ElementKind::kTombstone, ""}}), &m4));
  EXPECT_TRUE(LiveOf(m4).empty());
}

TEST(ElementsTest, CounterFieldsMergePerWriterAndOutrankTheirBase) {
  const std::string base = Body({{"n", V(3), ElementKind::kValue, "10"}});
  const std::string w1 =
      Body({{"n", V(3), ElementKind::kCounter, CounterValue("10", {Comp(1, 2, 0, 8)})}});
  const std::string w2 =
      Body({{"n", V(3), ElementKind::kCounter, CounterValue("10", {Comp(2, 0, 5, 9)})}});
  std::string m;
  ASSERT_TRUE(MergeElements(base, w1, &m));
  ASSERT_TRUE(MergeElements(m, w2, &m));
  EXPECT_EQ(LiveOf(m).at("n"), "7");
  EXPECT_TRUE(ValidateElements(m, false));
  EXPECT_EQ(NewestElementVersion(m), V(9, 2));
  // An HSET of a newer version replaces the counter whole.
  std::string m2;
  ASSERT_TRUE(MergeElements(m, Body({{"n", V(10), ElementKind::kValue, "1"}}), &m2));
  EXPECT_EQ(LiveOf(m2).at("n"), "1");
}

TEST(ElementsTest, PurgeDropsOldTombstonesAndRaisesTheFloor) {
  const std::string body = Body({{"a", V(5), ElementKind::kTombstone, ""},
                                 {"b", V(6), ElementKind::kValue, "x"},
                                 {"c", V(9), ElementKind::kTombstone, ""}});
  std::string purged;
  EXPECT_FALSE(PurgeElements(body, V(5, 0), &purged));  // nothing below the horizon
  ASSERT_TRUE(PurgeElements(body, V(8, 0), &purged));
  EXPECT_TRUE(ValidateElements(purged, false));  // the digest covers the floor
  ElementsView v;
  ASSERT_TRUE(DecodeElements(purged, &v));
  EXPECT_EQ(v.floor, V(5));
  ASSERT_EQ(v.elements.size(), 2u);
  EXPECT_EQ(v.elements[0].name, "b");
  EXPECT_EQ(v.elements[1].name, "c");  // younger than the horizon: kept
  EXPECT_NE(StoredDigest(purged), StoredDigest(body));
  EXPECT_LT(purged.size(), body.size());
  // A body without a floor (format 2, before purges existed) still decodes.
  std::string old_format = Body({{"b", V(6), ElementKind::kValue, "x"}});
  old_format.erase(9, 16);
  old_format[0] = 2;
  ASSERT_TRUE(DecodeElements(old_format, &v));
  EXPECT_TRUE(v.floor.IsZero());
  EXPECT_TRUE(ValidateElements(old_format, false));
}

// The replica that missed a removal for longer than the grace: it still holds the field (version
// 5); the others removed it (tombstone at 7) and purged the tombstone (floor 7). Whichever way the
// bodies meet (anti-entropy either way, a proxy merging both replies), the field stays removed.
TEST(ElementsTest, AReplicaThatMissedARemovalPastTheGraceCannotBringItBack) {
  const std::string stale =
      Body({{"f", V(5), ElementKind::kValue, "old"}, {"g", V(3), ElementKind::kValue, "kept"}});
  std::string removed;
  ASSERT_TRUE(MergeElements(stale, Body({{"f", V(7), ElementKind::kTombstone, ""}}), &removed));
  std::string purged;
  ASSERT_TRUE(PurgeElements(removed, V(100, 0), &purged));
  EXPECT_EQ(LiveOf(purged), (std::map<std::string, std::string>{{"g", "kept"}}));
  std::string m1, m2;
  ASSERT_TRUE(MergeElements(purged, stale, &m1));
  ASSERT_TRUE(MergeElements(stale, purged, &m2));
  EXPECT_EQ(m1, m2);
  EXPECT_EQ(m1, purged);
  EXPECT_TRUE(ValidateElements(m1, false));
  // Without the floor (the tombstone dropped and nothing remembered) the field came back.
  std::string forgot;
  ASSERT_TRUE(MergeElements(Body({{"g", V(3), ElementKind::kValue, "kept"}}), stale, &forgot));
  EXPECT_EQ(LiveOf(forgot).count("f"), 1u);
  // Writes after the purge are fresh (above the floor): kept, and so is a field both hold.
  std::string later;
  ASSERT_TRUE(MergeElements(m1, Body({{"f", V(20), ElementKind::kValue, "new"}}), &later));
  EXPECT_EQ(LiveOf(later), (std::map<std::string, std::string>{{"f", "new"}, {"g", "kept"}}));
  // A HINCRBY of a field the body does not hold builds on DerivedVersion(floor): above it, kept; a
  // stale counter field (its field version at or below the floor) is dropped.
  ElementsView read;
  ASSERT_TRUE(DecodeElements(m1, &read));
  const Version on_floor = DerivedVersion(read.floor, read.floor);
  std::string counted;
  ASSERT_TRUE(MergeElements(
      m1, Body({{"n", on_floor, ElementKind::kCounter, CounterValue("", {Comp(1, 4, 0, 30)})}}),
      &counted));
  EXPECT_EQ(LiveOf(counted).at("n"), "4");
  std::string stale_counter;
  ASSERT_TRUE(MergeElements(
      m1, Body({{"n", V(6), ElementKind::kCounter, CounterValue("", {Comp(1, 4, 0, 6)})}}),
      &stale_counter));
  EXPECT_EQ(LiveOf(stale_counter).count("n"), 0u);
}

TEST(ElementsTest, MergeCostsTheDeltaNotTheBody) {
  // A large body merged with a one-field delta keeps the big body's digest updated, and the result
  // validates (a full recompute agrees).
  std::vector<El> big;
  for (int i = 0; i < 2000; ++i) {
    big.push_back({"field" + std::to_string(i), V(1 + i % 7), ElementKind::kValue,
                   std::string(10, static_cast<char>('a' + i % 26))});
  }
  const std::string body = Body(big);
  std::string out;
  ASSERT_TRUE(MergeElements(body, Body({{"field7", V(100), ElementKind::kValue, "z"}}), &out));
  EXPECT_TRUE(ValidateElements(out, false));
  EXPECT_NE(StoredDigest(out), StoredDigest(body));
  EXPECT_NE(BodyDigest(ValueType::kHash, out), BodyDigest(ValueType::kHash, body));
  std::string same;
  ASSERT_TRUE(MergeElements(out, Body({}), &same));
  EXPECT_EQ(same, out);
}

// Random states as writers produce them: a few whole-key versions (a DEL's tombstone, a SET's
// string, hashes), each hash holding random elements of a few names: values, tombstones and
// counters, at a few element versions; a third of them purged at a random horizon.
std::vector<State> RandomStates(std::mt19937_64& rng, ValueType type) {
  std::vector<State> states;
  const int n = 2 + static_cast<int>(rng() % 6);
  for (int i = 0; i < n; ++i) {
    const uint64_t version = 1 + rng() % 3;
    const int kind = static_cast<int>(rng() % 10);
    if (kind == 0) {
      states.push_back(Tomb(V(version * 100 + 50)));
      continue;
    }
    if (kind == 1) {
      states.push_back(Live(V(version * 100 + 60), ValueType::kString, "s"));
      continue;
    }
    std::vector<El> els;
    for (const char* name : {"a", "b", "c", "d"}) {
      if (rng() % 2) continue;
      const uint64_t ev = 1 + rng() % 4;
      const int k = static_cast<int>(rng() % (type == ValueType::kSet ? 2 : 3));
      El e{name, V(ev, 1 + rng() % 2), static_cast<ElementKind>(k), ""};
      if (k == 0 && type == ValueType::kHash) e.value = "v" + std::to_string(rng() % 3);
      if (k == 2) {
        std::vector<CounterComponent> comps;
        for (uint64_t w = 1; w <= 3; ++w) {
          if (rng() % 2) continue;
          const uint64_t step = 1 + rng() % 9;
          comps.push_back(Comp(w, step, step / 2, 10 + step));
        }
        e.value = CounterValue("1", comps);
      }
      els.push_back(e);
    }
    std::string body = Body(els);
    if (rng() % 3 == 0) {
      // Purged on that replica: tombstones below a random horizon dropped, the floor raised.
      std::string purged;
      if (PurgeElements(body, V(1 + rng() % 5, 0), &purged)) body = purged;
    }
    const uint64_t touch = rng() % 3;
    states.push_back(
        Live(V(version * 100), type, body, touch == 0 ? Version{} : V(version * 100 + touch)));
  }
  return states;
}

void CheckLaws(ValueType type) {
  std::mt19937_64 rng(type == ValueType::kHash ? 11 : 13);
  for (int round = 0; round < 300; ++round) {
    const std::vector<State> states = RandomStates(rng, type);
    const State expected = FoldJoin(states);
    if (expected.type == type && !expected.tombstone) {
      ASSERT_TRUE(ValidateBody(type, expected.value).ok());
    }
    for (const State& s : states) ASSERT_EQ(Join(expected, s), expected);
    ASSERT_EQ(Join(expected, expected), expected);
    std::vector<size_t> order(states.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    do {
      std::vector<State> permuted;
      for (size_t i : order) permuted.push_back(states[i]);
      ASSERT_EQ(FoldJoin(permuted), expected);
    } while (std::next_permutation(order.begin(), order.end()));
    for (size_t cut = 0; cut <= states.size(); ++cut) {
      std::vector<State> left(states.begin(), states.begin() + static_cast<long>(cut));
      std::vector<State> right(states.begin() + static_cast<long>(cut), states.end());
      ASSERT_EQ(Join(FoldJoin(left), FoldJoin(right)), expected);
      ASSERT_EQ(Join(FoldJoin(right), FoldJoin(left)), expected);
    }
    // Tree shapes beyond a cut: pairwise rounds (((s0 s1) (s2 s3)) ...).
    std::vector<State> level = states;
    while (level.size() > 1) {
      std::vector<State> next;
      for (size_t i = 0; i + 1 < level.size(); i += 2) next.push_back(Join(level[i + 1], level[i]));
      if (level.size() % 2) next.push_back(level.back());
      level = next;
    }
    ASSERT_EQ(level[0], expected);
  }
}

TEST(ElementsJoinTest, HashesCommutativeAssociativeIdempotentInEveryOrderAndShape) {
  CheckLaws(ValueType::kHash);
}

TEST(ElementsJoinTest, SetsCommutativeAssociativeIdempotentInEveryOrderAndShape) {
  CheckLaws(ValueType::kSet);
}

TEST(ElementsJoinTest, WholeKeyWritesSupersedeOlderFields) {
  const State hash =
      Live(V(100), ValueType::kHash, Body({{"f", V(150), ElementKind::kValue, "x"}}));
  // A DEL at 120: every field of the hash at version 100 goes, even one written (element version
  // 150) after it: elements never cross a whole-key version.
  const State del = Tomb(V(120));
  EXPECT_EQ(Join(hash, del), del);
  // The next HSET builds on a version derived from the tombstone: above it, merged with others.
  const Version derived = DerivedVersion(V(120), V(120));
  const State again =
      Live(derived, ValueType::kHash, Body({{"g", V(200), ElementKind::kValue, "y"}}));
  const State other =
      Live(derived, ValueType::kHash, Body({{"h", V(201), ElementKind::kValue, "z"}}));
  const State j = FoldJoin({hash, del, again, other});
  EXPECT_EQ(j.version, derived);
  EXPECT_EQ(LiveOf(j.value), (std::map<std::string, std::string>{{"g", "y"}, {"h", "z"}}));
  // A SET (a string at a fresh version) replaces the hash whole.
  const State set = Live(V(300), ValueType::kString, "plain");
  EXPECT_EQ(Join(j, set), set);
}

}  // namespace
}  // namespace shoal::typed
