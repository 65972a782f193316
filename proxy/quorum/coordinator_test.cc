#include "proxy/quorum/coordinator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock/hlc.h"
#include "proxy/quorum/consistency.h"

namespace shoal::proxy {
namespace {

constexpr Consistency kLevels[] = {Consistency::kOne, Consistency::kQuorum, Consistency::kAll};

Version V(uint64_t hlc, uint32_t writer = 1) { return Version{hlc, writer}; }

// A node's copy of one key, answering reads and last-writer-wins puts the way a shoal-node does.
// The string_views in its replies point into `reply_buffer`, which the next reply overwrites, as a
// connection's read buffer would be.
struct FakeReplica {
  enum class State { kEmpty, kLive, kTombstone };
  State state = State::kEmpty;
  std::string value;
  Version version;
  int64_t expire_at_ms = 0;
  std::string reply_buffer;

  static FakeReplica Empty() { return FakeReplica{}; }
  static FakeReplica Live(std::string value, Version version, int64_t expire_at_ms = 0) {
    FakeReplica r;
    r.state = State::kLive;
    r.value = std::move(value);
    r.version = version;
    r.expire_at_ms = expire_at_ms;
    return r;
  }
  static FakeReplica Tombstone(Version version) {
    FakeReplica r;
    r.state = State::kTombstone;
    r.version = version;
    return r;
  }

  ReadReply Read() {
    reply_buffer = value;
    ReadReply r;
    r.found = state != State::kEmpty;
    r.tombstone = state == State::kTombstone;
    r.value = reply_buffer;
    r.version = version;
    r.expire_at_ms = expire_at_ms;
    return r;
  }

  // SET (or SET NX with only_if_absent): applied when newer than what is held.
  WriteReply Put(Version v, std::string_view new_value, bool only_if_absent = false) {
    reply_buffer = value;
    WriteReply r;
    r.previous_found = state == State::kLive;
    r.previous_value = r.previous_found ? std::string_view(reply_buffer) : std::string_view();
    r.previous_version = version;  // a tombstone's too; zero when empty
    r.previous_expire_at_ms = r.previous_found ? expire_at_ms : 0;
    if (only_if_absent && state == State::kLive) {
      r.condition_failed = true;
      return r;
    }
    if (v > version) {
      state = State::kLive;
      value = std::string(new_value);
      version = v;
      expire_at_ms = 0;
      r.applied = true;
    }
    return r;
  }

