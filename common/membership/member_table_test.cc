#include "common/membership/member_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "common/hash/key_hash.h"

namespace shoal {
namespace {

MemberRecord Rec(const std::string& id, uint64_t incarnation = 1, uint64_t heartbeat = 0,
                 MemberState state = MemberState::kNormal) {
  MemberRecord r;
  r.id = id;
  r.address = "10.0.0.1:" + std::to_string(7000 + (Hash64(id) % 1000));
  r.state = state;
  r.incarnation = incarnation;
  r.heartbeat = heartbeat;
  r.tokens = 64;
  return r;
}

PhiOptions Phi() { return PhiOptions::ForInterval(1000, 8); }

TEST(MemberRecordTest, VersionOrderIsIncarnationThenStateThenHeartbeat) {
  EXPECT_TRUE(Supersedes(Rec("a", 2, 0), Rec("a", 1, 999)));
  EXPECT_TRUE(Supersedes(Rec("a", 1, 0, MemberState::kLeaving), Rec("a", 1, 50)));
  EXPECT_TRUE(Supersedes(Rec("a", 1, 5, MemberState::kRemoved), Rec("a", 1, 60)));
  EXPECT_TRUE(Supersedes(Rec("a", 1, 6), Rec("a", 1, 5)));
  EXPECT_FALSE(Supersedes(Rec("a", 1, 5), Rec("a", 1, 5)));
  // Equal versions that differ otherwise are still ordered (merge stays a max).
  MemberRecord x = Rec("a"), y = Rec("a");
  y.address = "10.9.9.9:1";
  EXPECT_NE(Supersedes(x, y), Supersedes(y, x));
}

TEST(MemberRecordTest, InvalidRecordsAreNamed) {
  EXPECT_EQ(InvalidRecordReason(Rec("a")), "");
  MemberRecord r = Rec("a");
  r.address = "nowhere";
  EXPECT_NE(InvalidRecordReason(r).find("bad address"), std::string::npos);
  r = Rec("a");
  r.state = MemberState::kDown;
  EXPECT_NE(InvalidRecordReason(r), "");
  r.state = static_cast<MemberState>(9);
  EXPECT_NE(InvalidRecordReason(r), "");
  r = Rec("");
  EXPECT_NE(InvalidRecordReason(r), "");
  r = Rec("a");
  r.tokens = 0;
  EXPECT_NE(InvalidRecordReason(r), "");
}

TEST(MemberTableTest, NewerRecordWinsOlderIsIgnored) {
  FakeClock clock;
  MemberTable t(Rec("self"), Phi(), clock);
  EXPECT_EQ(t.Merge(Rec("b", 1, 5)), MergeOutcome::kAdded);
  EXPECT_EQ(t.Merge(Rec("b", 1, 4)), MergeOutcome::kUnchanged);
  EXPECT_EQ(t.Merge(Rec("b", 1, 5)), MergeOutcome::kUnchanged);
  EXPECT_EQ(t.Merge(Rec("b", 1, 7)), MergeOutcome::kUpdated);
  EXPECT_EQ(t.Find("b")->heartbeat, 7u);
  EXPECT_EQ(t.Merge(Rec("b", 0, 100)), MergeOutcome::kUnchanged);
  MemberRecord bad = Rec("c");
  bad.state = MemberState::kDown;
  EXPECT_EQ(t.Merge(bad), MergeOutcome::kInvalid);
  EXPECT_EQ(t.Find("c"), nullptr);
}

// Merging is commutative and idempotent: any order and any repetition of the same records gives
// the same table.
TEST(MemberTableTest, MergeIsCommutativeAndIdempotent) {
  std::vector<MemberRecord> records;
  for (const char* id : {"a", "b", "c", "d"}) {
    for (uint64_t inc = 1; inc <= 3; ++inc) {
      for (uint64_t hb = 0; hb < 3; ++hb) {
        records.push_back(Rec(id, inc, hb));
        records.push_back(Rec(id, inc, hb, MemberState::kLeaving));
        records.push_back(Rec(id, inc, hb, MemberState::kRemoved));
      }
    }
    MemberRecord moved = Rec(id, 3, 2, MemberState::kRemoved);
    moved.address = "10.1.1.1:1";  // same version, other content
    records.push_back(moved);
  }
  FakeClock clock;
  MemberTable reference(Rec("self"), Phi(), clock);
  for (const auto& r : records) reference.Merge(r);
  std::mt19937_64 rng(1);
  for (int round = 0; round < 50; ++round) {
    std::shuffle(records.begin(), records.end(), rng);
    MemberTable t(Rec("self"), Phi(), clock);
    for (const auto& r : records) {
      t.Merge(r);
      if (rng() % 3 == 0) t.Merge(r);  // repeated deliveries
    }
    EXPECT_EQ(t.Records(), reference.Records()) << "order " << round;
  }
}

TEST(MemberTableTest, NodeRefutesRumoursAboutItself) {
  FakeClock clock;
  MemberTable t(Rec("self", 1, 10), Phi(), clock);
  // A Removed rumour at its incarnation: refuted with a higher one, state and heartbeat kept.
  EXPECT_EQ(t.Merge(Rec("self", 1, 3, MemberState::kRemoved)), MergeOutcome::kRefuted);
  EXPECT_EQ(t.self().incarnation, 2u);
  EXPECT_EQ(t.self().state, MemberState::kNormal);
  EXPECT_EQ(t.self().heartbeat, 10u);
  EXPECT_TRUE(Supersedes(t.self(), Rec("self", 1, 3, MemberState::kRemoved)));
  // Its own previous life (restarted with incarnation 1 while the cluster holds 7).
  MemberTable restarted(Rec("self", 1, 0), Phi(), clock);
  EXPECT_EQ(restarted.Merge(Rec("self", 7, 5000)), MergeOutcome::kRefuted);
  EXPECT_EQ(restarted.self().incarnation, 8u);
  EXPECT_TRUE(Supersedes(restarted.self(), Rec("self", 7, 5000)));
  // Older records of itself change nothing.
  EXPECT_EQ(restarted.Merge(Rec("self", 7, 6000)), MergeOutcome::kUnchanged);
}

TEST(MemberTableTest, SelfStateMovesForwardOnly) {
  FakeClock clock;
  MemberTable t(Rec("self", 1, 0, MemberState::kJoining), Phi(), clock);
  EXPECT_TRUE(t.RingMembers().empty());
  EXPECT_TRUE(t.SetSelfState(MemberState::kNormal).ok());
  EXPECT_EQ(t.RingMembers().size(), 1u);
  EXPECT_FALSE(t.SetSelfState(MemberState::kJoining).ok());
  EXPECT_FALSE(t.SetSelfState(MemberState::kDown).ok());
  EXPECT_TRUE(t.SetSelfState(MemberState::kLeaving).ok());
  t.Beat();
  EXPECT_EQ(t.self().heartbeat, 1u);
}

TEST(MemberTableTest, SilentMemberIsSeenDownButStaysInTheRing) {
  FakeClock clock;
  MemberTable t(Rec("self"), Phi(), clock);
  for (uint64_t hb = 0; hb < 10; ++hb) {
    t.Merge(Rec("b", 1, hb));
    t.Merge(Rec("c", 1, hb));
    clock.Advance(1000);
  }
  EXPECT_EQ(t.StateOf("b"), MemberState::kNormal);
  // c keeps beating, b falls silent (suspected after 1 s + 2 s pause + 5.2 * 500 ms).
  for (uint64_t hb = 10; hb < 18; ++hb) {
    t.Merge(Rec("c", 1, hb));
    clock.Advance(1000);
  }
  EXPECT_EQ(t.StateOf("b"), MemberState::kDown);
  EXPECT_GT(t.PhiOf("b"), 8);
  EXPECT_EQ(t.StateOf("c"), MemberState::kNormal);
  EXPECT_LT(t.PhiOf("c"), 1);
  EXPECT_EQ(t.StateOf("self"), MemberState::kNormal);
  const auto ring = t.RingMembers();
  ASSERT_EQ(ring.size(), 3u);
  EXPECT_EQ(ring[0].id, "b");
  // Views report the judgement.
  for (const auto& v : t.Views()) {
    if (v.record.id == "b") {
      EXPECT_EQ(v.state, MemberState::kDown);
      EXPECT_GE(v.last_heard_ms, 8000);
    }
    if (v.record.id == "self") {
      EXPECT_EQ(v.phi, 0);
    }
  }
  // It comes back (restarted: a higher incarnation): Normal at once.
  t.Merge(Rec("b", 2, 0));
  EXPECT_EQ(t.StateOf("b"), MemberState::kNormal);
}

TEST(MemberTableTest, RemovedLeavesTheRingAndAHigherIncarnationRejoins) {
  FakeClock clock;
  MemberTable t(Rec("self"), Phi(), clock);
  t.Merge(Rec("b", 3, 9));
  const uint64_t g0 = t.ring_generation();
  EXPECT_EQ(t.RingMembers().size(), 2u);
  EXPECT_TRUE(t.MarkRemoved("b").ok());
  EXPECT_GT(t.ring_generation(), g0);
  EXPECT_EQ(t.RingMembers().size(), 1u);
  EXPECT_EQ(t.StateOf("b"), MemberState::kRemoved);
  EXPECT_EQ(t.Find("b")->incarnation, 3u);
  // Its later heartbeats at the same incarnation do not undo the removal ...
  EXPECT_EQ(t.Merge(Rec("b", 3, 50)), MergeOutcome::kUnchanged);
  // ... its refutation (a higher incarnation) does.
  const uint64_t g1 = t.ring_generation();
  EXPECT_EQ(t.Merge(Rec("b", 4, 0)), MergeOutcome::kUpdated);
  EXPECT_EQ(t.RingMembers().size(), 2u);
  EXPECT_GT(t.ring_generation(), g1);
  EXPECT_FALSE(t.MarkRemoved("self").ok());
  EXPECT_EQ(t.MarkRemoved("zz").code(), Status::Code::kNotFound);
}

TEST(MemberTableTest, RingGenerationMovesOnlyWithRingMembership) {
  FakeClock clock;
  MemberTable t(Rec("self"), Phi(), clock);
  const uint64_t g0 = t.ring_generation();
  t.Merge(Rec("b", 1, 0, MemberState::kJoining));
  EXPECT_EQ(t.ring_generation(), g0);  // Joining: not in the ring
  t.Merge(Rec("b", 1, 1));
  const uint64_t g1 = t.ring_generation();
  EXPECT_GT(g1, g0);
  t.Merge(Rec("b", 1, 2));  // heartbeat only
  EXPECT_EQ(t.ring_generation(), g1);
  MemberRecord moved = Rec("b", 2, 0);
  moved.address = "10.2.2.2:7000";
  t.Merge(moved);
  EXPECT_GT(t.ring_generation(), g1);
}

// A ring built from the table routes exactly as one built from --nodes with the same ids and
// zones (the preference list takes distinct zones first).
TEST(MemberTableTest, RingFromTableRoutesAsRingFromNodesFlag) {
  FakeClock clock;
  MemberRecord self = Rec("node-c");
  self.address = "127.0.0.1:7003";
  self.zone = "z2";
  MemberTable t(self, Phi(), clock);
  MemberRecord a = Rec("node-a"), b = Rec("node-b");
  a.address = "127.0.0.1:7001";
  b.address = "127.0.0.1:7002";
  a.zone = b.zone = "z1";
  t.Merge(b);
  t.Merge(a);
  auto from_flag = ParseMemberList(
      "node-b=127.0.0.1:7002@z1,node-c=127.0.0.1:7003@z2,node-a=127.0.0.1:7001@z1", "--nodes");
  ASSERT_TRUE(from_flag.ok());
  auto ring_flag = Ring::Build(*from_flag, 128);
  auto ring_table = Ring::Build(t.RingMembers(), 128);
  ASSERT_TRUE(ring_flag.ok() && ring_table.ok());
  for (int i = 0; i < 20'000; ++i) {
    const std::string key = "key:" + std::to_string(i);
    std::vector<std::string> x, y;
    for (int m : (*ring_flag)->OwnersOfKey(key, 3)) {
      x.push_back((*ring_flag)->members()[m].id + "@" + (*ring_flag)->members()[m].address);
    }
    for (int m : (*ring_table)->OwnersOfKey(key, 3)) {
      y.push_back((*ring_table)->members()[m].id + "@" + (*ring_table)->members()[m].address);
    }
    ASSERT_EQ(x, y) << key;
  }
  // A member's zone is part of the ring: changing it (a restart elsewhere) rebuilds it.
  const uint64_t before = t.ring_generation();
  MemberRecord a_moved = a;
  a_moved.heartbeat += 1;
  a_moved.zone = "z3";
  t.Merge(a_moved);
  EXPECT_GT(t.ring_generation(), before);
  EXPECT_EQ(t.RingMembers()[0].zone, "z3");
}

TEST(MemberTableTest, DigestsAndRecordsAreSortedById) {
  FakeClock clock;
  MemberTable t(Rec("m"), Phi(), clock);
  t.Merge(Rec("z"));
  t.Merge(Rec("a"));
  const auto d = t.Digests();
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].id, "a");
  EXPECT_EQ(d[1].id, "m");
  EXPECT_EQ(d[2].id, "z");
  EXPECT_EQ(d[2].version, Rec("z").version());
}

}  // namespace
}  // namespace shoal
