#include "common/membership/gossip_round.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

namespace shoal {
namespace {

MemberRecord Rec(const std::string& id, uint64_t incarnation = 1, uint64_t heartbeat = 0) {
  MemberRecord r;
  r.id = id;
  r.address = id + ".local:7000";
  r.state = MemberState::kNormal;
  r.incarnation = incarnation;
  r.heartbeat = heartbeat;
  r.tokens = 64;
  return r;
}

PhiOptions Phi() { return PhiOptions::ForInterval(1000, 8); }

// One complete exchange, A initiating.
void Exchange(MemberTable& a, MemberTable& b) {
  HandleAck2(b, HandleAck(a, HandleSyn(b, MakeSyn(a))));
}

TEST(GossipRoundTest, OneExchangeLeavesBothWithTheNewerRecords) {
  FakeClock clock;
  MemberTable a(Rec("a"), Phi(), clock), b(Rec("b"), Phi(), clock);
  a.Merge(Rec("x", 1, 5));  // a newer on x
  b.Merge(Rec("x", 1, 3));
  b.Merge(Rec("y", 2, 0));  // only b knows y
  a.Merge(Rec("z", 1, 0));  // only a knows z
  const GossipSynMessage syn = MakeSyn(a);
  const GossipAckMessage ack = HandleSyn(b, syn);
  // b sends what a lacks or holds older (b itself, y) and wants what a holds newer (a, x, z).
  std::vector<std::string> sent;
  for (const auto& r : ack.members) sent.push_back(r.id);
  EXPECT_EQ(sent, (std::vector<std::string>{"b", "y"}));
  EXPECT_EQ(ack.wanted, (std::vector<std::string>{"a", "x", "z"}));
  const GossipAck2Message ack2 = HandleAck(a, ack);
  EXPECT_EQ(ack2.members.size(), 3u);
  HandleAck2(b, ack2);
  EXPECT_EQ(a.Records(), b.Records());
  EXPECT_EQ(a.Find("x")->heartbeat, 5u);
  EXPECT_EQ(b.size(), 5u);
}

TEST(GossipRoundTest, AgreeingTablesExchangeOnlyDigests) {
  FakeClock clock;
  MemberTable a(Rec("a"), Phi(), clock), b(Rec("b"), Phi(), clock);
  Exchange(a, b);
  const GossipAckMessage ack = HandleSyn(b, MakeSyn(a));
  EXPECT_TRUE(ack.members.empty());
  EXPECT_TRUE(ack.wanted.empty());
}

TEST(GossipRoundTest, LostMessagesOnlyLearnLess) {
  FakeClock clock;
  MemberTable a(Rec("a"), Phi(), clock), b(Rec("b"), Phi(), clock);
  b.Merge(Rec("y"));
  // The ack2 is lost: a learned b's records, b learned nothing.
  HandleAck(a, HandleSyn(b, MakeSyn(a)));
  EXPECT_NE(a.Find("y"), nullptr);
  EXPECT_EQ(b.Find("a"), nullptr);
  // The next exchange completes it.
  Exchange(a, b);
  EXPECT_EQ(a.Records(), b.Records());
}

TEST(GossipRoundTest, MalformedSynIsAnsweredSanely) {
  FakeClock clock;
  MemberTable b(Rec("b"), Phi(), clock);
  b.Merge(Rec("c"));
  GossipSynMessage syn;
  syn.digests.push_back({"z", {1, MemberState::kNormal, 0}});
  syn.digests.push_back({"c", {9, MemberState::kNormal, 0}});
  syn.digests.push_back({"c", {1, MemberState::kNormal, 0}});  // duplicate id
  syn.digests.push_back({"", {1, MemberState::kNormal, 0}});   // empty id
  const GossipAckMessage ack = HandleSyn(b, syn);
  EXPECT_EQ(ack.wanted, (std::vector<std::string>{"c", "z"}));
  ASSERT_EQ(ack.members.size(), 1u);
  EXPECT_EQ(ack.members[0].id, "b");
}

TEST(GossipRoundTest, RestartedNodeRefutesItsOldRecordThroughGossip) {
  FakeClock clock;
  MemberTable seed(Rec("seed"), Phi(), clock);
  seed.Merge(Rec("n", 5, 900));  // n's previous life
  MemberTable n(Rec("n", 1, 0), Phi(), clock);
  MergeCounts counts;
  HandleAck(n, HandleSyn(seed, MakeSyn(n)), &counts);
  EXPECT_EQ(counts.refuted, 1);
  EXPECT_EQ(n.self().incarnation, 6u);
  Exchange(n, seed);
  EXPECT_EQ(seed.Find("n")->incarnation, 6u);
  EXPECT_EQ(seed.Find("n")->heartbeat, 0u);
}

TEST(GossipRoundTest, TargetsAreAnAliveMemberOrASeed) {
  FakeClock clock;
  std::mt19937_64 rng(3);
  MemberTable alone(Rec("a"), Phi(), clock);
  // Nobody known: a seed, never itself.
  for (int i = 0; i < 20; ++i) {
    auto t = ChooseGossipTargets(alone, {"a.local:7000", "s1:1", "s2:1"}, rng);
    ASSERT_EQ(t.size(), 1u);
    EXPECT_TRUE(t[0] == "s1:1" || t[0] == "s2:1") << t[0];
  }
  EXPECT_TRUE(ChooseGossipTargets(alone, {}, rng).empty());
  EXPECT_TRUE(ChooseGossipTargets(alone, {"a.local:7000"}, rng).empty());

  // Members known and alive: one of them each round, every one eventually, seeds sometimes.
  for (const char* id : {"b", "c", "d", "e"}) alone.Merge(Rec(id));
  std::map<std::string, int> seen;
  for (int i = 0; i < 400; ++i) {
    auto t = ChooseGossipTargets(alone, {"s1:1"}, rng);
    ASSERT_FALSE(t.empty());
    ASSERT_LE(t.size(), 2u);
    for (const auto& x : t) ++seen[x];
  }
  for (const char* id : {"b", "c", "d", "e"}) EXPECT_GT(seen[std::string(id) + ".local:7000"], 60);
  EXPECT_GT(seen["s1:1"], 40);  // p = 1/4
  EXPECT_LT(seen["s1:1"], 160);
  EXPECT_EQ(seen.count("a.local:7000"), 0u);
}

// Every node a seed, and this one has found only one of them (a seed): it still contacts the
// other seeds, or two pairs that met first stay apart for ever (seen with 4 nodes from seeds).
TEST(GossipRoundTest, FewerAliveThanSeedsContactsOtherSeeds) {
  FakeClock clock;
  std::mt19937_64 rng(11);
  MemberTable t(Rec("a"), Phi(), clock);
  t.Merge(Rec("c"));
  const std::vector<std::string> seeds = {"a.local:7000", "b.local:7000", "c.local:7000",
                                          "d.local:7000"};
  std::map<std::string, int> seen;
  for (int i = 0; i < 100; ++i) {
    for (const auto& x : ChooseGossipTargets(t, seeds, rng)) ++seen[x];
  }
  EXPECT_EQ(seen["c.local:7000"], 100);
  EXPECT_GT(seen["b.local:7000"], 15);
  EXPECT_GT(seen["d.local:7000"], 15);
  EXPECT_EQ(seen.count("a.local:7000"), 0u);
}

TEST(GossipRoundTest, DownMembersAreTriedNowAndThen) {
  FakeClock clock;
  std::mt19937_64 rng(5);
  MemberTable t(Rec("a"), Phi(), clock);
  t.Merge(Rec("b"));
  t.Merge(Rec("dead"));
  for (uint64_t hb = 1; hb < 20; ++hb) {
    clock.Advance(1000);
    t.Merge(Rec("b", 1, hb));
  }
  ASSERT_EQ(t.StateOf("dead"), MemberState::kDown);
  int alive = 0, down = 0;
  for (int i = 0; i < 1000; ++i) {
    for (const auto& x : ChooseGossipTargets(t, {}, rng)) {
      (x == "dead.local:7000" ? down : alive)++;
    }
  }
  EXPECT_EQ(alive, 1000);
  EXPECT_GT(down, 400);  // p = 1 / (1 + 1)
  EXPECT_LT(down, 600);
  // Removed members are never chosen.
  ASSERT_TRUE(t.MarkRemoved("dead").ok());
  for (int i = 0; i < 100; ++i) {
    for (const auto& x : ChooseGossipTargets(t, {}, rng)) EXPECT_EQ(x, "b.local:7000");
  }
}

}  // namespace
}  // namespace shoal