  // What read-repair sends: the newest entry as the coordinator saw it.
  void Repair(const ReadCoordinator& read) {
    if (read.best_version() <= version) return;
    state = read.best_tombstone() ? State::kTombstone : State::kLive;
    value = read.best_value();
    version = read.best_version();
    expire_at_ms = read.best_expire_at_ms();
  }
};

// ---- Consistency ---------------------------------------------------------------------------

TEST(ConsistencyTest, RequiredReplicas) {
  struct Row {
    int n, one, quorum, all;
  };
  for (const Row& row :
       {Row{1, 1, 1, 1}, Row{2, 1, 2, 2}, Row{3, 1, 2, 3}, Row{4, 1, 3, 4}, Row{5, 1, 3, 5}}) {
    EXPECT_EQ(RequiredReplicas(Consistency::kOne, row.n), row.one) << row.n;
    EXPECT_EQ(RequiredReplicas(Consistency::kQuorum, row.n), row.quorum) << row.n;
    EXPECT_EQ(RequiredReplicas(Consistency::kAll, row.n), row.all) << row.n;
  }
  for (Consistency level : kLevels) EXPECT_EQ(RequiredReplicas(level, 0), 1);
}

TEST(ConsistencyTest, QuorumReadsAndWritesOverlap) {
  for (int n = 1; n <= 8; ++n) {
    const int q = RequiredReplicas(Consistency::kQuorum, n);
    EXPECT_GT(q + q, n) << n;
    EXPECT_GT(RequiredReplicas(Consistency::kOne, n) + RequiredReplicas(Consistency::kAll, n), n);
  }
}

TEST(ConsistencyTest, ParseAnyCase) {
  EXPECT_EQ(ParseConsistency("one"), Consistency::kOne);
  EXPECT_EQ(ParseConsistency("ONE"), Consistency::kOne);
  EXPECT_EQ(ParseConsistency("oNe"), Consistency::kOne);
  EXPECT_EQ(ParseConsistency("quorum"), Consistency::kQuorum);
  EXPECT_EQ(ParseConsistency("QUORUM"), Consistency::kQuorum);
  EXPECT_EQ(ParseConsistency("Quorum"), Consistency::kQuorum);
  EXPECT_EQ(ParseConsistency("all"), Consistency::kAll);
  EXPECT_EQ(ParseConsistency("ALL"), Consistency::kAll);
}

TEST(ConsistencyTest, ParseRefusesOthers) {
  using namespace std::string_view_literals;
  for (std::string_view text : {""sv, "on"sv, "ones"sv, "two"sv, "quoru"sv, "quorums"sv, " all"sv,
                                "all "sv, "al"sv, "ALLL"sv, "1"sv, "majority"sv, "one\0"sv}) {
    EXPECT_EQ(ParseConsistency(text), std::nullopt) << "'" << text << "'";
  }
}

TEST(ConsistencyTest, NameRoundTrip) {
  EXPECT_EQ(ConsistencyName(Consistency::kOne), "ONE");
  EXPECT_EQ(ConsistencyName(Consistency::kQuorum), "QUORUM");
  EXPECT_EQ(ConsistencyName(Consistency::kAll), "ALL");
  for (Consistency level : kLevels) {
    EXPECT_EQ(ParseConsistency(ConsistencyName(level)), level);
  }
}

// ---- QuorumTally -------------------------------------------------------------------------------

TEST(QuorumTallyTest, AcksReachTheDecisionAtExactlyTheRequiredReply) {
  for (int n = 1; n <= 5; ++n) {
    for (Consistency level : kLevels) {
      const int required = RequiredReplicas(level, n);
      QuorumTally tally;
      tally.Start(n, required);
      EXPECT_EQ(tally.decision(), QuorumDecision::kPending);
      for (int i = 1; i <= n; ++i) {
        EXPECT_FALSE(tally.finished());
        const bool decided = tally.Ack();
        EXPECT_EQ(decided, i == required) << "n=" << n << " required=" << required << " ack " << i;
        EXPECT_EQ(tally.decision(),
                  i >= required ? QuorumDecision::kReached : QuorumDecision::kPending);
      }
      EXPECT_TRUE(tally.finished());
      EXPECT_EQ(tally.acks(), n);
      EXPECT_EQ(tally.fails(), 0);
      EXPECT_EQ(tally.n(), n);
      EXPECT_EQ(tally.required(), required);
    }
  }
}

TEST(QuorumTallyTest, FailuresBeyondNMinusRequiredDecideFailed) {
  for (int n = 1; n <= 5; ++n) {
    for (Consistency level : kLevels) {
      const int required = RequiredReplicas(level, n);
      QuorumTally tally;
      tally.Start(n, required);
      const int fatal = n - required + 1;  // the failure that makes `required` unreachable
      for (int i = 1; i <= n; ++i) {
        const bool decided = tally.Fail();
        EXPECT_EQ(decided, i == fatal) << "n=" << n << " required=" << required << " fail " << i;
        EXPECT_EQ(tally.decision(),
                  i >= fatal ? QuorumDecision::kFailed : QuorumDecision::kPending);
        EXPECT_EQ(tally.finished(), i == n);
      }
    }
  }
}

// Every sequence of outcomes (ack or failure per replica) for n = 1..5 at every level: the decision
// is taken exactly once, at the first reply that settles it, never changes afterwards, and is
// kReached exactly when at least `required` replicas acknowledged in total.
TEST(QuorumTallyTest, EveryOutcomeSequenceDecidesExactlyOnce) {
  for (int n = 1; n <= 5; ++n) {
    for (Consistency level : kLevels) {
      const int required = RequiredReplicas(level, n);
      for (unsigned mask = 0; mask < (1u << n); ++mask) {
        QuorumTally tally;
        tally.Start(n, required);
        int acks = 0, fails = 0, decisions = 0;
        std::optional<QuorumDecision> decided;
        for (int i = 0; i < n; ++i) {
          const bool ack = (mask >> i) & 1;
          const bool settles_now =
              !decided && (ack ? acks + 1 >= required : fails + 1 > n - required);
          ack ? ++acks : ++fails;
          const bool returned = ack ? tally.Ack() : tally.Fail();
          EXPECT_EQ(returned, settles_now) << "n=" << n << " mask=" << mask << " step " << i;
          if (returned) {
            ++decisions;
            decided = tally.decision();
          }
          if (decided) {
            EXPECT_EQ(tally.decision(), *decided) << "decision changed, mask=" << mask;
          } else {
            EXPECT_EQ(tally.decision(), QuorumDecision::kPending);
          }
          EXPECT_EQ(tally.finished(), i == n - 1);
        }
        EXPECT_EQ(decisions, 1) << "n=" << n << " mask=" << mask;
        EXPECT_EQ(tally.decision(),
                  acks >= required ? QuorumDecision::kReached : QuorumDecision::kFailed)
            << "n=" << n << " required=" << required << " mask=" << mask;
        EXPECT_EQ(tally.acks(), acks);
        EXPECT_EQ(tally.fails(), fails);
      }
    }
  }
}

TEST(QuorumTallyTest, FewerReplicasThanRequiredFailsAtStart) {
  QuorumTally tally;
  tally.Start(2, 3);
  EXPECT_EQ(tally.decision(), QuorumDecision::kFailed);
  EXPECT_FALSE(tally.Ack());
  EXPECT_FALSE(tally.Ack());
  EXPECT_EQ(tally.decision(), QuorumDecision::kFailed);
  EXPECT_TRUE(tally.finished());
}

TEST(QuorumTallyTest, StartResets) {
  QuorumTally tally;
  tally.Start(3, 2);
  tally.Ack();
  tally.Ack();
  tally.Fail();
  ASSERT_EQ(tally.decision(), QuorumDecision::kReached);
  tally.Start(3, 3);
  EXPECT_EQ(tally.decision(), QuorumDecision::kPending);
  EXPECT_EQ(tally.acks(), 0);
  EXPECT_EQ(tally.fails(), 0);
  EXPECT_FALSE(tally.finished());
  EXPECT_TRUE(tally.Fail());
  EXPECT_EQ(tally.decision(), QuorumDecision::kFailed);
}

// ---- ReadCoordinator ---------------------------------------------------------------------------

// Reads every replica in `order` through a coordinator needing `required` of them.
void ReadAll(ReadCoordinator& read, std::vector<FakeReplica>& replicas, int required,
             const std::vector<int>& order) {
  read.Start(static_cast<int>(replicas.size()), required);
  for (int i : order) read.OnReply(i, replicas[i].Read());
}

std::vector<int> Identity(size_t n) {
  std::vector<int> v(n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

TEST(ReadCoordinatorTest, NewestVersionWinsInAnyOrder) {
  std::vector<FakeReplica> replicas = {FakeReplica::Live("a100", V(100)),
                                       FakeReplica::Live("c300", V(300)),
                                       FakeReplica::Live("b200", V(200, 9))};
  std::vector<int> order = Identity(replicas.size());
  do {
    ReadCoordinator read;
    ReadAll(read, replicas, 3, order);
    EXPECT_TRUE(read.best_found());
    EXPECT_FALSE(read.best_tombstone());
    EXPECT_EQ(read.best_value(), "c300");
    EXPECT_EQ(read.best_version(), V(300));
    EXPECT_TRUE(read.BestIsLive(0));
  } while (std::next_permutation(order.begin(), order.end()));
}

TEST(ReadCoordinatorTest, WriterBreaksHlcTies) {
  std::vector<FakeReplica> replicas = {FakeReplica::Live("from-2", V(500, 2)),
                                       FakeReplica::Live("from-7", V(500, 7)),
                                       FakeReplica::Live("older-from-9", V(499, 9))};
  std::vector<int> order = Identity(replicas.size());
  do {
    ReadCoordinator read;
    ReadAll(read, replicas, 2, order);
    EXPECT_EQ(read.best_value(), "from-7");
    EXPECT_EQ(read.best_version(), V(500, 7));
  } while (std::next_permutation(order.begin(), order.end()));
}

TEST(ReadCoordinatorTest, NewestTombstoneMeansAbsent) {
  std::vector<FakeReplica> replicas = {FakeReplica::Live("old", V(100)),
                                       FakeReplica::Tombstone(V(200)), FakeReplica::Empty()};
  std::vector<int> order = Identity(replicas.size());
  do {
    ReadCoordinator read;
    ReadAll(read, replicas, 2, order);
    EXPECT_TRUE(read.best_found());
    EXPECT_TRUE(read.best_tombstone());
    EXPECT_EQ(read.best_value(), "");
    EXPECT_EQ(read.best_version(), V(200));
    EXPECT_FALSE(read.BestIsLive(0));
  } while (std::next_permutation(order.begin(), order.end()));
}

TEST(ReadCoordinatorTest, OlderTombstoneLosesToNewerValue) {
  std::vector<FakeReplica> replicas = {FakeReplica::Tombstone(V(100)),
                                       FakeReplica::Live("reborn", V(150))};
  for (const auto& order : {std::vector<int>{0, 1}, std::vector<int>{1, 0}}) {
    ReadCoordinator read;
    ReadAll(read, replicas, 2, order);
    EXPECT_FALSE(read.best_tombstone());
    EXPECT_EQ(read.best_value(), "reborn");
    EXPECT_TRUE(read.BestIsLive(0));
  }
}

TEST(ReadCoordinatorTest, ExpiryIsJudgedAtTheGivenTime) {
  std::vector<FakeReplica> replicas = {FakeReplica::Live("v", V(100), /*expire_at_ms=*/1000)};
  ReadCoordinator read;
  ReadAll(read, replicas, 1, {0});
  EXPECT_EQ(read.best_expire_at_ms(), 1000);
  EXPECT_TRUE(read.BestIsLive(0));
  EXPECT_TRUE(read.BestIsLive(999));
  EXPECT_FALSE(read.BestIsLive(1000));
  EXPECT_FALSE(read.BestIsLive(1001));
}

TEST(ReadCoordinatorTest, ExpiredNewestIsNotResurrectedByAnOlderValue) {
  // The newest write expired; an older replica still holds a value without expiry.
  std::vector<FakeReplica> replicas = {FakeReplica::Live("stale", V(100)),
                                       FakeReplica::Live("newest", V(200), 5000)};
  for (const auto& order : {std::vector<int>{0, 1}, std::vector<int>{1, 0}}) {
    ReadCoordinator read;
    ReadAll(read, replicas, 2, order);
    EXPECT_EQ(read.best_value(), "newest");
    EXPECT_TRUE(read.BestIsLive(4999));
    EXPECT_FALSE(read.BestIsLive(5000));
  }
}

TEST(ReadCoordinatorTest, NothingFoundAnywhere) {
  std::vector<FakeReplica> replicas(3);
  ReadCoordinator read;
  ReadAll(read, replicas, 2, {0, 1, 2});
  EXPECT_EQ(read.decision(), QuorumDecision::kReached);
  EXPECT_TRUE(read.finished());
  EXPECT_FALSE(read.best_found());
  EXPECT_FALSE(read.BestIsLive(0));
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(read.NeedsRepair(i)) << i;
}

TEST(ReadCoordinatorTest, ValueIsCopiedOutOfTheReplyBuffer) {
  std::string buffer = "first-value";
  ReadReply reply;
  reply.found = true;
  reply.value = buffer;
  reply.version = V(10);
  ReadCoordinator read;
  read.Start(2, 1);
  read.OnReply(0, reply);
  buffer.replace(0, buffer.size(), "XXXXXXXXXXX");  // same size, same storage, new bytes
  EXPECT_EQ(read.best_value(), "first-value");

  // A newer reply read from the same, reused buffer replaces it and is copied too.
  buffer = "second";
  reply.value = buffer;
  reply.version = V(11);
  read.OnReply(1, reply);
  buffer.assign("######");
  EXPECT_EQ(read.best_value(), "second");
}

TEST(ReadCoordinatorTest, ValueSurvivesTheReplicaReusingItsBuffer) {
  std::vector<FakeReplica> replicas = {FakeReplica::Live("newest-value", V(9)),
                                       FakeReplica::Live("old", V(3))};
  ReadCoordinator read;
  read.Start(2, 2);
  read.OnReply(0, replicas[0].Read());
  replicas[0].value = "zzzzzzzzzzzz";
  replicas[0].Read();  // overwrites the bytes the first reply pointed to
  read.OnReply(1, replicas[1].Read());
  EXPECT_EQ(read.best_value(), "newest-value");
}

TEST(ReadCoordinatorTest, DecidesAtRAndLateRepliesStillCount) {
  // N=3, R=2: the first two replicas answer an old value; the third, late, has the newest.
  std::vector<FakeReplica> replicas = {FakeReplica::Live("old", V(100)),
                                       FakeReplica::Live("old", V(100)),
                                       FakeReplica::Live("new", V(200))};
  ReadCoordinator read;
  read.Start(3, RequiredReplicas(Consistency::kQuorum, 3));
  EXPECT_FALSE(read.OnReply(0, replicas[0].Read()));
  EXPECT_EQ(read.decision(), QuorumDecision::kPending);
  EXPECT_TRUE(read.OnReply(1, replicas[1].Read()));
  EXPECT_EQ(read.decision(), QuorumDecision::kReached);
  EXPECT_EQ(read.best_value(), "old");  // what the client is answered
  EXPECT_FALSE(read.finished());

  EXPECT_FALSE(read.OnReply(2, replicas[2].Read()));  // late: does not decide again...
  EXPECT_EQ(read.decision(), QuorumDecision::kReached);
  EXPECT_TRUE(read.finished());
  EXPECT_EQ(read.best_value(), "new");  // ...but is compared
  EXPECT_EQ(read.best_version(), V(200));
  EXPECT_TRUE(read.NeedsRepair(0));
  EXPECT_TRUE(read.NeedsRepair(1));
  EXPECT_FALSE(read.NeedsRepair(2));
}

TEST(ReadCoordinatorTest, RepairTargets) {
  // 0: newest; 1: older; 2: nothing; 3: same as newest; 4: timed out.
  std::vector<FakeReplica> replicas = {
      FakeReplica::Live("new", V(200, 3)), FakeReplica::Live("old", V(200, 2)),
      FakeReplica::Empty(), FakeReplica::Live("new", V(200, 3)), FakeReplica::Live("new", V(1))};
  ReadCoordinator read;
  read.Start(5, 3);
  read.OnReply(2, replicas[2].Read());
  read.OnReply(0, replicas[0].Read());
  EXPECT_FALSE(read.OnFailure(4));
  read.OnReply(1, replicas[1].Read());
  read.OnReply(3, replicas[3].Read());
  ASSERT_TRUE(read.finished());
  EXPECT_EQ(read.decision(), QuorumDecision::kReached);
  EXPECT_FALSE(read.NeedsRepair(0));
  EXPECT_TRUE(read.NeedsRepair(1));
  EXPECT_TRUE(read.NeedsRepair(2));
  EXPECT_FALSE(read.NeedsRepair(3));
  EXPECT_FALSE(read.NeedsRepair(4));  // failed: nothing known about it

  // Repairing the targets converges: a second read finds nothing to repair.
  for (int i = 0; i < 5; ++i) {
    if (read.NeedsRepair(i)) replicas[i].Repair(read);
  }
  ReadCoordinator again;
  again.Start(4, 4);
  for (int i = 0; i < 4; ++i) again.OnReply(i, replicas[i].Read());
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(again.NeedsRepair(i)) << i;
  EXPECT_EQ(replicas[1].value, "new");
  EXPECT_EQ(replicas[2].value, "new");
}

TEST(ReadCoordinatorTest, TombstoneIsRepairedOntoOlderReplicas) {
  std::vector<FakeReplica> replicas = {FakeReplica::Live("old", V(100)),
                                       FakeReplica::Tombstone(V(200)),
                                       FakeReplica::Tombstone(V(200))};
  ReadCoordinator read;
  ReadAll(read, replicas, 2, {0, 1, 2});
  EXPECT_TRUE(read.NeedsRepair(0));
  EXPECT_FALSE(read.NeedsRepair(1));
  EXPECT_FALSE(read.NeedsRepair(2));
  replicas[0].Repair(read);
  EXPECT_EQ(replicas[0].state, FakeReplica::State::kTombstone);
}

TEST(ReadCoordinatorTest, FailuresDecideFailedAndLateRepliesStillCompare) {
  std::vector<FakeReplica> replicas = {FakeReplica::Live("a", V(5)), FakeReplica::Empty(),
                                       FakeReplica::Empty()};
  ReadCoordinator read;
  read.Start(3, 2);
  EXPECT_FALSE(read.OnFailure(1));
  EXPECT_EQ(read.decision(), QuorumDecision::kPending);
  EXPECT_TRUE(read.OnFailure(2));
  EXPECT_EQ(read.decision(), QuorumDecision::kFailed);
  EXPECT_FALSE(read.finished());
  EXPECT_FALSE(read.OnReply(0, replicas[0].Read()));
  EXPECT_EQ(read.decision(), QuorumDecision::kFailed);
  EXPECT_TRUE(read.finished());
  EXPECT_EQ(read.best_value(), "a");
  EXPECT_FALSE(read.NeedsRepair(0));
  EXPECT_FALSE(read.NeedsRepair(1));
  EXPECT_FALSE(read.NeedsRepair(2));
}

TEST(ReadCoordinatorTest, StartForgetsThePreviousRead) {
  std::vector<FakeReplica> first = {FakeReplica::Live("x", V(50), 77), FakeReplica::Empty()};
  ReadCoordinator read;
  ReadAll(read, first, 1, {0, 1});
  ASSERT_TRUE(read.NeedsRepair(1));
  read.Start(2, 1);
  EXPECT_EQ(read.decision(), QuorumDecision::kPending);
  EXPECT_FALSE(read.best_found());
  EXPECT_FALSE(read.best_tombstone());
  EXPECT_EQ(read.best_value(), "");
  EXPECT_EQ(read.best_version(), Version{});
  EXPECT_EQ(read.best_expire_at_ms(), 0);
  EXPECT_FALSE(read.NeedsRepair(0));
  EXPECT_FALSE(read.NeedsRepair(1));
  // An older entry than the previous read's best is now the best.
  std::vector<FakeReplica> second = {FakeReplica::Live("y", V(10)), FakeReplica::Empty()};
  read.OnReply(0, second[0].Read());
  EXPECT_EQ(read.best_value(), "y");
  EXPECT_EQ(read.best_version(), V(10));
}

// ---- WriteCoordinator --------------------------------------------------------------------------

TEST(WriteCoordinatorTest, CountsAppliedAndConditionFailed) {
  // SET NX across three replicas that disagree about whether the key exists.
  std::vector<FakeReplica> replicas = {FakeReplica::Empty(), FakeReplica::Live("held", V(10)),
                                       FakeReplica::Tombstone(V(20))};
  WriteCoordinator write;
  write.Start(3, 2, /*keep_previous_value=*/false);
  EXPECT_FALSE(write.OnReply(0, replicas[0].Put(V(30), "new", true)));
  EXPECT_TRUE(write.OnReply(1, replicas[1].Put(V(30), "new", true)));
  EXPECT_EQ(write.decision(), QuorumDecision::kReached);
  EXPECT_FALSE(write.OnReply(2, replicas[2].Put(V(30), "new", true)));
  EXPECT_TRUE(write.finished());
  EXPECT_EQ(write.applied(), 2);
  EXPECT_EQ(write.condition_failed(), 1);
}

TEST(WriteCoordinatorTest, StaleWriteIsNotApplied) {
  std::vector<FakeReplica> replicas = {FakeReplica::Live("newer", V(100)),
                                       FakeReplica::Live("older", V(10))};
  WriteCoordinator write;
  write.Start(2, 2, false);
  write.OnReply(0, replicas[0].Put(V(50), "mid"));
  write.OnReply(1, replicas[1].Put(V(50), "mid"));
  EXPECT_EQ(write.decision(), QuorumDecision::kReached);
  EXPECT_EQ(write.applied(), 1);
  EXPECT_EQ(write.condition_failed(), 0);
}

TEST(WriteCoordinatorTest, NewestPreviousEntryWinsInAnyOrder) {
  std::vector<FakeReplica> base = {FakeReplica::Live("old", V(100), 999),
                                   FakeReplica::Live("newest", V(300), 4242),
                                   FakeReplica::Live("middle", V(200)), FakeReplica::Empty()};
  std::vector<int> order = Identity(base.size());
  do {
    std::vector<FakeReplica> replicas = base;
    WriteCoordinator write;
    write.Start(4, 3, /*keep_previous_value=*/true);
    for (int i : order) write.OnReply(i, replicas[i].Put(V(400), "x"));
    EXPECT_TRUE(write.previous_found());
    EXPECT_EQ(write.previous_value(), "newest");
    EXPECT_EQ(write.previous_expire_at_ms(), 4242);
    EXPECT_EQ(write.applied(), 4);
  } while (std::next_permutation(order.begin(), order.end()));
}

TEST(WriteCoordinatorTest, NewerTombstoneBeatsOlderLiveValue) {
  // Replica 1 deleted the key after replica 0 last heard of it: the previous value is "absent"
  // (e.g. SET GET answers nil), whatever the order of the replies.
  std::vector<FakeReplica> base = {FakeReplica::Live("stale", V(100), 55),
                                   FakeReplica::Tombstone(V(200)), FakeReplica::Empty()};
  std::vector<int> order = Identity(base.size());
  do {
    std::vector<FakeReplica> replicas = base;
    WriteCoordinator write;
    write.Start(3, 2, true);
    for (int i : order) write.OnReply(i, replicas[i].Put(V(300), "x"));
    EXPECT_FALSE(write.previous_found());
    EXPECT_EQ(write.previous_value(), "");
    EXPECT_EQ(write.previous_expire_at_ms(), 0);
  } while (std::next_permutation(order.begin(), order.end()));
}

TEST(WriteCoordinatorTest, OlderLiveValueBeatsNothing) {
  std::vector<FakeReplica> base = {FakeReplica::Empty(), FakeReplica::Live("only", V(7)),
                                   FakeReplica::Empty()};
  std::vector<int> order = Identity(base.size());
  do {
    std::vector<FakeReplica> replicas = base;
    WriteCoordinator write;
    write.Start(3, 2, true);
    for (int i : order) write.OnReply(i, replicas[i].Put(V(8), "x"));
    EXPECT_TRUE(write.previous_found());
    EXPECT_EQ(write.previous_value(), "only");
  } while (std::next_permutation(order.begin(), order.end()));
}

TEST(WriteCoordinatorTest, AtEqualVersionsALiveValueOutranksAbsence) {
  WriteReply absent;
  absent.previous_found = false;
  absent.previous_version = V(40);
  WriteReply live;
  live.previous_found = true;
  live.previous_value = "here";
  live.previous_version = V(40);
  for (bool live_first : {true, false}) {
    WriteCoordinator write;
    write.Start(2, 1, true);
    write.OnReply(0, live_first ? live : absent);
    write.OnReply(1, live_first ? absent : live);
    EXPECT_TRUE(write.previous_found()) << live_first;
    EXPECT_EQ(write.previous_value(), "here") << live_first;
  }
}

TEST(WriteCoordinatorTest, PreviousValueIsKeptOnlyWhenAsked) {
  for (bool keep : {false, true}) {
    std::vector<FakeReplica> replicas = {FakeReplica::Live("previous", V(10), 123)};
    WriteCoordinator write;
    write.Start(1, 1, keep);
    EXPECT_TRUE(write.OnReply(0, replicas[0].Put(V(11), "next")));
    EXPECT_TRUE(write.previous_found());
    EXPECT_EQ(write.previous_expire_at_ms(), 123);
    EXPECT_EQ(write.previous_value(), keep ? "previous" : "") << keep;
  }
}

TEST(WriteCoordinatorTest, PreviousValueIsCopiedOutOfTheReplyBuffer) {
  std::vector<FakeReplica> replicas = {FakeReplica::Live("before", V(10)),
                                       FakeReplica::Live("older", V(5))};
  WriteCoordinator write;
  write.Start(2, 2, true);
  write.OnReply(0, replicas[0].Put(V(11), "after"));
  replicas[0].Put(V(12), "zzzzzz");  // overwrites the buffer the first reply pointed to
  write.OnReply(1, replicas[1].Put(V(11), "after"));
  EXPECT_EQ(write.previous_value(), "before");
}

TEST(WriteCoordinatorTest, FailuresDecideFailed) {
  std::vector<FakeReplica> replicas(3);
  WriteCoordinator write;
  write.Start(3, 3, false);  // ALL
  EXPECT_FALSE(write.OnReply(0, replicas[0].Put(V(1), "v")));
  EXPECT_TRUE(write.OnFailure(1));
  EXPECT_EQ(write.decision(), QuorumDecision::kFailed);
  EXPECT_FALSE(write.OnReply(2, replicas[2].Put(V(1), "v")));
  EXPECT_EQ(write.decision(), QuorumDecision::kFailed);
  EXPECT_TRUE(write.finished());
  EXPECT_EQ(write.applied(), 2);  // stored on some replicas even though the write failed
}

TEST(WriteCoordinatorTest, StartResets) {
  std::vector<FakeReplica> replicas = {FakeReplica::Live("p", V(3), 9)};
  WriteCoordinator write;
  write.Start(1, 1, true);
  write.OnReply(0, replicas[0].Put(V(4), "q"));
  ASSERT_TRUE(write.previous_found());
  write.Start(2, 1, true);
  EXPECT_EQ(write.decision(), QuorumDecision::kPending);
  EXPECT_EQ(write.applied(), 0);
  EXPECT_EQ(write.condition_failed(), 0);
  EXPECT_FALSE(write.previous_found());
  EXPECT_EQ(write.previous_value(), "");
  EXPECT_EQ(write.previous_expire_at_ms(), 0);
  // An older previous entry than the last operation's is taken now.
  WriteReply r;
  r.previous_found = true;
  r.previous_value = "older";
  r.previous_version = V(1);
  write.OnReply(0, r);
  EXPECT_TRUE(write.previous_found());
  EXPECT_EQ(write.previous_value(), "older");
}

}  // namespace
}  // namespace shoal::proxy
