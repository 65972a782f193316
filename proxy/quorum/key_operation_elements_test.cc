// KeyOperation's element transform (hash and set writes, docs/data-model.md): the bodies of every
// reply of the resolved version merge, the write is a delta of the elements changed at that
// version, a key of another type answers wrong_type, an emptied hash counts as absent, and a
// replica holding a newer version makes the operation read again and rebuild the delta.

#include <gtest/gtest.h>

#include <vector>

#include "common/clock/clock.h"
#include "common/clock/hlc.h"
#include "common/typed/elements.h"
#include "proxy/quorum/key_operation.h"

namespace shoal::proxy {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

Version V(int64_t wall_ms, uint64_t writer = 1) {
  return Version{HlcFromParts(wall_ms, 0), writer};
}

std::string Body(std::vector<std::pair<std::string, std::string>> fields, int64_t at = kNow - 100,
                 std::vector<std::string> removed = {}) {
  std::vector<typed::ElementView> views;
  for (const auto& [f, v] : fields) views.push_back({f, V(at, 3), typed::ElementKind::kValue, v});
  for (const auto& f : removed) views.push_back({f, V(at, 3), typed::ElementKind::kTombstone, {}});
  std::sort(
      views.begin(), views.end(),
      [](const typed::ElementView& a, const typed::ElementView& b) { return a.name < b.name; });
  return typed::EncodeElements(views);
}

GetReply Typed(Version v, const std::string& body, typed::ValueType type = typed::ValueType::kHash,
               int64_t expire_at_ms = 0) {
  GetReply r;
  r.state.found = true;
  r.state.version = r.state.expiry_version = v;
  r.state.expire_at_ms = expire_at_ms;
  r.value = body;
  r.value_type = type;
  r.body_digest = typed::BodyDigest(r.value_type, body);
  return r;
}

std::map<std::string, std::string> Live(std::string_view body) {
  typed::ElementsView v;
  EXPECT_TRUE(typed::DecodeElements(body, &v));
  std::map<std::string, std::string> out;
  for (const auto& e : v.elements) {
    if (e.live()) out[std::string(e.name)] = typed::RenderElement(e);
  }
  return out;
}

class ElementOpTest : public ::testing::Test {
 protected:
  ElementOpTest() : hlc_(clock_, 60'000) {}
  KeyPlan Plan(ElementOp op, const std::vector<std::string_view>& args) {
    args_ = args;
    KeyPlan p;
    p.mode = KeyMode::kReadThenWrite;
    p.n = 3;
    p.required = 2;
    p.want_value = true;
    p.transform = ValueTransform::kElements;
    p.element_op = op;
    p.element_args = args_;
    p.counter_writer = 42;
    return p;
  }
  std::vector<NodeRequest> Take() {
    std::vector<NodeRequest> out(op_.requests().begin(), op_.requests().end());
    op_.ClearRequests();
    return out;
  }
  void AckAll(const std::vector<NodeRequest>& puts) {
    PutReply ok;
    ok.applied = true;
    ok.current = ok.current_expiry_version = puts[0].version;
    for (const NodeRequest& p : puts) op_.OnPut(p.tag, ok, kNow);
  }
  FakeClock clock_{kNow};
  HybridLogicalClock hlc_;
  KeyOperation op_;
  std::vector<std::string_view> args_;
};

TEST_F(ElementOpTest, HSetMergesEveryReplysBodyAndWritesItsFieldsAtThatVersion) {
  const Version v = V(kNow - 1000);
  op_.Start(Plan(ElementOp::kHSet, {"a", "1", "c", "3", "a", "2"}), hlc_, 7, kNow);
  std::vector<NodeRequest> reads = Take();
  ASSERT_EQ(reads.size(), 3u);
  // Replica 0 holds field a, replica 1 field b: the merge knows both, so only c is new.
  op_.OnGet(reads[0].tag, Typed(v, Body({{"a", "x"}})), kNow);
  op_.OnGet(reads[1].tag, Typed(v, Body({{"b", "y"}})), kNow);
  std::vector<NodeRequest> puts = Take();
  ASSERT_EQ(puts.size(), 3u);
  for (const NodeRequest& p : puts) {
    EXPECT_EQ(p.type, NodeRequest::Type::kPut);
    EXPECT_EQ(p.version, v);
    EXPECT_EQ(p.value_type, typed::ValueType::kHash);
    EXPECT_EQ(Live(p.value), (std::map<std::string, std::string>{{"a", "2"}, {"c", "3"}}));
    typed::ElementsView d;
    ASSERT_TRUE(typed::DecodeElements(p.value, &d));
    EXPECT_GT(d.elements[0].version, V(kNow - 100, 3));  // above every element version read
  }
  op_.OnGet(reads[2].tag, Typed(v, Body({{"a", "x"}})), kNow);
  AckAll(puts);
  ASSERT_TRUE(op_.answered());
  EXPECT_TRUE(op_.answer().performed);
  EXPECT_EQ(op_.answer().integer, 1);
  EXPECT_EQ(op_.repair_targets(), 0b111u);  // none held the merged body
}

TEST_F(ElementOpTest, AnotherTypeAnswersWrongTypeAndWritesNothing) {
  op_.Start(Plan(ElementOp::kHSet, {"a", "1"}), hlc_, 7, kNow);
  std::vector<NodeRequest> reads = Take();
  GetReply s;
  s.state.found = true;
  s.state.version = s.state.expiry_version = V(kNow - 5);
  s.value = "plain";
  for (const NodeRequest& r : reads) op_.OnGet(r.tag, s, kNow);
  ASSERT_TRUE(op_.answered());
  EXPECT_TRUE(op_.answer().wrong_type);
  EXPECT_TRUE(Take().empty());
  // A set is no hash either.
  op_.Start(Plan(ElementOp::kHDel, {"a"}), hlc_, 7, kNow);
  reads = Take();
  for (const NodeRequest& r : reads) {
    op_.OnGet(r.tag, Typed(V(kNow - 5), Body({{"a", ""}}), typed::ValueType::kSet), kNow);
  }
  EXPECT_TRUE(op_.answer().wrong_type);
}

TEST_F(ElementOpTest, NothingLiveCreatesAtTheDerivedVersion) {
  const Version del = V(kNow - 500, 9);
  op_.Start(Plan(ElementOp::kSAdd, {"m", "n", "m"}), hlc_, 7, kNow);
  std::vector<NodeRequest> reads = Take();
  GetReply tomb;
  tomb.state.found = tomb.state.tombstone = true;
  tomb.state.version = tomb.state.expiry_version = del;
  op_.OnGet(reads[0].tag, tomb, kNow);
  op_.OnGet(reads[1].tag, GetReply{}, kNow);
  std::vector<NodeRequest> puts = Take();
  ASSERT_EQ(puts.size(), 3u);
  EXPECT_EQ(puts[0].version, typed::DerivedVersion(del, del));
  EXPECT_EQ(puts[0].value_type, typed::ValueType::kSet);
  EXPECT_TRUE(typed::ValidateBody(typed::ValueType::kSet, puts[0].value).ok());
  AckAll(puts);
  EXPECT_EQ(op_.answer().integer, 2);
}

TEST_F(ElementOpTest, AnEmptiedHashIsAbsent) {
  const Version v = V(kNow - 1000);
  const std::string emptied = Body({}, kNow - 100, {"a"});
  // Reads: no key.
  KeyPlan read;
  read.mode = KeyMode::kRead;
  read.n = 3;
  read.required = 2;
  read.want_value = true;
  op_.Start(read, hlc_, 7, kNow);
  std::vector<NodeRequest> reads = Take();
  for (const NodeRequest& r : reads) op_.OnGet(r.tag, Typed(v, emptied), kNow);
  ASSERT_TRUE(op_.answered());
  EXPECT_FALSE(op_.answer().live);
  // HSET on it builds on it (concurrent writers of other fields merge) and drops its TTL, as
  // Redis, which deleted the key, would.
  op_.Start(Plan(ElementOp::kHSet, {"b", "1"}), hlc_, 7, kNow);
  reads = Take();
  for (const NodeRequest& r : reads) {
    op_.OnGet(r.tag, Typed(v, emptied, typed::ValueType::kHash, kNow + 5000), kNow);
  }
  std::vector<NodeRequest> puts = Take();
  ASSERT_EQ(puts.size(), 3u);
  EXPECT_EQ(puts[0].version, v);
  EXPECT_GT(puts[0].expiry_version, v);
  EXPECT_EQ(puts[0].expire_at_ms, 0);
  // A SADD on an emptied hash replaces it (derived version): no WRONGTYPE.
  op_.Start(Plan(ElementOp::kSAdd, {"m"}), hlc_, 7, kNow);
  reads = Take();
  for (const NodeRequest& r : reads) op_.OnGet(r.tag, Typed(v, emptied), kNow);
  puts = Take();
  ASSERT_EQ(puts.size(), 3u);
  EXPECT_EQ(puts[0].version, typed::DerivedVersion(v, v));
  EXPECT_FALSE(op_.answer().wrong_type);
}

TEST_F(ElementOpTest, StringCommandsOnAHashAnswerWrongType) {
  KeyPlan p;
  p.mode = KeyMode::kReadThenWrite;  // APPEND-like
  p.n = 3;
  p.required = 2;
  p.want_value = true;
  p.string_only = true;
  p.transform = ValueTransform::kAppend;
  p.value = "x";
  op_.Start(p, hlc_, 7, kNow);
  std::vector<NodeRequest> reads = Take();
  for (const NodeRequest& r : reads) op_.OnGet(r.tag, Typed(V(kNow - 5), Body({{"a", "1"}})), kNow);
  ASSERT_TRUE(op_.answered());
  EXPECT_TRUE(op_.answer().wrong_type);
  EXPECT_TRUE(Take().empty());
}

TEST_F(ElementOpTest, HIncrByIsAPerFieldCounterAndRebuildsAfterANewerVersion) {
  const Version v = V(kNow - 1000);
  KeyPlan p = Plan(ElementOp::kHIncrBy, {"n"});
  p.incr_by = 5;
  op_.Start(p, hlc_, 7, kNow);
  std::vector<NodeRequest> reads = Take();
  for (const NodeRequest& r : reads) op_.OnGet(r.tag, Typed(v, Body({{"n", "10"}})), kNow);
  std::vector<NodeRequest> puts = Take();
  ASSERT_EQ(puts.size(), 3u);
  typed::ElementsView d;
  ASSERT_TRUE(typed::DecodeElements(puts[0].value, &d));
  ASSERT_EQ(d.elements.size(), 1u);
  EXPECT_EQ(d.elements[0].kind, typed::ElementKind::kCounter);
  EXPECT_EQ(d.elements[0].version, V(kNow - 100, 3));  // the field version it builds on
  EXPECT_EQ(typed::RenderElement(d.elements[0]), "15");
  // A DEL reached replica 0: it refuses, the operation reads again and creates the key anew.
  const Version del = V(kNow - 10, 9);
  PutReply stale;
  stale.current = stale.current_expiry_version = del;
  PutReply ok;
  ok.applied = true;
  ok.current = ok.current_expiry_version = v;
  op_.OnPut(puts[0].tag, stale, kNow);
  op_.OnPut(puts[1].tag, ok, kNow);
  std::vector<NodeRequest> again = Take();
  ASSERT_EQ(again.size(), 3u);
  GetReply tomb;
  tomb.state.found = tomb.state.tombstone = true;
  tomb.state.version = tomb.state.expiry_version = del;
  for (const NodeRequest& r : again) op_.OnGet(r.tag, tomb, kNow);
  std::vector<NodeRequest> puts2 = Take();
  ASSERT_EQ(puts2.size(), 3u);
  EXPECT_EQ(puts2[0].version, typed::DerivedVersion(del, del));
  AckAll(puts2);
  ASSERT_TRUE(op_.answered());
  EXPECT_EQ(op_.answer().integer, 5);
}

TEST_F(ElementOpTest, RedisErrorsAndLimitsWriteNothing) {
  KeyPlan p = Plan(ElementOp::kHIncrBy, {"s"});
  p.incr_by = 1;
  op_.Start(p, hlc_, 7, kNow);
  std::vector<NodeRequest> reads = Take();
  for (const NodeRequest& r : reads)
    op_.OnGet(r.tag, Typed(V(kNow - 5), Body({{"s", "abc"}})), kNow);
  ASSERT_TRUE(op_.answered());
  EXPECT_EQ(op_.answer().error, "ERR hash value is not an integer");
  EXPECT_TRUE(Take().empty());

  KeyPlan q = Plan(ElementOp::kHSet, {"c", "3"});
  q.max_elements = 2;
  op_.Start(q, hlc_, 7, kNow);
  reads = Take();
  for (const NodeRequest& r : reads) {
    op_.OnGet(r.tag, Typed(V(kNow - 5), Body({{"a", "1"}, {"b", "2"}})), kNow);
  }
  ASSERT_TRUE(op_.answered());
  EXPECT_NE(op_.answer().error.find("--max-elements-per-key"), std::string_view::npos);
  EXPECT_TRUE(Take().empty());
  // Overwriting a field adds none: allowed at the limit.
  KeyPlan r = Plan(ElementOp::kHSet, {"a", "9"});
  r.max_elements = 2;
  op_.Start(r, hlc_, 7, kNow);
  reads = Take();
  for (const NodeRequest& x : reads) {
    op_.OnGet(x.tag, Typed(V(kNow - 5), Body({{"a", "1"}, {"b", "2"}})), kNow);
  }
  EXPECT_EQ(Take().size(), 3u);
  KeyPlan b = Plan(ElementOp::kHSet, {"c", std::string_view("0123456789abcdef")});
  b.max_bytes = 64;
  op_.Start(b, hlc_, 7, kNow);
  reads = Take();
  for (const NodeRequest& x : reads) {
    op_.OnGet(x.tag, Typed(V(kNow - 5), Body({{"a", "1"}})), kNow);
  }
  ASSERT_TRUE(op_.answered());
  EXPECT_NE(op_.answer().error.find("--max-bytes-per-key"), std::string_view::npos);
}

TEST(ElementMutationTest, SPopRemovesDistinctLiveMembers) {
  std::vector<typed::ElementView> views;
  for (const char* m : {"a", "b", "c", "d"}) {
    views.push_back({m, Version{5, 1}, typed::ElementKind::kValue, {}});
  }
  views.push_back({"e", Version{5, 1}, typed::ElementKind::kTombstone, {}});
  const std::string body = typed::EncodeElements(views);
  typed::ElementsView held;
  ASSERT_TRUE(typed::DecodeElements(body, &held));
  ElementInput in;
  in.op = ElementOp::kSPop;
  in.count = 3;
  in.seed = 99;
  ElementOutcome out;
  MutateElements(in, &held, body.size(), Version{9, 2}, &out);
  EXPECT_EQ(out.integer, 3);
  std::vector<std::string> popped;
  ASSERT_TRUE(ForEachListItem(out.text, [&](std::string_view m) { popped.emplace_back(m); }));
  ASSERT_EQ(popped.size(), 3u);
  std::sort(popped.begin(), popped.end());
  EXPECT_TRUE(std::adjacent_find(popped.begin(), popped.end()) == popped.end());
  for (const auto& m : popped) EXPECT_NE(m, "e");
  in.count = 10;
  MutateElements(in, &held, body.size(), Version{9, 2}, &out);
  EXPECT_EQ(out.integer, 4);
}

}  // namespace
}  // namespace shoal::proxy
