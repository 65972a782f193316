#include "proxy/quorum/key_operation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <deque>
#include <numeric>
#include <string>
#include <vector>

#include "common/clock/clock.h"
#include "common/clock/hlc.h"
#include "proxy/quorum/consistency.h"

namespace shoal::proxy {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;
constexpr uint64_t kWriter = 7;

Version V(int64_t wall_ms, uint64_t writer = 1) {
  return Version{HlcFromParts(wall_ms, 0), writer};
}

// One replica's copy of the key, following the node rules of docs/replication.md: entries ordered
// by (version, expiry_version), the greater pair wins whole; a Touch applies only to a live value
// with a newer expiry version. A node restarted empty and warming up answers reads NotReady.
struct FakeNode {
  EntryState state;
  std::string value;
  bool down = false;          // every request fails
  bool not_ready = false;     // Gets are answered NotReady; writes apply
  bool refuse_hints = false;  // HintPuts are answered stored = false (spool full)
  std::string reply_buffer;
  int gets = 0, value_gets = 0, puts = 0, touches = 0;
  struct Hint {
    int owner;
    Version version;
    std::string value;
    bool tombstone;
    int64_t expire_at_ms;
  };
  std::vector<Hint> hints;  // hints stored (a fallback)

  static FakeNode Live(std::string v, Version version, int64_t expire_at = 0,
                       Version expiry_version = {}) {
    FakeNode n;
    n.state.found = true;
    n.state.version = version;
    n.state.expiry_version = expiry_version.IsZero() ? version : expiry_version;
    n.state.expire_at_ms = expire_at;
    n.value = std::move(v);
    return n;
  }
  static FakeNode Tombstone(Version version) {
    FakeNode n;
    n.state.found = true;
    n.state.tombstone = true;
    n.state.version = n.state.expiry_version = version;
    return n;
  }
  bool live(int64_t now) const { return state.Live(now); }
};

// Runs a KeyOperation against FakeNodes. Requests are delivered in `order` (replica indexes,
// first the earliest); replicas absent from `order` never answer until Finish() fails them.
class Harness {
 public:
  explicit Harness(std::vector<FakeNode> nodes, int64_t max_offset_ms = 60'000)
      : hlc(clock_, max_offset_ms), nodes_(std::move(nodes)) {}
  // The last `fallbacks` nodes are not owners: they follow the preference list (hint holders).
  struct Fallbacks {
    int count;
  };
  Harness(std::vector<FakeNode> nodes, Fallbacks fallbacks)
      : hlc(clock_, 60'000), nodes_(std::move(nodes)), fallbacks_(fallbacks.count) {}

  FakeClock clock_{kNow};
  HybridLogicalClock hlc;
  KeyOperation op;
  std::vector<FakeNode>& nodes() { return nodes_; }
  std::vector<NodeRequest> sent;  // every request, in sending order

  void Start(KeyPlan plan, int required) {
    plan.n = static_cast<int>(nodes_.size()) - fallbacks_;
    plan.fallbacks = fallbacks_;
    plan.required = required;
    op.Start(plan, hlc, kWriter, clock_.NowMs());
    Collect();
  }

  // Delivers every request in flight, replicas in `order` first (each replica's requests in
  // sending order), repeatedly until nothing is in flight; requests to replicas not in `order`
  // stay in flight until FailRest().
  void Deliver(const std::vector<int>& order) {
    for (bool progress = true; progress;) {
      progress = false;
      for (int r : order) {
        for (size_t i = 0; i < inflight_.size(); ++i) {
          if (inflight_[i].replica != r) continue;
          const NodeRequest req = inflight_[i];
          inflight_.erase(inflight_.begin() + static_cast<long>(i));
          Answer(req);
          progress = true;
          break;
        }
        if (progress) break;
      }
    }
  }
  void DeliverAll() { Deliver({0, 1, 2, 3, 4, 5, 6, 7}); }
  // Fails replica r's oldest request in flight (a timeout).
  void Fail(int r) {
    for (size_t i = 0; i < inflight_.size(); ++i) {
      if (inflight_[i].replica != r) continue;
      const NodeRequest req = inflight_[i];
      inflight_.erase(inflight_.begin() + static_cast<long>(i));
      op.OnFailure(req.tag, clock_.NowMs());
      return Collect();
    }
    ADD_FAILURE() << "nothing in flight to replica " << r;
  }
  // Delivers replica r's oldest request in flight.
  void Step(int r) {
    for (size_t i = 0; i < inflight_.size(); ++i) {
      if (inflight_[i].replica != r) continue;
      const NodeRequest req = inflight_[i];
      inflight_.erase(inflight_.begin() + static_cast<long>(i));
      return Answer(req);
    }
    ADD_FAILURE() << "nothing in flight to replica " << r;
  }
  void FailRest() {
    while (!inflight_.empty()) {
      const NodeRequest req = inflight_.front();
      inflight_.pop_front();
      op.OnFailure(req.tag, clock_.NowMs());
      Collect();
    }
  }

  // Sends the repairs the way the worker does (whole-state puts).
  int Repair() {
    EXPECT_TRUE(op.finished());
    const uint32_t targets = op.repair_targets();
    int count = 0;
    for (size_t r = 0; r < nodes_.size(); ++r) {
      if (((targets >> r) & 1) == 0) continue;
      const EntryState& s = op.repair_state();
      ApplyPut(nodes_[r], s.version, s.effective_expiry_version(), s.tombstone, s.expire_at_ms,
               op.repair_value());
      ++count;
    }
    return count;
  }

  int CountSent(NodeRequest::Type type) const {
    int c = 0;
    for (const auto& r : sent) c += r.type == type ? 1 : 0;
    return c;
  }

 private:
  void Collect() {
    for (const NodeRequest& r : op.requests()) {
      NodeRequest copy = r;
      values_.emplace_back(r.value);  // the machine's views are valid until its next input
      copy.value = values_.back();
      inflight_.push_back(copy);
      sent.push_back(copy);
    }
    op.ClearRequests();
  }

  static void ApplyPut(FakeNode& n, Version v, Version e, bool tombstone, int64_t expire_at,
                       std::string_view value) {
    EntryState incoming;
    incoming.found = true;
    incoming.tombstone = tombstone;
    incoming.version = v;
    incoming.expiry_version = e;
    incoming.expire_at_ms = expire_at;
    if (!incoming.NewerThan(n.state)) return;
    n.state = incoming;
    n.value = tombstone ? std::string() : std::string(value);
  }

  void Answer(const NodeRequest& req) {
    FakeNode& n = nodes_[req.replica];
    const int64_t now = clock_.NowMs();
    if (n.down) {
      op.OnFailure(req.tag, now);
      return Collect();
    }
    switch (req.type) {
      case NodeRequest::Type::kGet: {
        ++n.gets;
        if (n.not_ready) {
          op.OnNotReady(req.tag, now);
          break;
        }
        if (req.want_value) ++n.value_gets;
        GetReply reply;
        reply.state = n.state;
        if (n.state.found && !n.live(now)) reply.state.tombstone = true;  // expired
        reply_buffer_ = req.want_value ? n.value : "";
        reply.value = reply_buffer_;
        op.OnGet(req.tag, reply, now);
        break;
      }
      case NodeRequest::Type::kPut: {
        ++n.puts;
        PutReply reply;
        reply.previous_found = n.live(now);
        reply.previous_version = n.state.version;
        const EntryState before = n.state;
        ApplyPut(n, req.version, req.version, req.tombstone, req.expire_at_ms, req.value);
        reply.applied = !(n.state.SamePair(before) && before.found);
        reply.current = n.state.version;
        reply.current_expiry_version = n.state.expiry_version;
        reply.not_ready = n.not_ready;
        op.OnPut(req.tag, reply, now);
        break;
      }
      case NodeRequest::Type::kTouch: {
        ++n.touches;
        TouchReply reply;
        reply.previous = n.state;
        if (n.state.found && !n.live(now)) reply.previous.tombstone = true;
        reply_buffer_ = n.value;
        reply.value = reply_buffer_;
        if (n.live(now) && req.version > n.state.effective_expiry_version()) {
          n.state.expiry_version = req.version;
          n.state.expire_at_ms = req.expire_at_ms;
          reply.applied = true;
        }
        op.OnTouch(req.tag, reply, now);
        break;
      }
      case NodeRequest::Type::kHintPut: {
        EXPECT_GE(req.replica, nodes_.size() - fallbacks_) << "a hint to an owner";
        EXPECT_LT(req.hint_for, nodes_.size() - fallbacks_) << "a hint for a non-owner";
        if (!n.refuse_hints) {
          n.hints.push_back(FakeNode::Hint{req.hint_for, req.version, std::string(req.value),
                                           req.tombstone, req.expire_at_ms});
        }
        op.OnHintAck(req.tag, !n.refuse_hints, now);
        break;
      }
    }
    Collect();
  }

  std::vector<FakeNode> nodes_;
  int fallbacks_ = 0;
  std::deque<NodeRequest> inflight_;
  std::deque<std::string> values_;
  std::string reply_buffer_;
};

KeyPlan Read(bool want_value = true) {
  KeyPlan p;
  p.mode = KeyMode::kRead;
  p.want_value = want_value;
  return p;
}

// ---- reads (#8: one replica sends the value) ---------------------------------------------------

TEST(KeyOperationRead, AsksOneReplicaForTheValue) {
  Harness h({FakeNode::Live("v", V(1)), FakeNode::Live("v", V(1)), FakeNode::Live("v", V(1))});
  KeyPlan p = Read();
  p.value_replica = 1;
  h.Start(p, 2);
  h.DeliverAll();
  ASSERT_TRUE(h.op.answered());
  EXPECT_TRUE(h.op.answer().live);
  EXPECT_EQ(h.op.answer().value, "v");
  EXPECT_EQ(h.nodes()[0].value_gets + h.nodes()[1].value_gets + h.nodes()[2].value_gets, 1);
  EXPECT_EQ(h.nodes()[1].value_gets, 1);
  EXPECT_EQ(h.Repair(), 0);
}

TEST(KeyOperationRead, FetchesTheValueFromAHolderOfTheNewestPairWhenNeeded) {
  Harness h(
      {FakeNode::Live("old", V(1)), FakeNode::Live("new", V(2)), FakeNode::Live("new", V(2))});
  KeyPlan p = Read();
  p.value_replica = 0;  // the stale one
  h.Start(p, 2);
  h.DeliverAll();
  ASSERT_TRUE(h.op.answered());
  EXPECT_EQ(h.op.answer().value, "new");
  EXPECT_EQ(h.CountSent(NodeRequest::Type::kGet), 4);  // 3 + one fetch
  ASSERT_TRUE(h.op.finished());
  EXPECT_EQ(h.Repair(), 1);
  EXPECT_EQ(h.nodes()[0].value, "new");
  EXPECT_EQ(h.nodes()[0].state.version, V(2));
}

TEST(KeyOperationRead, WaitsForTheValueReplicaRatherThanFetching) {
  Harness h({FakeNode::Live("v", V(1)), FakeNode::Live("v", V(1)), FakeNode::Live("v", V(1))});
  KeyPlan p = Read();
  p.value_replica = 2;
  h.Start(p, 2);
  h.Step(0);
  h.Step(1);
  EXPECT_FALSE(h.op.answered());
  EXPECT_EQ(h.CountSent(NodeRequest::Type::kGet), 3);
  h.Step(2);
  ASSERT_TRUE(h.op.answered());
  EXPECT_EQ(h.op.answer().value, "v");
}

// A fetch that finds a later write (say, this client's pipelined DEL) tries another holder of the
// resolved pair before answering anything newer.
TEST(KeyOperationRead, FetchThatFindsALaterWriteTriesAnotherHolder) {
  Harness h({FakeNode::Live("v", V(1)), FakeNode::Live("v", V(1)), FakeNode{}});
  KeyPlan p = Read();
  p.value_replica = 2;
  h.Start(p, 2);
  h.Step(0);
  h.Step(1);
  h.Step(2);  // empty: the value must be fetched, from replica 0
  h.nodes()[0] = FakeNode::Tombstone(V(5));
  h.Step(0);
  EXPECT_FALSE(h.op.answered());
  h.Step(1);
  ASSERT_TRUE(h.op.answered());
  EXPECT_EQ(h.op.answer().value, "v");
}

TEST(KeyOperationRead, FetchTriesAnotherHolderWhenTheFirstFails) {
  Harness h(
      {FakeNode::Live("old", V(1)), FakeNode::Live("new", V(2)), FakeNode::Live("new", V(2))});
  KeyPlan p = Read();
  p.value_replica = 0;
  h.Start(p, 3);
  h.Step(0);
  h.Step(1);
  h.Step(2);  // the fetch goes to replica 1
  h.nodes()[1].down = true;
  h.Step(1);  // fails: then replica 2
  EXPECT_FALSE(h.op.answered());
  h.Step(2);
  ASSERT_TRUE(h.op.answered());
  EXPECT_EQ(h.op.answer().failure, KeyAnswer::Failure::kNone);
  EXPECT_EQ(h.op.answer().value, "new");
}

TEST(KeyOperationRead, NoHolderReturnsTheValue) {
  Harness h({FakeNode::Live("old", V(1)), FakeNode::Live("new", V(2)), FakeNode::Live("x", V(1))});
  KeyPlan p = Read();
  p.value_replica = 0;
  h.Start(p, 2);
  h.Step(0);
  h.Step(1);
  EXPECT_FALSE(h.op.answered());  // fetching from replica 1, the only holder of V(2)
  h.nodes()[1].down = true;
  h.Step(1);
  ASSERT_TRUE(h.op.answered());
  EXPECT_EQ(h.op.answer().failure, KeyAnswer::Failure::kValueUnavailable);
  h.FailRest();
}

// #1: a version-only read (EXISTS, TTL, TOUCH) is never a repair source for a value.
TEST(KeyOperationRead, VersionOnlyReadNeverRepairsAValue) {
  Harness h({FakeNode::Live("hello", V(1)), FakeNode::Live("hello", V(1)), FakeNode{}});
  h.Start(Read(false), 2);
  h.DeliverAll();
  ASSERT_TRUE(h.op.finished());
  EXPECT_TRUE(h.op.answer().live);
  EXPECT_EQ(h.op.repair_targets(), 0u);
  EXPECT_EQ(h.Repair(), 0);
  EXPECT_FALSE(h.nodes()[2].state.found);
}

TEST(KeyOperationRead, VersionOnlyReadRepairsATombstone) {
  Harness h({FakeNode::Tombstone(V(2)), FakeNode::Live("old", V(1)), FakeNode{}});
  h.Start(Read(false), 2);
  h.DeliverAll();
  EXPECT_FALSE(h.op.answer().live);
  EXPECT_EQ(h.Repair(), 2);
  EXPECT_TRUE(h.nodes()[1].state.tombstone);
  EXPECT_TRUE(h.nodes()[2].state.tombstone);
}

TEST(KeyOperationRead, LateNewerVersionOnlyReplyIsNotARepairSource) {
  Harness h({FakeNode::Live("a", V(1)), FakeNode::Live("a", V(1)), FakeNode::Live("b", V(2))});
  KeyPlan p = Read();
  p.value_replica = 0;
  h.Start(p, 2);
  h.Deliver({0, 1});
  ASSERT_TRUE(h.op.answered());
  EXPECT_EQ(h.op.answer().value, "a");
  h.Deliver({2});  // newer, but without its value
  ASSERT_TRUE(h.op.finished());
  EXPECT_EQ(h.op.repair_targets(), 0u);
}

// #4: NotReady never counts toward R; such replicas are still repaired.
TEST(KeyOperationRead, NotReadyNeverCountsTowardTheQuorum) {
  Harness h({FakeNode::Live("v", V(1)), FakeNode{}, FakeNode{}});
  h.nodes()[1].not_ready = true;
  h.nodes()[2].not_ready = true;
  h.Start(Read(), 2);
  h.DeliverAll();
  ASSERT_TRUE(h.op.answered());
  EXPECT_EQ(h.op.answer().failure, KeyAnswer::Failure::kReadQuorum);
  EXPECT_EQ(h.op.answer().acks, 1);
}

TEST(KeyOperationRead, NotReadyReplicaIsARepairTarget) {
  Harness h({FakeNode::Live("v", V(1)), FakeNode::Live("v", V(1)), FakeNode{}});
  h.nodes()[2].not_ready = true;
  KeyPlan p = Read();
  p.value_replica = 0;
  h.Start(p, 2);
  h.DeliverAll();
  EXPECT_EQ(h.op.answer().value, "v");
  EXPECT_EQ(h.Repair(), 1);
  EXPECT_EQ(h.nodes()[2].value, "v");
}

TEST(KeyOperationRead, GreaterPairWinsWhole) {
  // Same value version, a newer expiry version: the touched state wins with its expiry.
  Harness h({FakeNode::Live("v", V(1), kNow + 5000, V(3)), FakeNode::Live("v", V(1)),
             FakeNode::Live("v", V(1))});
  KeyPlan p = Read();
  p.value_replica = 1;
  h.Start(p, 3);
  h.DeliverAll();
  EXPECT_EQ(h.op.answer().state.expire_at_ms, kNow + 5000);
  EXPECT_EQ(h.Repair(), 2);  // the value replica's copy is whole for the older pair only: fetched
  EXPECT_EQ(h.nodes()[2].state.expiry_version, V(3));
  EXPECT_EQ(h.nodes()[2].state.expire_at_ms, kNow + 5000);
}

// An expired value is a tombstone of its pair on a node whose clock has passed its expiry, while
// others still report the value. Replication simulation seeds 32 (ValueWrites) and 14 (touches):
// a version-only reply of the live pair, then that tombstone of the same pair, decided the read as
// a live value with the tombstone's empty "value" (GET answered ""). The pair seen as a tombstone
// anywhere answers as one.
FakeNode ExpiredThere(Version version, int64_t expire_at) {
  FakeNode n = FakeNode::Tombstone(version);
  n.state.expire_at_ms = expire_at;
  return n;
}

TEST(KeyOperationRead, PairExpiredOnOneNodeNeverAnswersAnEmptyValue) {
  Harness h({FakeNode::Live("v", V(1), kNow + 50), FakeNode::Live("v", V(1), kNow + 50),
             ExpiredThere(V(1), kNow + 50)});
  KeyPlan p = Read();
  p.value_replica = 0;
  h.Start(p, 2);
  h.Step(1);  // the live pair, version only
  h.Step(2);  // the same pair, expired there
  ASSERT_TRUE(h.op.answered());
  EXPECT_EQ(h.op.answer().failure, KeyAnswer::Failure::kNone);
  EXPECT_FALSE(h.op.answer().live);
  EXPECT_EQ(h.op.answer().value, "");
  h.DeliverAll();
  ASSERT_TRUE(h.op.finished());
  EXPECT_EQ(h.Repair(), 0);  // the same pair everywhere
}

// The same, found by the fetch: the holder asked for the value reports the pair expired by then.
TEST(KeyOperationRead, FetchThatFindsThePairExpiredAnswersNil) {
  Harness h(
      {FakeNode{}, FakeNode::Live("v", V(1), kNow + 50), FakeNode::Live("v", V(1), kNow + 50)});
  KeyPlan p = Read();
  p.value_replica = 0;
  h.Start(p, 3);
  h.Step(0);
  h.Step(1);
  h.Step(2);  // decided: the value is fetched from replica 1
  EXPECT_FALSE(h.op.answered());
  h.nodes()[1] = ExpiredThere(V(1), kNow + 50);
  h.Step(1);
  ASSERT_TRUE(h.op.answered());
  EXPECT_EQ(h.op.answer().failure, KeyAnswer::Failure::kNone);
  EXPECT_FALSE(h.op.answer().live);
  EXPECT_EQ(h.op.answer().value, "");
}

// Simulation seed 37117: while the value of the resolved pair is fetched, a newer pair arrives
// version only (a late reply), then the holder asked reports the resolved pair expired. No
// holder of the resolved pair is left and the newer pair has no value: the read failed as
// value-unavailable (before: answered a live value with an empty body). It answers as the
// tombstone the holder reported.
TEST(KeyOperationRead, FetchFindsThePairExpiredAfterANewerPairWasSeen) {
  Harness h({FakeNode::Tombstone(V(1)), FakeNode::Live("v", V(2), kNow + 50),
             FakeNode::Live("v", V(2), kNow + 50)});
  KeyPlan p = Read();
  p.value_replica = 0;
  h.Start(p, 2);
  h.Step(0);  // the value replica: an older tombstone
  h.Step(1);  // the live pair, version only: decided, its value fetched from replica 1
  EXPECT_FALSE(h.op.answered());
  h.nodes()[2] = FakeNode::Live("v", V(2), kNow + 500, V(3));  // touched meanwhile
  h.Step(2);                                                   // late, version only
  EXPECT_FALSE(h.op.answered());
  h.nodes()[1] = ExpiredThere(V(2), kNow + 50);
  h.Step(1);
  ASSERT_TRUE(h.op.answered());
  EXPECT_EQ(h.op.answer().failure, KeyAnswer::Failure::kNone);
  EXPECT_FALSE(h.op.answer().live);
  EXPECT_EQ(h.op.answer().value, "");
}

// The greater (version, expiry_version) pair wins whole whatever the order of the replies: the
// writer breaks HLC ties, a newer tombstone means absent, an older live value never outlives a
// newer pair that has expired.
TEST(KeyOperationRead, NewestPairWinsInAnyOrder) {
  struct Case {
    std::vector<FakeNode> nodes;
    bool live;
    std::string value;
  };
  std::vector<Case> cases;
  cases.push_back(
      {{FakeNode::Live("a", V(1)), FakeNode::Live("c", V(3)), FakeNode::Live("b", V(2))},
       true,
       "c"});
  cases.push_back(
      {{FakeNode::Live("w1", V(5, 1)), FakeNode::Live("w2", V(5, 2)), FakeNode{}}, true, "w2"});
  cases.push_back(
      {{FakeNode::Live("a", V(1)), FakeNode::Tombstone(V(3)), FakeNode::Live("b", V(2))},
       false,
       ""});
  cases.push_back({{FakeNode::Tombstone(V(1)), FakeNode::Live("b", V(2)), FakeNode{}}, true, "b"});
  cases.push_back({{FakeNode::Live("old", V(1)), FakeNode::Live("gone", V(2), kNow - 1),
                    FakeNode::Live("old", V(1))},
                   false,
                   ""});
  cases.push_back({{FakeNode{}, FakeNode{}, FakeNode{}}, false, ""});
  for (size_t c = 0; c < cases.size(); ++c) {
    std::vector<int> order = {0, 1, 2};
    do {
      for (int value_replica = 0; value_replica < 3; ++value_replica) {
        Harness h(cases[c].nodes);
        KeyPlan p = Read();
        p.value_replica = value_replica;
        h.Start(p, 3);
        h.Deliver(order);
        ASSERT_TRUE(h.op.finished()) << "case " << c;
        EXPECT_EQ(h.op.answer().failure, KeyAnswer::Failure::kNone) << "case " << c;
        EXPECT_EQ(h.op.answer().live, cases[c].live) << "case " << c;
        EXPECT_EQ(h.op.answer().value, cases[c].value) << "case " << c;
      }
    } while (std::next_permutation(order.begin(), order.end()));
  }
}

TEST(KeyOperationRead, FailsOnlyAfterEveryReplicaAnswered) {
  Harness h({FakeNode::Live("v", V(1)), FakeNode{}, FakeNode{}});
  h.nodes()[1].down = true;
  h.Start(Read(), 3);
  h.Deliver({1});
  EXPECT_FALSE(h.op.answered());  // replica 0 and 2 may still answer
  h.FailRest();
  ASSERT_TRUE(h.op.answered());
  EXPECT_EQ(h.op.answer().failure, KeyAnswer::Failure::kReadQuorum);
}

// ---- blind writes (#3: stale refusals)
// -----------------------------------------------------------

KeyPlan Write(std::string_view value) {
  KeyPlan p;
  p.mode = KeyMode::kWrite;
  p.value = value;
  return p;
}

TEST(KeyOperationWrite, AppliesEverywhere) {
  Harness h({FakeNode{}, FakeNode::Live("old", V(1)), FakeNode{}});
  std::string value = "new";
  h.Start(Write(value), 2);
  value = "clobbered";  // the machine owns its copy
  h.DeliverAll();
  ASSERT_TRUE(h.op.answered());
  EXPECT_TRUE(h.op.answer().performed);
  EXPECT_TRUE(h.op.answer().previous_live);
  for (auto& n : h.nodes()) EXPECT_EQ(n.value, "new");
  EXPECT_EQ(h.op.stale_retries(), 0);
}

TEST(KeyOperationWrite, WriteRefusedAsStaleEverywhereIsRestampedOnce) {
  // Another proxy's clock is 30 s ahead: every replica holds a newer version.
  const Version ahead = V(kNow + 30'000, 99);
  Harness h(
      {FakeNode::Live("fast", ahead), FakeNode::Live("fast", ahead), FakeNode::Live("fast", ahead)},
      /*max_offset_ms=*/10'000);  // too far ahead to be merged
  h.Start(Write("slow"), 2);
  h.DeliverAll();
  ASSERT_TRUE(h.op.answered());
  EXPECT_TRUE(h.op.answer().performed);
  EXPECT_EQ(h.op.stale_retries(), 1);
  EXPECT_GT(h.op.hlc_refusals(), 0);
  for (auto& n : h.nodes()) {
    EXPECT_EQ(n.value, "slow");
    EXPECT_GT(n.state.version, ahead);
  }
}

TEST(KeyOperationWrite, RepliesAdvanceTheClock) {
  const Version ahead = V(kNow + 5'000, 99);
  Harness h({FakeNode::Live("x", ahead), FakeNode::Live("x", ahead), FakeNode::Live("x", ahead)});
  h.Start(Write("y"), 2);
  h.DeliverAll();
  EXPECT_EQ(h.op.stale_retries(), 1);
  EXPECT_EQ(h.op.hlc_refusals(), 0);
  EXPECT_GT(h.hlc.Last(), ahead.hlc);  // later writes of this proxy are stamped above it
}

TEST(KeyOperationWrite, PartlyStaleWriteIsRestamped) {
  // Replica 0 holds a newer write (another proxy's, its clock ahead); 1 and 2 missed it. Were
  // the write acknowledged by 0 (refused) and 1 (applied) as it is, repair would spread 0's newer
  // state and the acknowledged write would be lost: it is re-stamped above and sent again.
  const Version ahead = V(kNow + 30'000, 99);
  Harness h({FakeNode::Live("fast", ahead), FakeNode{}, FakeNode{}},
            /*max_offset_ms=*/10'000);
  h.Start(Write("slow"), 2);
  h.DeliverAll();
  ASSERT_TRUE(h.op.answered());
  EXPECT_EQ(h.op.stale_retries(), 1);
  EXPECT_TRUE(h.op.answer().performed);
  for (auto& n : h.nodes()) {
    EXPECT_EQ(n.value, "slow");
    EXPECT_GT(n.state.version, ahead);
  }
}

TEST(KeyOperationWrite, QuorumFailure) {
  Harness h({FakeNode{}, FakeNode{}, FakeNode{}});
  h.nodes()[0].down = h.nodes()[1].down = true;
  h.Start(Write("v"), 2);
  h.DeliverAll();
  ASSERT_TRUE(h.op.answered());
  EXPECT_EQ(h.op.answer().failure, KeyAnswer::Failure::kWriteQuorum);
  EXPECT_EQ(h.op.answer().acks, 1);
}

// A replica warming up or syncing applies a Put but answers reads NotReady: were its ack counted,
// a write acknowledged by it and one other replica could be on only one of the two replicas a
// later QUORUM read hears from (simulation seeds 20743, 699, 11388).
TEST(KeyOperationWrite, NotReadyAckNeverCountsTowardW) {
  Harness h({FakeNode{}, FakeNode{}, FakeNode{}});
  h.nodes()[0].not_ready = true;
  h.nodes()[2].down = true;
  h.Start(Write("v"), 2);
  h.DeliverAll();
  ASSERT_TRUE(h.op.answered());
  EXPECT_EQ(h.op.answer().failure, KeyAnswer::Failure::kWriteQuorum);
  EXPECT_EQ(h.op.answer().acks, 1);
  EXPECT_FALSE(h.op.answer().performed);
  EXPECT_EQ(h.op.not_ready_acks(), 1);
  EXPECT_EQ(h.op.answer().not_ready_applied, 1);
  EXPECT_EQ(h.nodes()[0].value, "v");  // applied there all the same
}

TEST(KeyOperationWrite, NotReadyAckWaitsForAnotherReplica) {
  Harness h({FakeNode{}, FakeNode{}, FakeNode{}});
  h.nodes()[0].not_ready = true;
  h.Start(Write("v"), 2);
  h.Deliver({0, 1});
  EXPECT_FALSE(h.op.answered());  // 0 and 1 answered: one counted ack
  h.Deliver({2});
  ASSERT_TRUE(h.op.answered());
  EXPECT_TRUE(h.op.answer().performed);
}

// Every outcome sequence (each replica applies or fails, answering in replica order) for n = 1..5
// at every level: the answer comes exactly once, at the reply that settles it (a failure once
// every replica has answered), and succeeds exactly when `required` replicas acknowledged.
TEST(KeyOperationWrite, EveryOutcomeSequenceAnswersExactlyOnce) {
  for (int n = 1; n <= 5; ++n) {
    for (Consistency level : {Consistency::kOne, Consistency::kQuorum, Consistency::kAll}) {
      const int required = RequiredReplicas(level, n);
      for (uint32_t failing = 0; failing < (1u << n); ++failing) {
        std::vector<FakeNode> nodes(static_cast<size_t>(n));
        for (int r = 0; r < n; ++r) nodes[r].down = ((failing >> r) & 1) != 0;
        Harness h(nodes);
        h.Start(Write("v"), required);
        int acks = 0;
        for (int r = 0; r < n; ++r) {
          const bool answered_before = h.op.answered();
          h.Step(r);
          acks += ((failing >> r) & 1) == 0 ? 1 : 0;
          const bool settles =
              !answered_before && (acks == required || (r == n - 1 && acks < required));
          EXPECT_EQ(h.op.answered() && !answered_before, settles)
              << "n=" << n << " required=" << required << " failing=" << failing << " r=" << r;
        }
        ASSERT_TRUE(h.op.finished());
        const bool reached = n - std::popcount(failing) >= required;
        EXPECT_EQ(h.op.answer().failure == KeyAnswer::Failure::kNone, reached)
            << "n=" << n << " required=" << required << " failing=" << failing;
        EXPECT_EQ(h.op.answer().performed, reached);
      }
    }
  }
}

// DEL answers 1 when the newest pre-write state among the counted replies was a live value: a
// newer tombstone beats an older live value and an older live value beats nothing, in any order;
// at equal versions a live value outranks absence.
TEST(KeyOperationWrite, PreviousLiveIsTheNewestPreWriteStateInAnyOrder) {
  struct Case {
    std::vector<FakeNode> nodes;
    bool previous_live;
  };
  std::vector<Case> cases;
  cases.push_back(
      {{FakeNode::Live("stale", V(100)), FakeNode::Tombstone(V(200)), FakeNode{}}, false});
  cases.push_back({{FakeNode{}, FakeNode::Live("only", V(7)), FakeNode{}}, true});
  cases.push_back(
      {{FakeNode::Live("old", V(100)), FakeNode::Live("new", V(300)), FakeNode::Tombstone(V(200))},
       true});
  cases.push_back(
      {{FakeNode::Live("expired", V(40), kNow - 1), FakeNode::Live("here", V(40))}, true});
  for (size_t c = 0; c < cases.size(); ++c) {
    std::vector<int> order(cases[c].nodes.size());
    std::iota(order.begin(), order.end(), 0);
    do {
      Harness h(cases[c].nodes);
      KeyPlan del;
      del.mode = KeyMode::kWrite;
      del.tombstone = true;
      h.Start(del, static_cast<int>(order.size()));
      for (int r : order) h.Step(r);
      ASSERT_TRUE(h.op.answered());
      EXPECT_EQ(h.op.answer().previous_live, cases[c].previous_live) << "case " << c;
    } while (std::next_permutation(order.begin(), order.end()));
  }
}

// ---- touches (#2)
// ---------------------------------------------------------------------------------

KeyPlan Touch(int64_t expire_at) {
  KeyPlan p;
  p.mode = KeyMode::kTouch;
  p.expire_at_ms = expire_at;
  return p;
}

// SET k v1; node 0 misses DEL k; PERSIST k: answered from the newest pre-touch pair (the
// tombstone), and the stale value's touched pair still loses to the tombstone.
TEST(KeyOperationTouch, ReplicaThatMissedADeleteCannotBringTheKeyBack) {
  Harness h({FakeNode::Live("v1", V(1), kNow + 100'000), FakeNode::Tombstone(V(2)),
             FakeNode::Tombstone(V(2))});
  h.Start(Touch(0), 2);
  h.Deliver({0, 1, 2});
  ASSERT_TRUE(h.op.answered());
  EXPECT_FALSE(h.op.answer().live);  // PERSIST -> 0
  // A read then resolves the tombstone and repairs node 0 with it.
  Harness read({h.nodes()[0], h.nodes()[1], h.nodes()[2]});
  read.Start(Read(), 2);
  read.Deliver({0, 1, 2});
  EXPECT_FALSE(read.op.answer().live);
  EXPECT_EQ(read.Repair(), 1);
  EXPECT_TRUE(read.nodes()[0].state.tombstone);
}

TEST(KeyOperationTouch, ReplicaThatMissedANewerSetLosesWhole) {
  Harness h({FakeNode::Live("v1", V(1)), FakeNode::Live("v2", V(2)), FakeNode::Live("v2", V(2))});
  h.Start(Touch(kNow + 60'000), 2);
  h.DeliverAll();
  EXPECT_TRUE(h.op.answer().live);
  EXPECT_EQ(h.op.answer().state.version, V(2));
  Harness read({h.nodes()[0], h.nodes()[1], h.nodes()[2]});
  KeyPlan p = Read();
  p.value_replica = 0;
  read.Start(p, 3);
  read.DeliverAll();
  EXPECT_EQ(read.op.answer().value, "v2");
  EXPECT_EQ(read.op.answer().state.expire_at_ms, kNow + 60'000);
  read.Repair();
  EXPECT_EQ(read.nodes()[0].value, "v2");
  EXPECT_EQ(read.nodes()[0].state.expire_at_ms, kNow + 60'000);
}

TEST(KeyOperationTouch, GetexAnswersTheNewestValue) {
  Harness h({FakeNode::Live("v1", V(1)), FakeNode::Live("v2", V(2)), FakeNode{}});
  KeyPlan p = Touch(kNow + 1000);
  p.touch_wants_value = true;
  h.Start(p, 2);
  h.Deliver({0, 1});
  ASSERT_TRUE(h.op.answered());
  EXPECT_EQ(h.op.answer().value, "v2");
}

TEST(KeyOperationTouch, TouchRefusedAsStaleEverywhereIsRestamped) {
  const Version ahead = V(kNow + 30'000, 99);
  Harness h({FakeNode::Live("v", V(1), 0, ahead), FakeNode::Live("v", V(1), 0, ahead),
             FakeNode::Live("v", V(1), 0, ahead)});
  h.Start(Touch(kNow + 1000), 2);
  h.DeliverAll();
  EXPECT_EQ(h.op.stale_retries(), 1);
  for (auto& n : h.nodes()) EXPECT_EQ(n.state.expire_at_ms, kNow + 1000);
}

// ---- read-then-write (#5, KEEPTTL, GETDEL, conditional EXPIRE)
// -----------------------------------

KeyPlan SetNx(std::string_view value) {
  KeyPlan p;
  p.mode = KeyMode::kReadThenWrite;
  p.condition = KeyCondition::kIfAbsent;
  p.value = value;
  return p;
}

// SET k v1; restart one replica empty; SET k v2 NX: whichever replicas answer, the key existed on
// a quorum, so the reply is "not set" and nothing is written.
TEST(KeyOperationConditional, SetNxOnAKeyHeldByAQuorumWritesNothing) {
  for (const std::vector<int>& order :
       {std::vector<int>{2, 0, 1}, std::vector<int>{0, 2, 1}, std::vector<int>{0, 1, 2}}) {
    Harness h({FakeNode::Live("v1", V(1)), FakeNode::Live("v1", V(1)), FakeNode{}});
    h.Start(SetNx("v2"), 2);
    h.Deliver(order);
    h.FailRest();
    ASSERT_TRUE(h.op.answered());
    EXPECT_FALSE(h.op.answer().performed);
    EXPECT_EQ(h.CountSent(NodeRequest::Type::kPut), 0);
    for (auto& n : h.nodes()) EXPECT_NE(n.value, "v2");
  }
}

TEST(KeyOperationConditional, SetNxOnAnAbsentKeyWrites) {
  Harness h({FakeNode::Tombstone(V(1)), FakeNode{}, FakeNode{}});
  h.Start(SetNx("v2"), 2);
  h.DeliverAll();
  ASSERT_TRUE(h.op.answered());
  EXPECT_TRUE(h.op.answer().performed);
  for (auto& n : h.nodes()) EXPECT_EQ(n.value, "v2");
}

TEST(KeyOperationConditional, NotReadyDoesNotCountTowardTheReadPhase) {
  Harness h({FakeNode::Live("v1", V(1)), FakeNode{}, FakeNode{}});
  h.nodes()[1].not_ready = true;
  h.nodes()[2].not_ready = true;
  h.Start(SetNx("v2"), 2);
  h.DeliverAll();
  ASSERT_TRUE(h.op.answered());
  EXPECT_EQ(h.op.answer().failure, KeyAnswer::Failure::kReadQuorum);
  EXPECT_EQ(h.CountSent(NodeRequest::Type::kPut), 0);
}

TEST(KeyOperationConditional, SetXxAndGetAnswerFromTheResolvedState) {
  Harness h({FakeNode::Live("old", V(1)), FakeNode::Live("new", V(2)), FakeNode{}});
  KeyPlan p;
  p.mode = KeyMode::kReadThenWrite;
  p.condition = KeyCondition::kIfPresent;
  p.want_value = true;  // GET
  p.value = "x";
  p.value_replica = 0;
  h.Start(p, 2);
  h.DeliverAll();
  ASSERT_TRUE(h.op.answered());
  EXPECT_TRUE(h.op.answer().performed);
  EXPECT_EQ(h.op.answer().value, "new");
  for (auto& n : h.nodes()) EXPECT_EQ(n.value, "x");
}

TEST(KeyOperationConditional, KeepTtlWritesTheResolvedExpiry) {
  Harness h({FakeNode::Live("v", V(1), kNow + 9000), FakeNode::Live("v", V(1), kNow + 9000),
             FakeNode{}});  // node 2 had evicted the key
  KeyPlan p;
  p.mode = KeyMode::kReadThenWrite;
  p.keep_expiry = true;
  p.value = "w";
  h.Start(p, 2);
  h.Deliver({2, 0, 1});
  ASSERT_TRUE(h.op.answered());
  for (auto& n : h.nodes()) {
    EXPECT_EQ(n.value, "w");
    EXPECT_EQ(n.state.expire_at_ms, kNow + 9000);
  }
}

// APPEND on a replica set where one replica missed the last SET: the new value is computed from
// the newest value resolved (never the stale one), whichever replica is asked for the value, and
// written to every replica with the resolved expiry.
TEST(KeyOperationTransform, AppendBuildsOnTheResolvedValueNotAStaleReplicas) {
  for (int value_replica = 0; value_replica < 3; ++value_replica) {
    Harness h({FakeNode::Live("old", V(1)), FakeNode::Live("new", V(2), kNow + 9000),
               FakeNode::Live("new", V(2), kNow + 9000)});
    KeyPlan p;
    p.mode = KeyMode::kReadThenWrite;
    p.want_value = true;
    p.keep_expiry = true;
    p.transform = ValueTransform::kAppend;
    p.value = "+x";
    p.value_replica = value_replica;
    h.Start(p, 2);
    h.Deliver({0, 1, 2});
    ASSERT_TRUE(h.op.answered()) << value_replica;
    EXPECT_TRUE(h.op.answer().performed);
    EXPECT_EQ(h.op.answer().value, "new+x") << value_replica;
    for (auto& n : h.nodes()) {
      EXPECT_EQ(n.value, "new+x") << value_replica;
      EXPECT_EQ(n.state.expire_at_ms, kNow + 9000);
    }
  }
}

TEST(KeyOperationTransform, AppendToADeletedKeyStartsFromNothing) {
  // The newest state is a delete that one replica missed.
  Harness h({FakeNode::Live("old", V(1)), FakeNode::Tombstone(V(2)), FakeNode::Tombstone(V(2))});
  KeyPlan p;
  p.mode = KeyMode::kReadThenWrite;
  p.want_value = true;
  p.keep_expiry = true;
  p.transform = ValueTransform::kAppend;
  p.value = "a";
  h.Start(p, 2);
  h.DeliverAll();
  EXPECT_EQ(h.op.answer().value, "a");
  for (auto& n : h.nodes()) EXPECT_EQ(n.value, "a");
}

TEST(KeyOperationTransform, SetRangePadsWithZerosAndOverwrites) {
  Harness h({FakeNode::Live("hello", V(1)), FakeNode::Live("hello", V(1)),
             FakeNode::Live("hello", V(1))});
  KeyPlan p;
  p.mode = KeyMode::kReadThenWrite;
  p.want_value = true;
  p.transform = ValueTransform::kSetRange;
  p.transform_offset = 7;
  p.value = "XY";
  h.Start(p, 2);
  h.DeliverAll();
  const std::string expected("hello\0\0XY", 9);
  EXPECT_EQ(h.op.answer().value, expected);
  for (auto& n : h.nodes()) EXPECT_EQ(n.value, expected);
}

TEST(KeyOperationTransform, SetRangeOfNothingWritesNothing) {
  Harness h({FakeNode::Live("hello", V(1)), FakeNode::Live("hello", V(1)), FakeNode{}});
  KeyPlan p;
  p.mode = KeyMode::kReadThenWrite;
  p.want_value = true;
  p.transform = ValueTransform::kSetRange;
  p.transform_offset = 1;
  h.Start(p, 2);
  h.DeliverAll();
  ASSERT_TRUE(h.op.answered());
  EXPECT_FALSE(h.op.answer().performed);
  EXPECT_EQ(h.op.answer().value, "hello");  // its length is SETRANGE's reply
  for (auto& n : h.nodes()) EXPECT_EQ(n.puts, 0);
}

TEST(KeyOperationConditional, GetDelReturnsTheValueAndDeletes) {
  Harness h({FakeNode::Live("v", V(1)), FakeNode::Live("v", V(1)), FakeNode::Live("v", V(1))});
  KeyPlan p;
  p.mode = KeyMode::kReadThenWrite;
  p.condition = KeyCondition::kIfPresent;
  p.want_value = true;
  p.tombstone = true;
  h.Start(p, 2);
  h.DeliverAll();
  EXPECT_EQ(h.op.answer().value, "v");
  EXPECT_TRUE(h.op.answer().performed);
  for (auto& n : h.nodes()) EXPECT_TRUE(n.state.tombstone);
}

TEST(KeyOperationConditional, GetDelOfAnAbsentKeyWritesNothing) {
  Harness h({FakeNode::Tombstone(V(2)), FakeNode::Tombstone(V(2)), FakeNode::Live("v", V(1))});
  KeyPlan p;
  p.mode = KeyMode::kReadThenWrite;
  p.condition = KeyCondition::kIfPresent;
  p.want_value = true;
  p.tombstone = true;
  h.Start(p, 2);
  h.DeliverAll();
  EXPECT_FALSE(h.op.answer().live);
  EXPECT_EQ(h.CountSent(NodeRequest::Type::kPut), 0);
}

TEST(KeyOperationConditional, ExpireConditionsAreJudgedOnTheResolvedState) {
  struct Case {
    KeyCondition condition;
    int64_t held, wanted;
    bool holds;
  } cases[] = {
      {KeyCondition::kExpireNx, 0, kNow + 10, true},
      {KeyCondition::kExpireNx, kNow + 50, kNow + 10, false},
      {KeyCondition::kExpireXx, 0, kNow + 10, false},
      {KeyCondition::kExpireXx, kNow + 50, kNow + 10, true},
      {KeyCondition::kExpireGt, 0, kNow + 10, false},
      {KeyCondition::kExpireGt, kNow + 5, kNow + 10, true},
      {KeyCondition::kExpireLt, 0, kNow + 10, true},
      {KeyCondition::kExpireLt, kNow + 5, kNow + 10, false},
      {KeyCondition::kExpireXxLt, 0, kNow + 10, false},
      {KeyCondition::kExpireXxLt, kNow + 50, kNow + 10, true},
  };
  for (const Case& c : cases) {
    // Node 0 missed the newest write; the resolved state is nodes 1 and 2's.
    Harness h({FakeNode::Live("old", V(1), kNow + 1'000'000), FakeNode::Live("v", V(2), c.held),
               FakeNode::Live("v", V(2), c.held)});
    KeyPlan p;
    p.mode = KeyMode::kReadThenWrite;
    p.condition = c.condition;
    p.condition_expire_at_ms = c.wanted;
    p.write_is_touch = true;
    p.expire_at_ms = c.wanted;
    h.Start(p, 3);
    h.DeliverAll();
    ASSERT_TRUE(h.op.answered());
    EXPECT_EQ(h.op.answer().performed, c.holds) << static_cast<int>(c.condition) << " " << c.held;
    EXPECT_EQ(h.CountSent(NodeRequest::Type::kTouch), c.holds ? 3 : 0);
    if (c.holds) {
      EXPECT_EQ(h.nodes()[1].state.expire_at_ms, c.wanted);
    }
  }
}

TEST(KeyOperationConditional, ExpireOnAnAbsentKeyIsZero) {
  Harness h({FakeNode{}, FakeNode{}, FakeNode{}});
  KeyPlan p;
  p.mode = KeyMode::kReadThenWrite;
  p.condition = KeyCondition::kExpireLt;
  p.condition_expire_at_ms = kNow + 10;
  p.write_is_touch = true;
  h.Start(p, 2);
  h.DeliverAll();
  EXPECT_FALSE(h.op.answer().performed);
}

}  // namespace
}  // namespace shoal::proxy

namespace shoal::proxy {
namespace {

// ---- hinted handoff (issue 8): owners 0..2, fallbacks after them -------------------------------

std::vector<FakeNode> Cluster(int owners, int fallbacks) {
  return std::vector<FakeNode>(static_cast<size_t>(owners + fallbacks));
}

TEST(KeyOperationHints, FailedOwnerIsHintedToTheFirstFallback) {
  Harness h(Cluster(3, 2), Harness::Fallbacks{2});
  h.nodes()[1].down = true;
  h.Start(Write("v"), 2);
  h.DeliverAll();
  ASSERT_TRUE(h.op.finished());
  EXPECT_TRUE(h.op.answer().performed);
  EXPECT_EQ(h.op.answer().sloppy_acks, 0);
  ASSERT_EQ(h.CountSent(NodeRequest::Type::kHintPut), 1);
  ASSERT_EQ(h.nodes()[3].hints.size(), 1u);
  EXPECT_TRUE(h.nodes()[4].hints.empty());  // one holder per failed owner
  const FakeNode::Hint& hint = h.nodes()[3].hints[0];
  EXPECT_EQ(hint.owner, 1);
  EXPECT_EQ(hint.value, "v");
  EXPECT_EQ(hint.version, h.nodes()[0].state.version);  // the same Put
  EXPECT_EQ(h.op.hints_sent(), 1);
  EXPECT_EQ(h.op.hint_acks(), 1);
  EXPECT_EQ(h.op.hint_refusals(), 0);
}

TEST(KeyOperationHints, NotReadyOwnerIsNotHinted) {
  Harness h(Cluster(3, 2), Harness::Fallbacks{2});
  h.nodes()[1].not_ready = true;
  h.Start(Write("v"), 2);
  h.DeliverAll();
  ASSERT_TRUE(h.op.finished());
  EXPECT_TRUE(h.op.answer().performed);
  EXPECT_EQ(h.CountSent(NodeRequest::Type::kHintPut), 0);  // the owner holds the write
  EXPECT_EQ(h.nodes()[1].value, "v");
}

TEST(KeyOperationHints, EachFailedOwnerHasItsOwnHolder) {
  Harness h(Cluster(3, 3), Harness::Fallbacks{3});
  h.nodes()[0].down = h.nodes()[2].down = true;
  h.Start(Write("v"), 2);
  h.DeliverAll();
  ASSERT_TRUE(h.op.finished());
  ASSERT_EQ(h.nodes()[3].hints.size(), 1u);
  ASSERT_EQ(h.nodes()[4].hints.size(), 1u);
  EXPECT_TRUE(h.nodes()[5].hints.empty());
  EXPECT_EQ(h.nodes()[3].hints[0].owner + h.nodes()[4].hints[0].owner, 0 + 2);
  EXPECT_NE(h.nodes()[3].hints[0].owner, h.nodes()[4].hints[0].owner);
}

TEST(KeyOperationHints, StrictQuorumNeverCountsAHint) {
  Harness h(Cluster(3, 2), Harness::Fallbacks{2});
  h.nodes()[0].down = h.nodes()[2].down = true;
  h.Start(Write("v"), 2);
  h.DeliverAll();
  ASSERT_TRUE(h.op.answered());
  EXPECT_EQ(h.op.answer().failure, KeyAnswer::Failure::kWriteQuorum);
  EXPECT_EQ(h.op.answer().acks, 1);  // the one owner: stored hints are not acks
  EXPECT_EQ(h.op.answer().hints_stored, 2);
  EXPECT_EQ(h.op.answer().sloppy_acks, 0);
  EXPECT_FALSE(h.op.answer().performed);
}

TEST(KeyOperationHints, StrictFailureWaitsForTheHintsToAnswer) {
  Harness h(Cluster(3, 2), Harness::Fallbacks{2});
  h.nodes()[0].down = h.nodes()[2].down = true;
  h.Start(Write("v"), 2);
  h.Deliver({0, 1, 2});
  EXPECT_FALSE(h.op.answered());  // both hints in flight
  h.Deliver({3});
  EXPECT_FALSE(h.op.answered());
  h.Deliver({4});
  ASSERT_TRUE(h.op.answered());
  EXPECT_EQ(h.op.answer().hints_stored, 2);
}

TEST(KeyOperationHints, SloppyQuorumCountsStoredHints) {
  Harness h(Cluster(3, 2), Harness::Fallbacks{2});
  h.nodes()[0].down = h.nodes()[2].down = true;
  KeyPlan p = Write("v");
  p.sloppy = true;
  h.Start(p, 2);
  h.DeliverAll();
  ASSERT_TRUE(h.op.answered());
  EXPECT_TRUE(h.op.answer().performed);
  EXPECT_EQ(h.op.answer().failure, KeyAnswer::Failure::kNone);
  EXPECT_EQ(h.op.answer().sloppy_acks, 1);  // one owner + one hint made W = 2
  EXPECT_TRUE(h.op.finished());
  EXPECT_EQ(h.op.hint_acks(), 2);
}

TEST(KeyOperationHints, SloppyQuorumWithEnoughOwnersCountsNoHint) {
  Harness h(Cluster(3, 2), Harness::Fallbacks{2});
  h.nodes()[2].down = true;
  KeyPlan p = Write("v");
  p.sloppy = true;
  h.Start(p, 2);
  h.DeliverAll();
  ASSERT_TRUE(h.op.answer().performed);
  EXPECT_EQ(h.op.answer().sloppy_acks, 0);
}

TEST(KeyOperationHints, RefusedHintDoesNotCountAndMovesToTheNextFallback) {
  Harness h(Cluster(3, 2), Harness::Fallbacks{2});
  h.nodes()[0].down = h.nodes()[2].down = true;
  h.nodes()[3].refuse_hints = true;
  KeyPlan p = Write("v");
  p.sloppy = true;
  h.Start(p, 2);
  h.DeliverAll();
  ASSERT_TRUE(h.op.finished());
  // Owner 0's hint went to 3, owner 2's to 4; 3 refused, and with no unused fallback left that
  // hint is dropped (each fallback is asked for at most one hint per round).
  EXPECT_EQ(h.op.hint_refusals(), 1);
  EXPECT_EQ(h.op.hint_acks(), 1);
  EXPECT_EQ(h.nodes()[4].hints.size(), 1u);
  EXPECT_TRUE(h.nodes()[3].hints.empty());
  EXPECT_TRUE(h.op.answer().performed);  // one owner + the stored hint
  EXPECT_EQ(h.op.answer().sloppy_acks, 1);
}

TEST(KeyOperationHints, AllHintsRefusedFailsEvenWhenSloppy) {
  Harness h(Cluster(3, 2), Harness::Fallbacks{2});
  h.nodes()[0].down = h.nodes()[2].down = true;
  h.nodes()[3].refuse_hints = h.nodes()[4].refuse_hints = true;
  KeyPlan p = Write("v");
  p.sloppy = true;
  h.Start(p, 2);
  h.DeliverAll();
  ASSERT_TRUE(h.op.finished());
  EXPECT_EQ(h.op.answer().failure, KeyAnswer::Failure::kWriteQuorum);
  EXPECT_EQ(h.op.answer().acks, 1);
  EXPECT_EQ(h.op.answer().hints_stored, 0);
  EXPECT_EQ(h.op.hint_refusals(), 2);
  EXPECT_EQ(h.CountSent(NodeRequest::Type::kHintPut), 2);  // no fallback left to try
}

TEST(KeyOperationHints, FailedHintMovesToTheNextFallback) {
  Harness h(Cluster(3, 2), Harness::Fallbacks{2});
  h.nodes()[1].down = true;
  h.nodes()[3].down = true;
  h.Start(Write("v"), 2);
  h.DeliverAll();
  ASSERT_TRUE(h.op.finished());
  ASSERT_EQ(h.nodes()[4].hints.size(), 1u);
  EXPECT_EQ(h.nodes()[4].hints[0].owner, 1);
  EXPECT_EQ(h.op.hint_refusals(), 0);  // a failure, not a refusal
}

TEST(KeyOperationHints, OwnerThatFailsAfterTheAnswerIsStillHinted) {
  Harness h(Cluster(3, 1), Harness::Fallbacks{1});
  h.Start(Write("v"), 2);
  h.Deliver({0, 1});
  ASSERT_TRUE(h.op.answered());
  EXPECT_TRUE(h.op.answer().performed);
  EXPECT_FALSE(h.op.finished());
  h.Fail(2);                      // owner 2 times out
  EXPECT_FALSE(h.op.finished());  // its hint is in flight
  h.DeliverAll();
  ASSERT_TRUE(h.op.finished());
  ASSERT_EQ(h.nodes()[3].hints.size(), 1u);
  EXPECT_EQ(h.nodes()[3].hints[0].owner, 2);
  EXPECT_EQ(h.op.answer().hints_stored, 0);  // decided before
}

TEST(KeyOperationHints, DeleteIsHintedAsATombstone) {
  Harness h(Cluster(3, 1), Harness::Fallbacks{1});
  h.nodes()[2].down = true;
  KeyPlan p = Write("");
  p.tombstone = true;
  h.Start(p, 2);
  h.DeliverAll();
  ASSERT_EQ(h.nodes()[3].hints.size(), 1u);
  EXPECT_TRUE(h.nodes()[3].hints[0].tombstone);
}

TEST(KeyOperationHints, NoFallbacksNoHints) {
  Harness h({FakeNode{}, FakeNode{}, FakeNode{}});
  h.nodes()[1].down = true;
  h.Start(Write("v"), 2);
  h.DeliverAll();
  EXPECT_TRUE(h.op.answer().performed);
  EXPECT_EQ(h.CountSent(NodeRequest::Type::kHintPut), 0);
}

TEST(KeyOperationHints, ReadsAreNeverHinted) {
  Harness h({FakeNode::Live("v", V(1)), FakeNode{}, FakeNode::Live("v", V(1)), FakeNode{}},
            Harness::Fallbacks{1});
  h.nodes()[1].down = true;
  h.Start(Read(), 2);
  h.DeliverAll();
  ASSERT_TRUE(h.op.finished());
  EXPECT_EQ(h.op.answer().value, "v");
  EXPECT_EQ(h.CountSent(NodeRequest::Type::kHintPut), 0);
  for (const NodeRequest& r : h.sent) EXPECT_LT(r.replica, 3);  // nothing to the fallback
  EXPECT_EQ(h.nodes()[3].gets + h.nodes()[3].puts, 0);
}

TEST(KeyOperationHints, TouchesAreNotHinted) {
  Harness h(
      {FakeNode::Live("v", V(1)), FakeNode::Live("v", V(1)), FakeNode::Live("v", V(1)), FakeNode{}},
      Harness::Fallbacks{1});
  h.nodes()[1].down = true;
  h.Start(Touch(kNow + 50'000), 2);
  h.DeliverAll();
  ASSERT_TRUE(h.op.finished());
  EXPECT_TRUE(h.op.answer().performed);
  EXPECT_EQ(h.CountSent(NodeRequest::Type::kHintPut), 0);
}

TEST(KeyOperationHints, ReadThenWriteHintsItsPutOnly) {
  // SET k v KEEPTTL: the read phase is never hinted; the write's Put to the failed owner is,
  // with the resolved expiry.
  const int64_t ttl = kNow + 70'000;
  Harness h(
      {FakeNode::Live("old", V(1), ttl), FakeNode::Live("old", V(1), ttl), FakeNode{}, FakeNode{}},
      Harness::Fallbacks{1});
  h.nodes()[2].down = true;
  KeyPlan p;
  p.mode = KeyMode::kReadThenWrite;
  p.value = "new";
  p.keep_expiry = true;
  h.Start(p, 2);
  h.DeliverAll();
  ASSERT_TRUE(h.op.finished());
  EXPECT_TRUE(h.op.answer().performed);
  EXPECT_EQ(h.CountSent(NodeRequest::Type::kHintPut), 1);
  ASSERT_EQ(h.nodes()[3].hints.size(), 1u);
  EXPECT_EQ(h.nodes()[3].hints[0].owner, 2);
  EXPECT_EQ(h.nodes()[3].hints[0].value, "new");
  EXPECT_EQ(h.nodes()[3].hints[0].expire_at_ms, ttl);
  EXPECT_EQ(h.nodes()[3].gets, 0);
}

TEST(KeyOperationHints, RestampedRoundHintsTheNewVersion) {
  const Version ahead = V(kNow + 30'000, 99);
  Harness h({FakeNode::Live("fast", ahead), FakeNode::Live("fast", ahead), FakeNode{}, FakeNode{}},
            Harness::Fallbacks{1});
  h.nodes()[2].down = true;
  h.Start(Write("slow"), 2);
  h.DeliverAll();
  ASSERT_TRUE(h.op.finished());
  EXPECT_EQ(h.op.stale_retries(), 1);
  // Round 1's put to 2 failed after the re-stamp: superseded, not hinted. Round 2's is, with the
  // new version.
  ASSERT_EQ(h.nodes()[3].hints.size(), 1u);
  EXPECT_EQ(h.nodes()[3].hints[0].version, h.nodes()[0].state.version);
  EXPECT_GT(h.nodes()[3].hints[0].version, ahead);
}

TEST(KeyOperationHints, AMismatchedAnswerNeverCountsAsAnOwner) {
  // A fallback that answers a HintPut with a PutResponse (it applied the write) is no owner: the
  // strict quorum still fails, and a HintAck to an owner's Put is that Put failing.
  KeyOperation op;
  FakeClock clock(kNow);
  HybridLogicalClock hlc(clock, 60'000);
  KeyPlan p = Write("v");
  p.n = 3;
  p.fallbacks = 1;
  p.required = 2;
  op.Start(p, hlc, kWriter, kNow);
  ASSERT_EQ(op.requests().size(), 3u);
  op.ClearRequests();
  PutReply applied;
  applied.applied = true;
  op.OnPut(0, applied, kNow);   // owner 0 applied
  op.OnHintAck(1, true, kNow);  // owner 1's Put answered with a HintAck: a failure
  ASSERT_EQ(op.requests().size(), 1u);
  const NodeRequest hint = op.requests()[0];
  EXPECT_EQ(hint.type, NodeRequest::Type::kHintPut);
  EXPECT_EQ(hint.hint_for, 1);
  op.ClearRequests();
  op.OnFailure(2, kNow);
  op.OnPut(hint.tag, applied, kNow);  // the fallback "applied" the hint
  ASSERT_TRUE(op.answered());
  EXPECT_EQ(op.answer().failure, KeyAnswer::Failure::kWriteQuorum);
  EXPECT_EQ(op.answer().acks, 1);
  EXPECT_TRUE(op.finished());
}

}  // namespace
}  // namespace shoal::proxy
