// KeyOperation's counter transform (docs/data-model.md): the bodies of every reply of the resolved
// version merge, the write is this writer's delta at that version, and a replica holding a newer
// version makes the operation read again and rebuild the delta.

#include <gtest/gtest.h>

#include "common/clock/clock.h"
#include "common/clock/hlc.h"
#include "common/typed/counter.h"
#include "proxy/quorum/key_operation.h"

namespace shoal::proxy {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

Version V(int64_t wall_ms, uint64_t writer = 1) {
  return Version{HlcFromParts(wall_ms, 0), writer};
}

std::string Body(std::vector<std::pair<uint64_t, uint64_t>> comps) {
  typed::Counter c;
  for (auto [w, p] : comps) {
    typed::CounterComponent x;
    x.writer = w;
    x.p = p;
    x.version = V(kNow - 100, w);
    c.SetComponent(x);
  }
  return c.Encode();
}

GetReply Counter(Version v, const std::string& body) {
  GetReply r;
  r.state.found = true;
  r.state.version = r.state.expiry_version = v;
  r.value = body;
  r.value_type = typed::ValueType::kCounter;
  r.body_digest = typed::BodyDigest(r.value_type, body);
  return r;
}

class CounterOpTest : public ::testing::Test {
 protected:
  CounterOpTest() : hlc_(clock_, 60'000) {}
  KeyPlan Plan(int64_t by) {
    KeyPlan p;
    p.mode = KeyMode::kReadThenWrite;
    p.n = 3;
    p.required = 2;
    p.want_value = true;
    p.transform = ValueTransform::kIncrBy;
    p.incr_by = by;
    p.counter_writer = 42;
    return p;
  }
  std::vector<NodeRequest> Take() {
    std::vector<NodeRequest> out(op_.requests().begin(), op_.requests().end());
    op_.ClearRequests();
    return out;
  }
  FakeClock clock_{kNow};
  HybridLogicalClock hlc_;
  KeyOperation op_;
};

TEST_F(CounterOpTest, MergesEveryReplysBodyAndWritesItsDeltaAtThatVersion) {
  const Version v = V(kNow - 1000);
  op_.Start(Plan(5), hlc_, 7, kNow);
  std::vector<NodeRequest> reads = Take();
  ASSERT_EQ(reads.size(), 3u);
  // Replica 0 misses writer 2's component, replica 1 misses writer 1's; own (42) is at 3.
  const std::string a = Body({{1, 10}, {42, 3}});
  const std::string b = Body({{2, 20}, {42, 3}});
  op_.OnGet(reads[0].tag, Counter(v, a), kNow);
  op_.OnGet(reads[1].tag, Counter(v, b), kNow);
  op_.OnGet(reads[2].tag, Counter(v, a), kNow);
  ASSERT_FALSE(op_.answered());
  std::vector<NodeRequest> puts = Take();
  ASSERT_EQ(puts.size(), 3u);
  for (const NodeRequest& p : puts) {
    EXPECT_EQ(p.type, NodeRequest::Type::kPut);
    EXPECT_EQ(p.version, v);  // the version it builds on, not a new one
    EXPECT_EQ(p.value_type, typed::ValueType::kCounter);
    typed::Counter delta;
    ASSERT_TRUE(typed::Counter::Decode(p.value, &delta));
    ASSERT_EQ(delta.components.size(), 1u);  // only its own component
    EXPECT_EQ(delta.components[0].writer, 42u);
    EXPECT_EQ(delta.components[0].p, 8u);
  }
  PutReply ok;
  ok.applied = true;
  ok.current = ok.current_expiry_version = v;
  op_.OnPut(puts[0].tag, ok, kNow);
  op_.OnPut(puts[1].tag, ok, kNow);
  ASSERT_TRUE(op_.answered());
  EXPECT_EQ(op_.answer().integer, 10 + 20 + 3 + 5);
  // Every replica missed a component: each is repaired with the merged body.
  op_.OnPut(puts[2].tag, ok, kNow);
  EXPECT_EQ(op_.repair_targets(), 0b111u);
}

TEST_F(CounterOpTest, NothingLiveCreatesAtTheDerivedVersion) {
  const Version del = V(kNow - 500, 9);
  op_.Start(Plan(1), hlc_, 7, kNow);
  std::vector<NodeRequest> reads = Take();
  GetReply tomb;
  tomb.state.found = tomb.state.tombstone = true;
  tomb.state.version = tomb.state.expiry_version = del;
  op_.OnGet(reads[0].tag, tomb, kNow);
  op_.OnGet(reads[1].tag, GetReply{}, kNow);
  op_.OnGet(reads[2].tag, tomb, kNow);
  std::vector<NodeRequest> puts = Take();
  ASSERT_EQ(puts.size(), 3u);
  EXPECT_EQ(puts[0].version, typed::DerivedVersion(del, del));
}

TEST_F(CounterOpTest, ANewerVersionHeldRebuildsTheDeltaOnIt) {
  const Version v = V(kNow - 1000);
  op_.Start(Plan(1), hlc_, 7, kNow);
  std::vector<NodeRequest> reads = Take();
  for (const NodeRequest& r : reads) op_.OnGet(r.tag, Counter(v, Body({{42, 4}})), kNow);
  std::vector<NodeRequest> puts = Take();
  ASSERT_EQ(puts.size(), 3u);
  // A DEL at `del` reached replica 2: it refuses the delta as stale.
  const Version del = V(kNow - 10, 9);
  PutReply ok;
  ok.applied = true;
  ok.current = ok.current_expiry_version = v;
  PutReply stale;
  stale.current = stale.current_expiry_version = del;
  op_.OnPut(puts[2].tag, stale, kNow);
  op_.OnPut(puts[0].tag, ok, kNow);
  ASSERT_FALSE(op_.answered());
  std::vector<NodeRequest> again = Take();
  ASSERT_EQ(again.size(), 3u);  // read again
  EXPECT_EQ(again[0].type, NodeRequest::Type::kGet);
  op_.OnPut(puts[1].tag, ok, kNow);  // a late reply of the first attempt: ignored
  GetReply tomb;
  tomb.state.found = tomb.state.tombstone = true;
  tomb.state.version = tomb.state.expiry_version = del;
  for (const NodeRequest& r : again) op_.OnGet(r.tag, tomb, kNow);
  std::vector<NodeRequest> puts2 = Take();
  ASSERT_EQ(puts2.size(), 3u);
  EXPECT_EQ(puts2[0].version, typed::DerivedVersion(del, del));
  typed::Counter delta;
  ASSERT_TRUE(typed::Counter::Decode(puts2[0].value, &delta));
  EXPECT_EQ(delta.components[0].p, 1u);  // the increments before the DEL are gone
  ok.current = ok.current_expiry_version = puts2[0].version;
  op_.OnPut(puts2[0].tag, ok, kNow);
  op_.OnPut(puts2[1].tag, ok, kNow);
  ASSERT_TRUE(op_.answered());
  EXPECT_EQ(op_.answer().integer, 1);
  EXPECT_EQ(op_.stale_retries(), 1);
}

TEST_F(CounterOpTest, RedisErrorsWriteNothing) {
  op_.Start(Plan(1), hlc_, 7, kNow);
  std::vector<NodeRequest> reads = Take();
  GetReply s;
  s.state.found = true;
  s.state.version = s.state.expiry_version = V(kNow - 5);
  s.value = "abc";
  for (const NodeRequest& r : reads) {
    GetReply reply = s;
    if (!r.want_value) reply.value = {};
    op_.OnGet(r.tag, reply, kNow);
  }
  ASSERT_TRUE(op_.answered());
  EXPECT_EQ(op_.answer().counter_error, typed::CounterError::kNotInteger);
  EXPECT_TRUE(Take().empty());
}

}  // namespace
}  // namespace shoal::proxy
