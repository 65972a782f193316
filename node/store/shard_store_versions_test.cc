// ShardStore: the (version, expiry_version) pair of docs/replication.md. Every arrival order of a
// set of whole-state writes ends in the same state; Touch changes the expiry version only.

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "common/clock/clock.h"
#include "common/clock/hlc.h"
#include "node/store/shard_store.h"
#include "node/store/shard_store_test_util.h"

namespace shoal::node {
namespace {

// ---- convergence: every arrival order of a set of writes ends in the same state ---------------

struct Op {
  enum Kind { kPut, kDel, kTouch } kind;
  Version version;
  std::string value;
  int64_t expire_at_ms = 0;
};

struct State {
  bool found;
  bool tombstone;
  std::string value;
  Version version;
  int64_t expire_at_ms;
  Version expiry_version;
  bool operator==(const State&) const = default;
};

State ApplyInOrder(const std::vector<Op>& ops, const std::vector<size_t>& order) {
  FakeClock clock;
  ShardStore store(clock, kBigLimit, kGraceMs);
  for (size_t i : order) {
    const Op& op = ops[i];
    if (op.kind == Op::kTouch) {
      store.Touch("key", op.version, op.expire_at_ms, false);
      continue;
    }
    PutRequest request;
    request.key = "key";
    request.value = op.value;
    request.version = op.version;
    request.expire_at_ms = op.expire_at_ms;
    request.tombstone = op.kind == Op::kDel;
    store.Put(request);
  }
  GetResult got = store.Get("key");
  return State{got.found,   got.tombstone,    std::string(got.value),
               got.version, got.expire_at_ms, got.expiry_version};
}

void ExpectAllOrdersConverge(const std::vector<Op>& ops, const State& expected) {
  std::vector<size_t> order(ops.size());
  std::iota(order.begin(), order.end(), 0);
  int orders = 0;
  do {
    State state = ApplyInOrder(ops, order);
    std::string trace;
    for (size_t i : order) trace += std::to_string(i) + " ";
    EXPECT_EQ(state, expected) << "order: " << trace << " got value '" << state.value
                               << "' version " << state.version.hlc << "/" << state.version.writer;
    ++orders;
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_GT(orders, 1);
}

TEST(ShardStoreConvergenceTest, PutsAndDeleteConvergeToNewest) {
  const int64_t far = FakeClock().NowMs() + 1'000'000;
  // Newest is a delete.
  ExpectAllOrdersConverge({{Op::kPut, V(1), "a"}, {Op::kPut, V(2), "b", far}, {Op::kDel, V(3), ""}},
                          State{true, true, "", V(3), 0, V(3)});
  // Newest is a put over a delete.
  ExpectAllOrdersConverge({{Op::kPut, V(1), "a"},
                           {Op::kDel, V(2), ""},
                           {Op::kPut, V(3), "c", far},
                           {Op::kDel, V(0, 9), ""}},
                          State{true, false, "c", V(3), far, V(3)});
}

TEST(ShardStoreConvergenceTest, EqualHlcIsDecidedByWriter) {
  ExpectAllOrdersConverge({{Op::kPut, V(7, 1), "one"},
                           {Op::kPut, V(7, 3), "three"},
                           {Op::kDel, V(7, 2), ""},
                           {Op::kPut, V(7, 3), "three"}},  // a duplicate delivery
                          State{true, false, "three", V(7, 3), 0, V(7, 3)});
}

TEST(ShardStoreConvergenceTest, TouchesBelowTheNewestPutConverge) {
  const int64_t t1 = FakeClock().NowMs() + 10'000;
  const int64_t t4 = FakeClock().NowMs() + 40'000;
  ExpectAllOrdersConverge({{Op::kPut, V(1), "a"},
                           {Op::kTouch, V(2), "", t1},
                           {Op::kTouch, V(3), "", 0},
                           {Op::kPut, V(4), "d", t4}},
                          State{true, false, "d", V(4), t4, V(4)});
  // Touches under a newest delete.
  ExpectAllOrdersConverge({{Op::kPut, V(1), "a"},
                           {Op::kTouch, V(2), "", t1},
                           {Op::kDel, V(5), ""},
                           {Op::kTouch, V(3), ""}},
                          State{true, true, "", V(5), 0, V(5)});
}

TEST_F(ShardStoreTest, TouchJudgesItsVersionAgainstTheExpiryVersionNotTheValueVersion) {
  Set("k", "v", V(5));
  // Older than the value version: a Touch of an older value this replica never saw. Stale.
  EXPECT_FALSE(store_.Touch("k", V(4), Now() + 100, false).applied);
  EXPECT_TRUE(store_.Touch("k", V(7), Now() + 700, false).applied);
  // Between the value version and the held expiry version: stale too.
  EXPECT_FALSE(store_.Touch("k", V(6), Now() + 600, false).applied);
  GetResult got = store_.Get("k");
  EXPECT_EQ(got.version, V(5));
  EXPECT_EQ(got.expiry_version, V(7));
  EXPECT_EQ(got.expire_at_ms, Now() + 700);
}

// docs/replication.md: a replica that applied a Touch to a stale value holds (V_old, E); the newer
// value write (V_new, V_new) beats it whole, in either order, expiry included.
TEST(ShardStoreConvergenceTest, TouchOnAStaleValueThenANewerPutNewerWinsWhole) {
  const int64_t t = FakeClock().NowMs() + 5'000;
  const int64_t far = FakeClock().NowMs() + 900'000;
  // A replica that missed the newer SET (V4) applies the EXPIRE (E = V3) to its stale value and
  // holds (V1, V3); the newer put's pair (V4, V4) beats it at the first comparison: the newer
  // value wins whole, with its own (no) expiry. In the other order the touch is stale (V3 is not
  // greater than the held expiry version V4): the same state.
  ExpectAllOrdersConverge(
      {{Op::kPut, V(1), "old", far}, {Op::kTouch, V(3), "", t}, {Op::kPut, V(4), "new"}},
      State{true, false, "new", V(4), 0, V(4)});
  FakeClock clock;
  ShardStore store(clock, kBigLimit, kGraceMs);
  PutRequest put;
  put.key = "key";
  put.value = "old";
  put.version = V(1);
  put.expire_at_ms = far;
  store.Put(put);
  EXPECT_TRUE(store.Touch("key", V(3), t, false).applied);
  put.value = "new";
  put.version = V(4);
  put.expire_at_ms = 0;
  EXPECT_EQ(store.Put(put).status, ApplyStatus::kApplied);
  GetResult got = store.Get("key");
  EXPECT_EQ(got.value, "new");
  EXPECT_EQ(got.version, V(4));
  EXPECT_EQ(got.expiry_version, V(4));
  EXPECT_EQ(got.expire_at_ms, 0);
}

TEST_F(ShardStoreTest, WholeStatePutCarriesBothVersions) {
  Set("k", "v", V(5));
  PutRequest repair;
  repair.key = "k";
  repair.value = "v";
  repair.version = V(5);
  repair.expiry_version = V(8);
  repair.expire_at_ms = Now() + 800;
  PutResult r = store_.Put(repair);
  EXPECT_EQ(r.status, ApplyStatus::kApplied);
  EXPECT_EQ(r.current, V(5));
  EXPECT_EQ(r.current_expiry_version, V(8));
  EXPECT_EQ(r.previous_expiry_version, V(5));
  EXPECT_EQ(store_.Get("k").expiry_version, V(8));
  // An expiry version below the version counts as the version (a client write).
  repair.version = V(9);
  repair.expiry_version = V(2);
  r = store_.Put(repair);
  EXPECT_EQ(r.status, ApplyStatus::kApplied);
  EXPECT_EQ(r.current_expiry_version, V(9));
  // A stale reply reports the held pair.
  repair.version = V(9);
  repair.expiry_version = V(9);
  r = store_.Put(repair);
  EXPECT_EQ(r.status, ApplyStatus::kStale);
  EXPECT_EQ(r.current, V(9));
  EXPECT_EQ(r.current_expiry_version, V(9));
}

// ---- order independence under random permutations -----------------------------------------------

// A key's whole state as a replica reports it (what anti-entropy and read-repair copy).
struct WholeState {
  bool found = false;
  bool tombstone = false;
  std::string value;
  Version version;
  Version expiry_version;
  int64_t expire_at_ms = 0;
  bool operator==(const WholeState&) const = default;
};

WholeState ReadWhole(ShardStore& store, std::string_view key) {
  const GetResult got = store.Get(key);
  return {got.found,   got.tombstone,      std::string(got.value),
          got.version, got.expiry_version, got.expire_at_ms};
}

void PutWhole(ShardStore& store, std::string_view key, const WholeState& state) {
  if (!state.found) return;
  PutRequest put;
  put.key = key;
  put.value = state.value;
  put.tombstone = state.tombstone;
  put.version = state.version;
  put.expiry_version = state.expiry_version;
  put.expire_at_ms = state.expire_at_ms;
  store.Put(put);
}

struct RandomOp {
  bool touch = false;
  PutRequest put;  // key, value, pair, expiry, tombstone (for a touch: expiry_version, expiry)
  std::string value;
};

void Apply(ShardStore& store, const RandomOp& op) {
  if (op.touch) {
    store.Touch(op.put.key, op.put.expiry_version, op.put.expire_at_ms, false);
  } else {
    PutRequest put = op.put;
    put.value = op.value;
    store.Put(put);
  }
}

// Two replicas receive the same puts (client writes and whole-state writes: deletes, expiries,
// expiry versions) and touches in different random orders. Puts alone commute exactly. A Touch
// applies to whatever live value a replica holds when it arrives, so with touches the replicas may
// differ, but only in a way the pair orders: after one exchange of whole states (read-repair or
// anti-entropy, a Put of the other's state) they are identical, and hold the greatest pair
// either held. Nothing expires during the test (far expiries), so the clocks agree.
TEST(ShardStoreOrderIndependenceTest, RandomPermutationsOfPutsAndTouchesConverge) {
  const uint64_t seed = TestSeed(20261203);
  SCOPED_TRACE("seed " + std::to_string(seed) +
               " (rerun with SHOAL_TEST_SEED=" + std::to_string(seed) + ")");
  std::mt19937_64 rng(seed);
  auto pick = [&](uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng); };
  for (int round = 0; round < 500; ++round) {
    FakeClock clock_a;
    FakeClock clock_b;
    const int64_t far = clock_a.NowMs() + 1'000'000;
    std::vector<RandomOp> ops(2 + pick(7));
    for (size_t i = 0; i < ops.size(); ++i) {
      RandomOp& op = ops[i];
      op.put.key = "key";
      op.touch = pick(3) == 0;
      const Version v{1 + pick(6), 1 + pick(2)};
      if (op.touch) {
        op.put.expiry_version = v;
        op.put.expire_at_ms = pick(2) == 0 ? 0 : far + static_cast<int64_t>(pick(1000));
        continue;
      }
      op.value = "v" + std::to_string(i);
      op.put.version = v;
      if (pick(3) == 0) op.put.expiry_version = Version{v.hlc + pick(3), 1 + pick(2)};
      op.put.tombstone = pick(4) == 0;
      op.put.expire_at_ms = pick(2) == 0 ? 0 : far + static_cast<int64_t>(pick(1000));
    }
    // The same value version always carries the same value (one version names one write).
    for (RandomOp& op : ops) {
      for (const RandomOp& other : ops) {
        if (!op.touch && !other.touch && other.put.version == op.put.version) {
          op.value = other.value;
          op.put.tombstone = other.put.tombstone;
          if (op.put.expiry_version <= op.put.version &&
              other.put.expiry_version <= other.put.version)
            op.put.expire_at_ms = other.put.expire_at_ms;
        }
      }
    }
    // Within one value version, one expiry version names one expiry.
    for (RandomOp& op : ops) {
      for (const RandomOp& other : ops) {
        if (std::max(op.put.version, op.put.expiry_version) ==
            std::max(other.put.version, other.put.expiry_version)) {
          op.put.expire_at_ms = other.put.expire_at_ms;
        }
      }
    }
    std::vector<size_t> order_a(ops.size());
    std::iota(order_a.begin(), order_a.end(), 0);
    std::vector<size_t> order_b = order_a;
    std::shuffle(order_a.begin(), order_a.end(), rng);
    std::shuffle(order_b.begin(), order_b.end(), rng);
    ShardStore a(clock_a, kBigLimit, kGraceMs);
    ShardStore b(clock_b, kBigLimit, kGraceMs);
    for (size_t i : order_a) Apply(a, ops[i]);
    for (size_t i : order_b) Apply(b, ops[i]);

    const bool touches =
        std::any_of(ops.begin(), ops.end(), [](const RandomOp& op) { return op.touch; });
    const WholeState sa = ReadWhole(a, "key");
    const WholeState sb = ReadWhole(b, "key");
    if (!touches) {
      ASSERT_EQ(sa, sb) << "round " << round;
    }
    PutWhole(a, "key", sb);
    PutWhole(b, "key", sa);
    const WholeState fa = ReadWhole(a, "key");
    const WholeState fb = ReadWhole(b, "key");
    ASSERT_EQ(fa, fb) << "round " << round;
    // The greater of the two pairs won whole.
    const auto pair = [](const WholeState& w) { return std::pair(w.version, w.expiry_version); };
    ASSERT_EQ(pair(fa), std::max(pair(sa), pair(sb))) << "round " << round;
    ASSERT_EQ(fa, pair(sa) >= pair(sb) ? sa : sb) << "round " << round;
  }
}

}  // namespace
}  // namespace shoal::node
