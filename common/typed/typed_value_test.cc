#include "common/typed/typed_value.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "common/typed/counter.h"

namespace shoal::typed {
namespace {

Version V(uint64_t hlc, uint64_t writer = 7) { return Version{hlc, writer}; }

State Live(Version v, ValueType type, std::string value, Version e = {}, int64_t expire = 0) {
  State s;
  s.found = true;
  s.version = v;
  s.expiry_version = e.IsZero() ? v : e;
  s.expire_at_ms = expire;
  s.type = type;
  s.value = std::move(value);
  return s;
}

State Tomb(Version v, Version e = {}) {
  State s;
  s.found = true;
  s.tombstone = true;
  s.version = v;
  s.expiry_version = e.IsZero() ? v : e;
  return s;
}

std::string CounterBody(std::string base, std::vector<CounterComponent> comps) {
  Counter c;
  c.base = std::move(base);
  for (const auto& x : comps) c.SetComponent(x);
  return c.Encode();
}

CounterComponent Comp(uint64_t writer, uint64_t p, uint64_t n = 0, uint64_t hlc = 1,
                      long double pf = 0, long double nf = 0) {
  CounterComponent c;
  c.writer = writer;
  c.version = V(hlc, writer);
  c.p = p;
  c.n = n;
  c.pf = pf;
  c.nf = nf;
  return c;
}

State FoldJoin(const std::vector<State>& states) {
  State acc;
  for (const State& s : states) acc = Join(acc, s);
  return acc;
}

TEST(CounterTest, EncodeDecodeRoundTripAndCanonical) {
  Counter c;
  c.base = "10";
  c.SetComponent(Comp(9, 3, 1, 5, 0.5L, 0.25L));
  c.SetComponent(Comp(2, 1));
  const std::string body = c.Encode();
  Counter d;
  ASSERT_TRUE(Counter::Decode(body, &d));
  EXPECT_EQ(c, d);
  EXPECT_EQ(d.Encode(), body);
  EXPECT_EQ(d.components[0].writer, 2u);  // sorted by writer
}

TEST(CounterTest, DecodeRefusesMalformedBodies) {
  Counter d;
  EXPECT_FALSE(Counter::Decode("", &d));
  EXPECT_FALSE(Counter::Decode("garbage!!", &d));
  std::string body = CounterBody("", {Comp(1, 1)});
  EXPECT_FALSE(Counter::Decode(body.substr(0, body.size() - 1), &d));
  body[0] = 9;  // unknown format
  EXPECT_FALSE(Counter::Decode(body, &d));
  // Unsorted components.
  Counter c;
  c.components = {Comp(5, 1), Comp(3, 1)};
  EXPECT_FALSE(Counter::Decode(c.Encode(), &d));
  // Negative float part.
  Counter neg;
  neg.components = {Comp(1, 0, 0, 1, -1.0L)};
  EXPECT_FALSE(Counter::Decode(neg.Encode(), &d));
}

TEST(CounterTest, RenderSumsComponentsOverTheBase) {
  Counter c;
  c.base = "10";
  c.SetComponent(Comp(1, 5, 2));
  c.SetComponent(Comp(2, 0, 20));
  EXPECT_EQ(c.Render(), "-7");
  c.SetComponent(Comp(3, 0, 0, 1, 0.5L));
  EXPECT_EQ(c.Render(), "-6.5");
  c.SetComponent(Comp(3, 0, 0, 1, 0.5L, 0.5L));
  EXPECT_EQ(c.Render(), "-7");
}

TEST(CounterTest, RenderIsExactPastInt64WhenWritersTogetherOverflow) {
  Counter c;
  c.SetComponent(Comp(1, uint64_t{1} << 63));
  c.SetComponent(Comp(2, uint64_t{1} << 63));
  EXPECT_EQ(c.Render(), "18446744073709551616");
  int64_t r = 0;
  EXPECT_EQ(IncrementBy(c, 3, V(9), 1, &r), CounterError::kNotInteger);
}

TEST(CounterTest, IncrementByFollowsRedisChecks) {
  Counter c;
  int64_t r = 0;
  ASSERT_EQ(IncrementBy(c, 1, V(1), 5, &r), CounterError::kNone);
  EXPECT_EQ(r, 5);
  ASSERT_EQ(IncrementBy(c, 1, V(2), -7, &r), CounterError::kNone);
  EXPECT_EQ(r, -2);
  EXPECT_EQ(c.ComponentOf(1).p, 5u);
  EXPECT_EQ(c.ComponentOf(1).n, 7u);
  EXPECT_EQ(c.ComponentOf(1).version, V(2));
  Counter big;
  big.base = "9223372036854775807";
  EXPECT_EQ(IncrementBy(big, 1, V(1), 1, &r), CounterError::kOverflow);
  Counter small;
  small.base = "-9223372036854775808";
  EXPECT_EQ(IncrementBy(small, 1, V(1), -1, &r), CounterError::kOverflow);
  ASSERT_EQ(IncrementBy(small, 1, V(1), 0, &r), CounterError::kNone);
  EXPECT_EQ(r, std::numeric_limits<int64_t>::min());
  Counter text;
  text.base = "abc";
  EXPECT_EQ(IncrementBy(text, 1, V(1), 1, &r), CounterError::kNotInteger);
  Counter fl;
  fl.base = "1.5";
  EXPECT_EQ(IncrementBy(fl, 1, V(1), 1, &r), CounterError::kNotInteger);
  Counter minus;
  ASSERT_EQ(IncrementBy(minus, 1, V(1), std::numeric_limits<int64_t>::min(), &r),
            CounterError::kNone);
  EXPECT_EQ(minus.Render(), "-9223372036854775808");
}

TEST(CounterTest, IncrementByFloatFormatsAsRedis) {
  Counter c;
  c.base = "10";
  std::string r;
  ASSERT_EQ(IncrementByFloat(c, 1, V(1), 0.1L, &r), CounterError::kNone);
  EXPECT_EQ(r, "10.1");
  EXPECT_EQ(c.Render(), "10.1");
  ASSERT_EQ(IncrementByFloat(c, 1, V(2), -0.1L, &r), CounterError::kNone);
  EXPECT_EQ(r, "10");
  int64_t i = 0;
  ASSERT_EQ(IncrementBy(c, 2, V(3), 1, &i), CounterError::kNone);  // "10" is an integer again
  EXPECT_EQ(i, 11);
  EXPECT_EQ(c.Render(), "11");
  Counter big;
  big.base = "1";
  EXPECT_EQ(IncrementByFloat(big, 1, V(1), HUGE_VALL, &r), CounterError::kNanOrInfinity);
  Counter text;
  text.base = "x";
  EXPECT_EQ(IncrementByFloat(text, 1, V(1), 1, &r), CounterError::kNotFloat);
  EXPECT_EQ(FormatLongDouble(5.0e3L), "5000");
  EXPECT_EQ(FormatLongDouble(-0.0L), "0");
  EXPECT_EQ(FormatLongDouble(3.0e-5L), "0.00003");
}

TEST(CounterTest, ParsersFollowRedis) {
  int64_t v = 0;
  EXPECT_TRUE(ParseRedisInteger("0", &v));
  EXPECT_TRUE(ParseRedisInteger("-12", &v));
  EXPECT_EQ(v, -12);
  for (const char* bad : {"", "-0", "+1", " 1", "01", "1 ", "9223372036854775808", "1.0", "-"}) {
    EXPECT_FALSE(ParseRedisInteger(bad, &v)) << bad;
  }
  long double d = 0;
  EXPECT_TRUE(ParseRedisLongDouble("1.5e3", &d));
  EXPECT_EQ(d, 1500.0L);
  for (const char* bad : {"", " 1", "1x", "nan", "1e99999"}) {
    EXPECT_FALSE(ParseRedisLongDouble(bad, &d)) << bad;
  }
}

TEST(JoinTest, GreaterVersionWinsWhole) {
  const State a = Live(V(5), ValueType::kCounter, CounterBody("", {Comp(1, 3)}));
  const State b = Live(V(6), ValueType::kString, "x");
  EXPECT_EQ(Join(a, b), b);
  EXPECT_EQ(Join(b, a), b);
  const State t = Tomb(V(7));
  EXPECT_EQ(Join(a, t), t);
}

TEST(JoinTest, SameVersionMergesCountersPerWriter) {
  const State a = Live(V(5), ValueType::kCounter, CounterBody("", {Comp(1, 3), Comp(2, 1)}));
  const State b = Live(V(5), ValueType::kCounter, CounterBody("", {Comp(1, 2, 4), Comp(3, 9)}));
  const State j = Join(a, b);
  Counter c;
  ASSERT_TRUE(Counter::Decode(j.value, &c));
  EXPECT_EQ(c.Render(), std::to_string(3 - 4 + 1 + 9));
  EXPECT_EQ(Join(b, a), j);
}

TEST(JoinTest, CounterOutranksTheStringItWasBuiltOn) {
  const State s = Live(V(5), ValueType::kString, "10");
  const State c = Live(V(5), ValueType::kCounter, CounterBody("10", {Comp(1, 1)}));
  EXPECT_EQ(Join(s, c).type, ValueType::kCounter);
  EXPECT_EQ(Join(c, s), Join(s, c));
}

TEST(JoinTest, SameVersionTakesTheGreaterExpiryAndMergesBodies) {
  const State a = Live(V(5), ValueType::kCounter, CounterBody("", {Comp(1, 3)}), V(8), 1000);
  const State b = Live(V(5), ValueType::kCounter, CounterBody("", {Comp(2, 1)}));
  const State j = Join(a, b);
  EXPECT_EQ(j.expiry_version, V(8));
  EXPECT_EQ(j.expire_at_ms, 1000);
  Counter c;
  ASSERT_TRUE(Counter::Decode(j.value, &c));
  EXPECT_EQ(c.components.size(), 2u);
}

TEST(JoinTest, TombstoneOfTheSamePairWins) {
  const State a = Live(V(5), ValueType::kCounter, CounterBody("", {Comp(1, 3)}), V(8), 1000);
  const State t = Tomb(V(5), V(8));
  EXPECT_EQ(Join(a, t), t);
  EXPECT_EQ(Join(t, a), t);
  const State later = Live(V(5), ValueType::kCounter, CounterBody("", {Comp(1, 3)}), V(9), 2000);
  EXPECT_EQ(Join(t, later), later);
}

TEST(JoinTest, DerivedVersionIsAboveTheBaseAndBelowTheNextWrite) {
  const Version d = DerivedVersion(V(10, 3), V(12, 4));
  EXPECT_GT(d, V(12, 4));
  EXPECT_LT(d, V(13, 0));
  EXPECT_EQ(DerivedVersion({}, {}), (Version{0, 1}));
  EXPECT_EQ(DerivedVersion(V(10, UINT64_MAX), {}), (Version{11, 0}));
}

// The lattice laws on random states built as writers build them: a few whole-key versions (some
// strings, some tombstones, some touched), each with counters whose components grow per writer.
std::vector<State> RandomStates(std::mt19937_64& rng) {
  std::vector<State> states;
  const int n = 2 + static_cast<int>(rng() % 6);
  for (int i = 0; i < n; ++i) {
    const uint64_t version = 1 + rng() % 3;
    const int kind = static_cast<int>(rng() % 10);
    if (kind == 0) {
      // A DEL: its own version (a tombstone of a counter's version comes only from expiry, the
      // corner typed_value.h names).
      states.push_back(Tomb(V(version * 100 + 50)));
      continue;
    }
    if (kind == 1) {
      states.push_back(Live(V(version * 100), ValueType::kString, "10"));
      continue;
    }
    std::vector<CounterComponent> comps;
    for (uint64_t w = 1; w <= 4; ++w) {
      if (rng() % 2) continue;
      // A writer's parts grow with its version: part = version of its last write.
      const uint64_t step = 1 + rng() % 20;
      comps.push_back(Comp(w, step, step / 3, step, (rng() % 3) * 0.25L, 0));
    }
    // A touch on some replicas: a greater expiry_version of the same version (never expired).
    const uint64_t touch = rng() % 3;
    const Version e = touch == 0 ? Version{} : V(version * 100 + touch);
    states.push_back(Live(V(version * 100), ValueType::kCounter, CounterBody("10", comps), e,
                          touch == 0 ? 0 : static_cast<int64_t>(touch) * 1000));
  }
  return states;
}

TEST(JoinTest, CommutativeAssociativeIdempotentInEveryOrder) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 300; ++round) {
    std::vector<State> states = RandomStates(rng);
    const State expected = FoldJoin(states);
    // Idempotent: joining anything already included changes nothing.
    for (const State& s : states) ASSERT_EQ(Join(expected, s), expected);
    ASSERT_EQ(Join(expected, expected), expected);
    // Every order (permutations of up to 7 states) gives the same state.
    std::vector<size_t> order(states.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    do {
      std::vector<State> permuted;
      for (size_t i : order) permuted.push_back(states[i]);
      ASSERT_EQ(FoldJoin(permuted), expected);
    } while (std::next_permutation(order.begin(), order.end()));
    // Associative across trees: join the two halves separately, then together.
    for (size_t cut = 0; cut <= states.size(); ++cut) {
      std::vector<State> left(states.begin(), states.begin() + static_cast<long>(cut));
      std::vector<State> right(states.begin() + static_cast<long>(cut), states.end());
      ASSERT_EQ(Join(FoldJoin(left), FoldJoin(right)), expected);
      ASSERT_EQ(Join(FoldJoin(right), FoldJoin(left)), expected);
    }
  }
}

TEST(JoinTest, BodyDigestDiffersWithTheBody) {
  const std::string a = CounterBody("", {Comp(1, 3)});
  const std::string b = CounterBody("", {Comp(1, 4)});
  EXPECT_NE(BodyDigest(ValueType::kCounter, a), BodyDigest(ValueType::kCounter, b));
  EXPECT_EQ(BodyDigest(ValueType::kString, "x"), 0u);
  EXPECT_NE(BodyDigest(ValueType::kCounter, a), 0u);
}

}  // namespace
}  // namespace shoal::typed
